"""Events in and out: S3 Object Created (both delivery forms) and the `sagechain` events.

Key encoding differs by trigger. EventBridge `aws.s3` events carry the object key as S3
stores it. Classic S3 notifications (S3 -> Lambda/SQS/SNS) URL-encode it form-style, a
space arriving as '+'. Only the classic form is decoded, so a key holding '+' or '%'
survives an EventBridge delivery untouched.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

EVENT_SOURCE = "sagechain"


class ObjectRef(BaseModel):
    """One created S3 object: the key exactly as S3 stores it, and its version or ETag."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @property
    def version(self) -> str | None:
        """What tells two uploads of one key apart: the version id, else the ETag."""
        return self.version_id or self.etag

    @property
    def uri(self) -> str:
        """s3://bucket/key with the key as stored."""
        return f"s3://{self.bucket}/{self.key}"


class _EventBridgeS3Object(BaseModel):
    key: str
    size: int | None = None
    # AWS documents `etag`; accept `eTag` too (classic notifications' spelling, and moto's).
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag"))
    version_id: str | None = Field(default=None, alias="version-id")


class _EventBridgeS3Detail(BaseModel):
    bucket: dict[str, Any]
    object: _EventBridgeS3Object


class _EventBridgeS3Event(BaseModel):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: _EventBridgeS3Detail


class _ClassicS3Object(BaseModel):
    key: str
    size: int | None = None
    e_tag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")


class _ClassicS3Entity(BaseModel):
    bucket: dict[str, Any]
    object: _ClassicS3Object


class _ClassicS3Record(BaseModel):
    event_name: str = Field(alias="eventName")
    s3: _ClassicS3Entity


def objects_created(event: Mapping[str, Any]) -> list[ObjectRef]:
    """The objects an Object Created event is about, from either delivery form."""
    if "detail-type" in event:
        parsed = _EventBridgeS3Event.model_validate(event)
        obj = parsed.detail.object
        return [
            ObjectRef(
                bucket=str(parsed.detail.bucket["name"]),
                key=obj.key,
                version_id=obj.version_id,
                etag=obj.etag,
                size=obj.size,
            )
        ]
    refs = []
    for raw in event.get("Records", []):
        record = _ClassicS3Record.model_validate(raw)
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        classic = record.s3.object
        refs.append(
            ObjectRef(
                bucket=str(record.s3.bucket["name"]),
                key=unquote_plus(classic.key),
                version_id=classic.version_id,
                etag=classic.e_tag,
                size=classic.size,
            )
        )
    return refs


class SagechainEvent(BaseModel):
    """Base of the details sagechain puts on the bus (source `sagechain`)."""

    model_config = ConfigDict(frozen=True)
    DETAIL_TYPE: ClassVar[str]

    run_id: str
    dataset: str


class LabelingCostEstimate(BaseModel):
    """What Ground Truth will charge for a run, before it starts."""

    model_config = ConfigDict(frozen=True)

    objects: int
    per_object_fees_usd: Decimal
    workforce_fees_usd: Decimal
    total_usd: Decimal


class DatasetPrepared(SagechainEvent):
    """The dataset is valid and its manifest is written."""

    DETAIL_TYPE: ClassVar[str] = "Dataset Prepared"

    task: str
    labeling_mode: str
    manifest_uri: str
    spec_uri: str
    source_uri: str
    objects: int
    skipped: dict[str, int]
    label_counts: dict[str, int] | None = None
    cost_estimate: LabelingCostEstimate | None = None


class DatasetRejected(SagechainEvent):
    """The dataset cannot become a run; it is kept as uploaded."""

    DETAIL_TYPE: ClassVar[str] = "Dataset Rejected"

    reason: str
    source_uri: str
    dataset_uri: str
    skipped: dict[str, int] = Field(default_factory=dict)
    cost_estimate: LabelingCostEstimate | None = None


# ---------------------------------------------------------------- later stages
# The contract between stages and with notify/track_run: each stage emits these.


class LabelingStarted(SagechainEvent):
    """A Ground Truth labeling job was created (or already existed) for the run."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Started"

    job_name: str
    task: str
    objects: int
    workforce: Literal["private", "vendor", "public"]
    auto_labeling: bool
    console_url: str
    output_uri: str
    cost_estimate: LabelingCostEstimate | None = None
    # Set when the spec asked for automated data labeling and the job runs without it.
    auto_labeling_refused_reason: str | None = None


class TrainingStarted(SagechainEvent):
    """Training (one job, several sibling jobs, or one tuning job) was started for the run."""

    DETAIL_TYPE: ClassVar[str] = "Training Started"

    job_names: list[str]
    tuning_job_name: str | None = None
    algorithm: str
    instance_type: str
    instance_count: int
    spot: bool
    train_objects: int
    validation_objects: int
    dropped: dict[str, int] = Field(default_factory=dict)
    console_urls: list[str] = Field(default_factory=list)


class TrainingSkipped(SagechainEvent):
    """Nothing was trained, and why (e.g. the labeling job labeled nothing)."""

    DETAIL_TYPE: ClassVar[str] = "Training Skipped"

    reason: str
    labeling_job_name: str | None = None


class DeploymentStarted(SagechainEvent):
    """A model passed the quality gate and its endpoint is being created or updated."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Started"

    endpoint_name: str
    model_name: str
    endpoint_config_name: str
    training_job_name: str
    action: Literal["create", "update"]
    instance_type: str
    metric_name: str | None = None
    metric_value: float | None = None
    console_url: str


class DeploymentRejected(SagechainEvent):
    """The quality gate kept a model from replacing what is live (or from going live)."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Rejected"

    training_job_name: str
    reason: str
    metric_name: str | None = None
    metric_value: float | None = None
    minimum: float | None = None
    live_value: float | None = None


class DeploymentFailed(SagechainEvent):
    """The endpoint could not be created or updated."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Failed"

    endpoint_name: str
    reason: str
    console_url: str


class ModelLive(SagechainEvent):
    """The endpoint is in service with autoscaling; the predict URL works."""

    DETAIL_TYPE: ClassVar[str] = "Model Live"

    endpoint_name: str
    model_name: str
    instance_type: str
    min_instances: int
    max_instances: int
    predict_url: str
    console_url: str


SAGECHAIN_EVENTS: tuple[type[SagechainEvent], ...] = (
    DatasetPrepared,
    DatasetRejected,
    LabelingStarted,
    TrainingStarted,
    TrainingSkipped,
    DeploymentStarted,
    DeploymentRejected,
    DeploymentFailed,
    ModelLive,
)


def events_schema_document() -> str:
    """JSON Schemas of every `sagechain` event's detail, keyed by detail-type (docs/events.schema.json)."""
    import json  # noqa: PLC0415 - only the schema export needs it

    schemas = {event.DETAIL_TYPE: event.model_json_schema(mode="serialization") for event in SAGECHAIN_EVENTS}
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "sagechain events (EventBridge source 'sagechain'): detail by detail-type",
        "detail_types": schemas,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(events_schema_document(), end="")
