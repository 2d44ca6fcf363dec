"""The status API's responses (GET /runs, /runs/{run_id}, /models/{model}, its batches) and its error body.

These models are the routes' return types, so Powertools' OpenAPI generator describes
the API from them. Nothing here carries an ARN or an account id: the service redacts
them from the texts it copies out of SageMaker.
"""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from sagechain.events import BatchCostEstimate, EndpointHourlyCost
from sagechain.records import ModelMetric
from sagechain.run_history import HistoryEntry, JobState, RunFacts, RunStatus, ScalingRange, Stage


class RunSummary(BaseModel):
    """One run in a listing."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    dataset: str | None = None
    stage: Stage | None = None
    status: RunStatus | None = None
    summary: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    last_error: str | None = None
    endpoint_name: str | None = None
    email_warning: str | None = Field(
        default=None, description="Present while no one receives the emails: what to do about it."
    )


class RunPage(BaseModel):
    """Runs, newest first; pass next_token back to get the next page."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    runs: list[RunSummary]
    next_token: str | None = Field(default=None, description="Opaque; absent on the last page.")


class RunDetail(RunFacts, RunSummary):
    """One run: where it is, what is known about it, its jobs and its ordered history."""

    jobs: list[JobState]
    history: list[HistoryEntry] = Field(description="Oldest first.")


class EndpointState(BaseModel):
    """The endpoint behind a model, as SageMaker and Application Auto Scaling report it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str = Field(description="DescribeEndpoint's EndpointStatus, e.g. InService, Updating, Failed.")
    instance_count: int | None = Field(default=None, description="Instances serving now.")
    autoscaling: ScalingRange | None = Field(default=None, description="Absent when no range is registered.")
    failure_reason: str | None = None
    updated_at: datetime | None = None


class LiveModel(BaseModel):
    """The model the endpoint serves (models/<model>/model.json)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model_name: str
    training_job_name: str
    run_id: str
    dataset: str
    task: str
    labels: list[str]
    metric: ModelMetric | None = None
    deployed_at: datetime


class ModelStatus(BaseModel):
    """GET /models/{model}: the endpoint and the model it serves."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    endpoint: EndpointState | None = Field(default=None, description="Absent when the endpoint is gone.")
    current_model: LiveModel | None = Field(default=None, description="Absent until a model has gone live.")
    deleted_at: datetime | None = Field(
        default=None,
        description="Set when DELETE /models/{model} deleted it; current_model is what it served.",
    )
    hourly_cost: EndpointHourlyCost | None = Field(
        default=None,
        description="What the endpoint bills per hour at min and max instances; absent before it went live "
        "or when its instance type has no known price.",
    )
    delete_commands: list[str] = Field(
        default_factory=list,
        description="The AWS CLI commands that delete the endpoint, its configuration and its model "
        "(DELETE /models/{model} on the operator API does the same).",
    )


class BatchProgress(BaseModel):
    """How far a running batch has got: time, money and images so far."""

    model_config = ConfigDict(frozen=True)

    elapsed_minutes: int
    deadline_at: datetime | None = Field(
        default=None,
        description="When the batch is stopped if still running (created + max_runtime_minutes).",
    )
    cost_so_far_usd: Decimal | None = Field(
        default=None, description="Its instances for the minutes elapsed, at the estimate's price."
    )
    cost_estimate_usd: Decimal | None = Field(
        default=None, description="The most it can cost (the estimate)."
    )
    images_answered: int = Field(description="Answers (.out objects) the transform job has written so far.")
    images_answered_at_least: bool = Field(
        description="True when counting stopped at the API's bound: at least images_answered are answered."
    )
    answered: str = Field(description='In words, e.g. "at least 3,000 of 10,000 images answered".')


class BatchView(BaseModel):
    """One batch of a model (batches/<model>/<name>/): its transform job, cost and results."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    batch_name: str
    batch_id: str
    status: str = Field(description="InProgress, Completed, Failed or Stopped (the transform job's).")
    transform_job_name: str
    model_name: str = Field(description="The SageMaker model that scores the batch.")
    training_job_name: str
    run_id: str = Field(description="The run whose model scores the batch; its history lists the batch.")
    images: int
    skipped: dict[str, int]
    instance_type: str
    instance_count: int
    max_runtime_minutes: int
    cost_estimate: BatchCostEstimate | None = Field(
        default=None, description="The most the transform job bills: its instances for its max runtime."
    )
    created_at: datetime
    ended_at: datetime | None = None
    scored: int | None = None
    failed: int | None = None
    label_counts: dict[str, int] | None = None
    predictions_uri: str | None = None
    summary_uri: str | None = None
    failure_reason: str | None = None
    progress: BatchProgress | None = Field(
        default=None, description="A running batch's progress (GET /models/{model}/batches/{name} only)."
    )


class BatchList(BaseModel):
    """A model's batches, newest first."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    batches: list[BatchView]
