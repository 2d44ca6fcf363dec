"""What notify and track_run receive: `sagechain` events and SageMaker's own state changes.

SageMaker's events are shaped by AWS, not by the Describe* APIs ("Events that Amazon
SageMaker AI sends to Amazon EventBridge",
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html,
and the Ground Truth page "Use Amazon EventBridge in Ground Truth"):

- SageMaker Ground Truth Labeling Job State Change: the detail is only `LabelingJobStatus`
  (`Completed`, `Failed`, `Stopped`, ...); the job is named by `resources[0]`, its ARN.
- SageMaker Training Job State Change: `TrainingJobName`, `TrainingJobArn`,
  `TrainingJobStatus` (`InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`), `Tags` as a map.
- SageMaker HyperParameter Tuning Job State Change: `HyperParameterTuningJobName`, `...Arn`,
  `HyperParameterTuningJobStatus` spelled as the training job's, `Tags` as a map.
- SageMaker Endpoint State Change: `EndpointName`, `EndpointArn`, `EndpointConfigName`, `Tags`,
  and `EndpointStatus` in upper snake case (`IN_SERVICE`, `UPDATING`, `FAILED`), not `InService`.

Statuses are kept here in the Describe* spelling (`InService`), whatever the event said.
SageMaker may send several events for one state change, and the AWS samples write
timestamps either as ISO 8601 or as epoch milliseconds.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sagechain.models.events import EVENT_SOURCE, SAGECHAIN_EVENTS, SagechainEvent

SAGEMAKER_SOURCE = "aws.sagemaker"


class JobKind(StrEnum):
    """A SageMaker resource sagechain follows; the value is its ARN resource type."""

    LABELING = "labeling-job"
    TRAINING = "training-job"
    TUNING = "hyper-parameter-tuning-job"
    ENDPOINT = "endpoint"

    @property
    def label(self) -> str:
        """How an email or the history names the kind."""
        return _KIND_LABELS[self]

    @property
    def console_kind(self) -> str:
        """The SageMaker console's path segment for this kind (adapters.sagemaker.console_url)."""
        return _CONSOLE_KINDS[self]


_KIND_LABELS = {
    JobKind.LABELING: "Labeling job",
    JobKind.TRAINING: "Training job",
    JobKind.TUNING: "Tuning job",
    JobKind.ENDPOINT: "Endpoint",
}
_CONSOLE_KINDS = {
    JobKind.LABELING: "labeling-jobs",
    JobKind.TRAINING: "jobs",
    JobKind.TUNING: "hyper-tuning-jobs",
    JobKind.ENDPOINT: "endpoints",
}

# Statuses that end a job or put an endpoint out of use: the ones notify emails.
FAILED, STOPPED = "Failed", "Stopped"
ALARMING_STATUSES = frozenset({FAILED, STOPPED})


def api_status(status: str) -> str:
    """A status in the Describe* spelling: IN_SERVICE -> InService; InService stays."""
    if "_" in status or status.isupper():
        return "".join(part.capitalize() for part in status.split("_") if part)
    return status


def _tags_as_map(value: object) -> object:
    # AWS's samples carry Tags as a map; accept the API's [{"Key", "Value"}] list too.
    if isinstance(value, list):
        return {str(tag.get("Key")): str(tag.get("Value")) for tag in value if isinstance(tag, dict)}
    return value or {}


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")
    failure_reason: str | None = Field(default=None, alias="FailureReason")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> object:
        return _tags_as_map(value)


class _LabelingDetail(_Detail):
    status: str = Field(alias="LabelingJobStatus")


class _TrainingDetail(_Detail):
    name: str = Field(alias="TrainingJobName")
    arn: str = Field(alias="TrainingJobArn")
    status: str = Field(alias="TrainingJobStatus")
    tuning_job_arn: str | None = Field(default=None, alias="TuningJobArn")


class _TuningDetail(_Detail):
    name: str = Field(alias="HyperParameterTuningJobName")
    arn: str = Field(alias="HyperParameterTuningJobArn")
    status: str = Field(alias="HyperParameterTuningJobStatus")


class _PendingDeployment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint_config_name: str | None = Field(default=None, alias="EndpointConfigName")


class _EndpointDetail(_Detail):
    name: str = Field(alias="EndpointName")
    arn: str = Field(alias="EndpointArn")
    status: str = Field(alias="EndpointStatus")
    config_name: str | None = Field(default=None, alias="EndpointConfigName")
    pending: _PendingDeployment | None = Field(default=None, alias="PendingDeploymentSummary")


class StateChange(BaseModel):
    """One SageMaker state change of a labeling, training or tuning job or an endpoint."""

    model_config = ConfigDict(frozen=True)

    kind: JobKind
    name: str
    arn: str
    status: str
    at: datetime
    failure_reason: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Endpoints: the configuration being deployed (pending, else current); its tags name the run.
    endpoint_config_name: str | None = None
    # Training jobs a tuning job launched (its trials).
    tuning_job_arn: str | None = None

    @property
    def about(self) -> str:
        """What the change is about, for idempotency keys and history: kind, name, status.

        An endpoint's name outlives its deployments (every run of a dataset deploys to it),
        so its changes also name the configuration: a later deployment's failure is a new fact.
        """
        if self.kind is JobKind.ENDPOINT and self.endpoint_config_name:
            return f"{self.kind.value}#{self.name}#{self.endpoint_config_name}#{self.status}"
        return f"{self.kind.value}#{self.name}#{self.status}"

    @property
    def endpoint_config_arn(self) -> str | None:
        """The deployed configuration's ARN, built from the endpoint's."""
        if self.kind is not JobKind.ENDPOINT or not self.endpoint_config_name:
            return None
        head = self.arn.rsplit(":", 1)[0]
        return f"{head}:endpoint-config/{self.endpoint_config_name.lower()}"


