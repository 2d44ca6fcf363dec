"""SageMaker's own state-change events, as AWS sends them to EventBridge: the one place that knows.

Shapes from "Events that Amazon SageMaker AI sends to Amazon EventBridge"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html)
and the Ground Truth page "Use Amazon EventBridge in Ground Truth":

- SageMaker Ground Truth Labeling Job State Change: the detail is only `LabelingJobStatus`
  (`Completed`, `Failed`, `Stopped`, ...); the job is named by `resources[0]`, its ARN.
- SageMaker Training Job State Change: `TrainingJobName`, `TrainingJobArn`,
  `TrainingJobStatus` (`InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`); no metrics.
- SageMaker HyperParameter Tuning Job State Change: `HyperParameterTuningJobName`, `...Arn`,
  `HyperParameterTuningJobStatus` spelled as the training job's; no best training job.
- SageMaker Endpoint State Change: `EndpointName`, `EndpointArn`, `EndpointConfigName`, and
  `EndpointStatus` in upper snake case (`IN_SERVICE`, `UPDATING`, `FAILED`), not `InService`;
  its EndpointArn lower-cases the name, so the name is taken from EndpointName. During an
  update `PendingDeploymentSummary.EndpointConfigName` names the configuration being deployed.
- SageMaker Transform Job State Change: the DescribeTransformJob shape, `TransformJobName`,
  `TransformJobArn`, `TransformJobStatus` (`InProgress`, `Completed`, `Failed`, `Stopping`,
  `Stopped`), `FailureReason`, `TransformOutput`, `Tags` (the EventBridge schema registry's
  aws.sagemaker@SageMakerTransformJobStateChange; API_TransformJobSummary.html for the statuses).
- `Tags` is an empty map in every documented example, while the EventBridge schema registry
  types it as a list of {Key, Value}: both forms are read.

Statuses are kept in the Describe* spelling (`InService`), whatever the event said, and
normalized_status() compares any two spellings. SageMaker may send several events for one
state change, and the AWS samples write timestamps either as ISO 8601 or as epoch
milliseconds. Parsing ignores fields AWS may add and insists only on what a stage uses.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from sagechain.event_sources.drops import (
    SAGEMAKER_ARN_MAX,
    SAGEMAKER_NAME_MAX,
    drop,
    fits,
    invalid,
    truncated,
)

SAGEMAKER_SOURCE = "aws.sagemaker"
LABELING_DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
TUNING_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"
TRANSFORM_DETAIL_TYPE = "SageMaker Transform Job State Change"


class JobKind(StrEnum):
    """A SageMaker resource sagechain follows; the value is its ARN resource type."""

    LABELING = "labeling-job"
    TRAINING = "training-job"
    TUNING = "hyper-parameter-tuning-job"
    ENDPOINT = "endpoint"
    TRANSFORM = "transform-job"

    @property
    def label(self) -> str:
        """How an email or the history names the kind."""
        return _KIND_LABELS[self]

    @property
    def console_kind(self) -> str:
        """The SageMaker console's path segment for this kind (sagechain.console.console_url)."""
        return _CONSOLE_KINDS[self]


_KIND_LABELS = {
    JobKind.LABELING: "Labeling job",
    JobKind.TRAINING: "Training job",
    JobKind.TUNING: "Tuning job",
    JobKind.ENDPOINT: "Endpoint",
    JobKind.TRANSFORM: "Transform job",
}
_CONSOLE_KINDS = {
    JobKind.LABELING: "labeling-jobs",
    JobKind.TRAINING: "jobs",
    JobKind.TUNING: "hyper-tuning-jobs",
    JobKind.ENDPOINT: "endpoints",
    JobKind.TRANSFORM: "transform-jobs",
}

# Statuses that end a job or put an endpoint out of use: the ones notify emails.
COMPLETED, FAILED, STOPPED = "Completed", "Failed", "Stopped"
ALARMING_STATUSES = frozenset({FAILED, STOPPED})


def api_status(status: str) -> str:
    """A status in the Describe* spelling: IN_SERVICE -> InService; InService stays."""
    if "_" in status or status.isupper():
        return "".join(part.capitalize() for part in status.split("_") if part)
    return status


def normalized_status(status: str) -> str:
    """A status comparable across spellings: IN_SERVICE, InService and inservice are one."""
    return status.replace("_", "").replace("-", "").lower()


