"""SageMaker's own state-change events, as AWS sends them to EventBridge.

Shapes from "Events that Amazon SageMaker AI sends to Amazon EventBridge"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html):
- training and tuning events spell statuses as the API does (Completed, Failed, Stopped);
  the tuning event carries no best training job, the training event no metrics: both are
  described by the handler;
- the endpoint event spells them in upper snake case (IN_SERVICE, not InService), so
  statuses are compared ignoring case and underscores; its EndpointArn lower-cases the
  name, so the name is taken from EndpointName;
- Tags is an empty map in every documented example, while the EventBridge schema registry
  types it as a list of {Key, Value}: both forms are read.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sagechain.names import RUN_ID_TAG


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


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")

    @field_validator("tags", mode="before")
    @classmethod
    def _either_tag_form(cls, value: object) -> dict[str, str]:
        return tags_as_map(value)


class TrainingJobDetail(_Detail):
    """detail of "SageMaker Training Job State Change"."""

    name: str = Field(alias="TrainingJobName")
    arn: str = Field(alias="TrainingJobArn")
    status: str = Field(alias="TrainingJobStatus")


class TuningJobDetail(_Detail):
    """detail of "SageMaker HyperParameter Tuning Job State Change"."""

    name: str = Field(alias="HyperParameterTuningJobName")
    arn: str = Field(alias="HyperParameterTuningJobArn")
    status: str = Field(alias="HyperParameterTuningJobStatus")


class EndpointDetail(_Detail):
    """detail of "SageMaker Endpoint State Change"."""

    name: str = Field(alias="EndpointName")
    arn: str = Field(alias="EndpointArn")
    config_name: str = Field(alias="EndpointConfigName")
    status: str = Field(alias="EndpointStatus")


TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
TUNING_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"


class JobStateChange(BaseModel):
    """A training or tuning job reached a status: what deploy_model is triggered by."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["training", "tuning"]
    job_name: str
    job_arn: str
    status: str
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        """The run the job belongs to, when the event carries the tag."""
        return self.tags.get(RUN_ID_TAG)


class EndpointStateChange(BaseModel):
    """An endpoint reached a status: what configure_autoscaling is triggered by."""

    model_config = ConfigDict(frozen=True)

    endpoint_name: str
    config_name: str
    status: str
    tags: dict[str, str] = Field(default_factory=dict)


def job_state_change(event: dict[str, Any]) -> JobStateChange:
    """A training or tuning job's state-change event, parsed."""
    detail_type = event.get("detail-type")
    if detail_type == TRAINING_DETAIL_TYPE:
        training = TrainingJobDetail.model_validate(event["detail"])
        return JobStateChange(
            kind="training",
            job_name=training.name,
            job_arn=training.arn,
            status=training.status,
            tags=training.tags,
        )
    if detail_type == TUNING_DETAIL_TYPE:
        tuning = TuningJobDetail.model_validate(event["detail"])
        return JobStateChange(
            kind="tuning", job_name=tuning.name, job_arn=tuning.arn, status=tuning.status, tags=tuning.tags
        )
    raise ValueError(f"not a training or tuning job state change: {detail_type!r}")


def endpoint_state_change(event: dict[str, Any]) -> EndpointStateChange:
    """An endpoint's state-change event, parsed."""
    if event.get("detail-type") != ENDPOINT_DETAIL_TYPE:
        raise ValueError(f"not an endpoint state change: {event.get('detail-type')!r}")
    detail = EndpointDetail.model_validate(event["detail"])
    return EndpointStateChange(
        endpoint_name=detail.name, config_name=detail.config_name, status=detail.status, tags=detail.tags
    )