class SagechainDelivery(BaseModel):
    """A `sagechain` event with the time EventBridge stamped on it."""

    model_config = ConfigDict(frozen=True)

    event: SagechainEvent
    at: datetime

    @property
    def about(self) -> str:
        """What the event is about: its type and run (each stage emits one per run)."""
        return f"{self.event.DETAIL_TYPE}#{self.event.run_id}"


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


_SAGECHAIN_BY_TYPE = {cls.DETAIL_TYPE: cls for cls in SAGECHAIN_EVENTS}


def _labeling(envelope: _Envelope) -> StateChange | None:
    detail = _LabelingDetail.model_validate(envelope.detail)
    if not envelope.resources:
        return None
    arn = envelope.resources[0]
    return StateChange(
        kind=JobKind.LABELING,
        name=arn.rsplit("/", 1)[-1],
        arn=arn,
        status=api_status(detail.status),
        at=envelope.time,
        failure_reason=detail.failure_reason,
        tags=detail.tags,
    )


def _training(envelope: _Envelope) -> StateChange:
    detail = _TrainingDetail.model_validate(envelope.detail)
    return StateChange(
        kind=JobKind.TRAINING,
        name=detail.name,
        arn=detail.arn,
        status=api_status(detail.status),
        at=envelope.time,
        failure_reason=detail.failure_reason,
        tags=detail.tags,
        tuning_job_arn=detail.tuning_job_arn,
    )


def _tuning(envelope: _Envelope) -> StateChange:
    detail = _TuningDetail.model_validate(envelope.detail)
    return StateChange(
        kind=JobKind.TUNING,
        name=detail.name,
        arn=detail.arn,
        status=api_status(detail.status),
        at=envelope.time,
        failure_reason=detail.failure_reason,
        tags=detail.tags,
    )


def _endpoint(envelope: _Envelope) -> StateChange:
    detail = _EndpointDetail.model_validate(envelope.detail)
    pending = detail.pending.endpoint_config_name if detail.pending else None
    return StateChange(
        kind=JobKind.ENDPOINT,
        name=detail.name,
        arn=detail.arn,
        status=api_status(detail.status),
        at=envelope.time,
        failure_reason=detail.failure_reason,
        tags=detail.tags,
        endpoint_config_name=pending or detail.config_name,
    )


_STATE_CHANGES = {
    "SageMaker Ground Truth Labeling Job State Change": _labeling,
    "SageMaker Training Job State Change": _training,
    "SageMaker HyperParameter Tuning Job State Change": _tuning,
    "SageMaker Endpoint State Change": _endpoint,
}


def parse_bus_event(event: Mapping[str, Any]) -> SagechainDelivery | StateChange | None:
    """A delivered EventBridge event as what it is about, or None for a kind sagechain does not follow."""
    envelope = _Envelope.model_validate(event)
    if envelope.source == EVENT_SOURCE:
        event_class = _SAGECHAIN_BY_TYPE.get(envelope.detail_type)
        if event_class is None:
            return None
        return SagechainDelivery(event=event_class.model_validate(envelope.detail), at=envelope.time)
    if envelope.source == SAGEMAKER_SOURCE:
        parse = _STATE_CHANGES.get(envelope.detail_type)
        return parse(envelope) if parse else None
    return None


# ---------------------------------------------------------------- what Describe* adds


class TrainingJobFacts(BaseModel):
    """DescribeTrainingJob, as far as a person needs it."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str
    secondary_status: str | None = None
    failure_reason: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    spot: bool = False
    training_seconds: int | None = None
    billable_seconds: int | None = None
    tuning_job_arn: str | None = None
    final_metrics: dict[str, float] = Field(default_factory=dict)

    @property
    def spot_savings_percent(self) -> float | None:
        """AWS's formula (DescribeTrainingJob, BillableTimeInSeconds): (1 - billable / training) * 100."""
        if not self.spot or not self.training_seconds or self.billable_seconds is None:
            return None
        return round((1 - self.billable_seconds / self.training_seconds) * 100, 1)


class LabelingJobFacts(BaseModel):
    """DescribeLabelingJob: status, reason and the label counters."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    counters: dict[str, int] = Field(default_factory=dict)


class TuningJobFacts(BaseModel):
    """DescribeHyperParameterTuningJob: status, reason, trial counters and the best trial."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    counters: dict[str, int] = Field(default_factory=dict)
    best_training_job: str | None = None
    best_metric_name: str | None = None
    best_metric_value: float | None = None


class EndpointFacts(BaseModel):
    """DescribeEndpoint: status, reason, configuration and the variant's instances."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    config_name: str | None = None
    variant_name: str | None = None
    instance_count: int | None = None
    updated_at: datetime | None = None


class ScalingRange(BaseModel):
    """An endpoint variant's registered autoscaling range (DescribeScalableTargets)."""

    model_config = ConfigDict(frozen=True)

    min_instances: int
    max_instances: int