def tags_as_map(value: object) -> dict[str, str]:
    """Tags from an event or an API answer: a map, or a list of {Key, Value}."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        found: dict[str, str] = {}
        for item in value:
            if isinstance(item, dict) and "Key" in item:
                found[str(item["Key"])] = str(item.get("Value", ""))
        return found
    raise ValueError(f"Tags is neither a map nor a list of {{Key, Value}}: {type(value).__name__}")


def _timestamp(value: object) -> object:
    """A time as SageMaker's events write it: epoch milliseconds (a string or a number, as in
    the documented samples), or ISO 8601 (as DescribeTrainingJob's JSON answers)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return value


class StatusTransition(BaseModel):
    """One secondary status a training job went through (SecondaryStatusTransition,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html):
    Starting, Downloading, Training, Uploading, Interrupted (spot), MaxRuntimeExceeded, ..."""

    # Read in AWS's spelling (and our own, as stored); written in ours, like the rest of the API.
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    status: str = Field(validation_alias=AliasChoices("Status", "status"), max_length=64)
    start_time: datetime = Field(validation_alias=AliasChoices("StartTime", "start_time"))
    end_time: datetime | None = Field(default=None, validation_alias=AliasChoices("EndTime", "end_time"))
    message: str | None = Field(
        default=None, validation_alias=AliasChoices("StatusMessage", "message"), max_length=1024
    )

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _epoch_or_iso(cls, value: object) -> object:
        return _timestamp(value)

    @property
    def seconds(self) -> int | None:
        """How long the job was in this status (None while it still is)."""
        return None if self.end_time is None else int((self.end_time - self.start_time).total_seconds())


# A job reports a few secondary statuses; more than this many is not an event SageMaker sends.
MAX_TRANSITIONS = 100


class _Detail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")
    failure_reason: str | None = Field(default=None, alias="FailureReason")

    @field_validator("tags", mode="before")
    @classmethod
    def _either_tag_form(cls, value: object) -> dict[str, str]:
        return tags_as_map(value)


class _LabelingDetail(_Detail):
    status: str = Field(alias="LabelingJobStatus")


class _TrainingDetail(_Detail):
    name: str = Field(alias="TrainingJobName")
    arn: str = Field(alias="TrainingJobArn")
    status: str = Field(alias="TrainingJobStatus")
    tuning_job_arn: str | None = Field(default=None, alias="TuningJobArn")
    secondary_status: str | None = Field(default=None, alias="SecondaryStatus", max_length=64)
    # The documented sample sends [] even for a completed job: often empty, never required.
    transitions: list[StatusTransition] = Field(
        default_factory=list, alias="SecondaryStatusTransitions", max_length=MAX_TRANSITIONS
    )


class _TuningDetail(_Detail):
    name: str = Field(alias="HyperParameterTuningJobName")
    arn: str = Field(alias="HyperParameterTuningJobArn")
    status: str = Field(alias="HyperParameterTuningJobStatus")


class _TransformDetail(_Detail):
    name: str = Field(alias="TransformJobName")
    arn: str = Field(alias="TransformJobArn")
    status: str = Field(alias="TransformJobStatus")


class _PendingDeployment(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    endpoint_config_name: str | None = Field(default=None, alias="EndpointConfigName")


class _EndpointDetail(_Detail):
    name: str = Field(alias="EndpointName")
    arn: str = Field(alias="EndpointArn")
    status: str = Field(alias="EndpointStatus")
    config_name: str | None = Field(default=None, alias="EndpointConfigName")
    pending: _PendingDeployment | None = Field(default=None, alias="PendingDeploymentSummary")
    # Epoch milliseconds in AWS's samples; ISO 8601 read too.
    modified_at: datetime | None = Field(default=None, alias="LastModifiedTime")


class StateChange(BaseModel):
    """One SageMaker state change of a labeling, training or tuning job or an endpoint."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    kind: JobKind
    name: str
    arn: str
    status: str
    at: datetime
    failure_reason: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Endpoints: the configuration the endpoint runs (EndpointConfigName) and, during an
    # update, the one being deployed (PendingDeploymentSummary).
    config_name: str | None = None
    pending_config_name: str | None = None
    # Training jobs a tuning job launched (its trials).
    tuning_job_arn: str | None = None
    # Training jobs: the secondary status, and those gone through so far when the event says.
    secondary_status: str | None = None
    transitions: tuple[StatusTransition, ...] = ()
    # Endpoints: when the endpoint last changed (LastModifiedTime). The same state change sent twice
    # carries the same time; an update SageMaker rolled back returns the endpoint to a configuration
    # and status it had before, at a new time.
    modified_at: datetime | None = None

    @property
    def endpoint_config_name(self) -> str | None:
        """Endpoints: the configuration being deployed (pending, else current); its tags name the run."""
        return self.pending_config_name or self.config_name

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


class BusEnvelope(BaseModel):
    """The EventBridge envelope, as far as sagechain reads it (SageMaker's and its own events).

    Not Powertools' EventBridgeModel: it also requires version, id, account and region,
    which no stage reads, so a replayed or hand-written event without them would be refused."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


def _change(
    kind: JobKind,
    envelope: BusEnvelope,
    detail: _Detail,
    name: str,
    arn: str,
    status: str,
    **extra: Any,
) -> StateChange:
    return StateChange(
        kind=kind,
        name=name,
        arn=arn,
        status=api_status(status),
        at=envelope.time,
        failure_reason=detail.failure_reason,
        tags=detail.tags,
        **extra,
    )


def _labeling(envelope: BusEnvelope) -> StateChange | None:
    detail = _LabelingDetail.model_validate(envelope.detail)
    # The job is named only by its ARN in resources: without one, there is nothing to act on.
    arns = [arn for arn in envelope.resources if f":{JobKind.LABELING.value}/" in arn]
    if not arns:
        return None
    return _change(JobKind.LABELING, envelope, detail, arns[0].rsplit("/", 1)[-1], arns[0], detail.status)


def _training(envelope: BusEnvelope) -> StateChange:
    detail = _TrainingDetail.model_validate(envelope.detail)
    return _change(
        JobKind.TRAINING,
        envelope,
        detail,
        detail.name,
        detail.arn,
        detail.status,
        tuning_job_arn=detail.tuning_job_arn,
        secondary_status=detail.secondary_status,
        transitions=tuple(detail.transitions),
    )


def _tuning(envelope: BusEnvelope) -> StateChange:
    detail = _TuningDetail.model_validate(envelope.detail)
    return _change(JobKind.TUNING, envelope, detail, detail.name, detail.arn, detail.status)


def _endpoint(envelope: BusEnvelope) -> StateChange:
    detail = _EndpointDetail.model_validate(envelope.detail)
    return _change(
        JobKind.ENDPOINT,
        envelope,
        detail,
        detail.name,
        detail.arn,
        detail.status,
        config_name=detail.config_name,
        pending_config_name=detail.pending.endpoint_config_name if detail.pending else None,
        modified_at=detail.modified_at,
    )


def _transform(envelope: BusEnvelope) -> StateChange:
    detail = _TransformDetail.model_validate(envelope.detail)
    return _change(JobKind.TRANSFORM, envelope, detail, detail.name, detail.arn, detail.status)


_PARSERS = {
    LABELING_DETAIL_TYPE: _labeling,
    TRAINING_DETAIL_TYPE: _training,
    TUNING_DETAIL_TYPE: _tuning,
    ENDPOINT_DETAIL_TYPE: _endpoint,
    TRANSFORM_DETAIL_TYPE: _transform,
}


def _out_of_bounds(change: StateChange) -> str | None:
    if not fits(change.name, SAGEMAKER_NAME_MAX):
        return f"the name is not a SageMaker name (over {SAGEMAKER_NAME_MAX} characters)"
    if not fits(change.arn, SAGEMAKER_ARN_MAX):
        return f"the ARN is over {SAGEMAKER_ARN_MAX} characters"
    if not fits(change.status, SAGEMAKER_NAME_MAX):
        return "the status is not one SageMaker sends"
    for value in (change.config_name, change.pending_config_name):
        if value is not None and not fits(value, SAGEMAKER_NAME_MAX):
            return "the endpoint configuration name is not a SageMaker name"
    if change.tuning_job_arn is not None and not fits(change.tuning_job_arn, SAGEMAKER_ARN_MAX):
        return f"the tuning job ARN is over {SAGEMAKER_ARN_MAX} characters"
    return None


def _followed_change(event: object, kinds: tuple[JobKind, ...]) -> StateChange | str | None:
    """The change, None when sagechain does not follow it, or why it is dropped."""
    if not isinstance(event, Mapping):
        return "the event is not a JSON object"
    try:
        envelope = BusEnvelope.model_validate(event)
    except ValidationError as err:
        return f"not an EventBridge event: {invalid(err)}"
    if envelope.source != SAGEMAKER_SOURCE:
        return None
    parse = _PARSERS.get(envelope.detail_type)
    try:
        change = parse(envelope) if parse else None
    except ValidationError as err:
        return f"the detail does not match its detail-type: {invalid(err)}"
    if change is None or (kinds and change.kind not in kinds):
        return None
    return _out_of_bounds(change) or change


def state_change(event: object, *kinds: JobKind) -> StateChange | None:
    """A delivered `aws.sagemaker` event as a state change, or None when it is not one sagechain
    follows (or not of the given kinds). A followed event that lacks a field it needs, or names
    something no SageMaker name can be, is dropped (logged and counted), never raised on."""
    change = _followed_change(event, kinds)
    if isinstance(change, str):
        drop(event, change)
        return None
    if change is not None and change.failure_reason is not None:
        # SageMaker's FailureReason is at most 1,024 characters; anything longer is cut, not dropped.
        change = change.model_copy(update={"failure_reason": truncated(change.failure_reason)})
    return change
