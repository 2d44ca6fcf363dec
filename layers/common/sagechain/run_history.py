"""A run as the runs table keeps it: one item per run, its jobs, and its history of events.

Events arrive late, twice, or out of order. Each one becomes a RunChange with a
`progress` key that orders everything that can happen to a run; the table only moves
a run (and each job) forward along it, and a history entry is keyed on what the event
is about, so replaying any mix of events leaves the same run behind.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sagechain.event_sources.sagemaker import JobKind, StatusTransition
from sagechain.events import JobComparison, WorstCaseCost
from sagechain.records import ModelMetric


class Stage(StrEnum):
    """Where a run is in the chain, in order."""

    DATASET = "dataset"
    LABELING = "labeling"
    TRAINING = "training"
    DEPLOYMENT = "deployment"
    LIVE = "live"

    @property
    def rank(self) -> int:
        """1 for dataset ... 5 for live."""
        return list(Stage).index(self) + 1


class RunStatus(StrEnum):
    """How the run is doing at its current stage."""

    IN_PROGRESS = "in_progress"
    LIVE = "live"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"
    STOPPED = "stopped"
    SKIPPED = "skipped"
    DELETED = "deleted"


class HistoryEntry(BaseModel):
    """One thing that happened to a run."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    at: datetime
    stage: Stage
    event: str = Field(description="The sagechain event type, or the SageMaker resource and its new status.")
    status: RunStatus
    summary: str
    subject: str | None = Field(default=None, description="The job or endpoint the event is about.")
    error: str | None = None


class JobState(BaseModel):
    """A SageMaker job or endpoint of the run, as last reported."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: JobKind
    name: str
    status: str
    updated_at: datetime
    failure_reason: str | None = None
    console_url: str | None = None
    training_seconds: int | None = None
    billable_seconds: int | None = None
    secondary_status: str | None = Field(
        default=None, description="Training jobs: SageMaker's secondary status (Starting, Training, ...)."
    )
    transitions: list[StatusTransition] = Field(
        default_factory=list,
        description="Training jobs: every secondary status so far, with its times and SageMaker's message.",
    )


class ScalingRange(BaseModel):
    """An endpoint variant's registered autoscaling range (DescribeScalableTargets)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    min_instances: int
    max_instances: int


class RunFacts(BaseModel):
    """What the events told about the run; each field is set by one kind of event."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    task: str | None = None
    labeling_mode: str | None = None
    objects: int | None = Field(default=None, description="Images in the run's manifest.")
    labeled_objects: int | None = Field(
        default=None,
        description="Own-tool labeling: images with a usable annotation so far (of objects); the run's "
        "summary says the same as annotations arrive.",
    )
    labeling_cost_estimate_usd: Decimal | None = None
    worst_case: WorstCaseCost | None = Field(
        default=None,
        description="The run's worst-case cost before anything started (Dataset Prepared or Rejected).",
    )
    source_uri: str | None = None
    uploaded_by: str | None = Field(default=None, description="The requester S3 reported for the upload.")
    uploaded_from: str | None = Field(default=None, description="The upload's source IP address.")
    email_delivery: str | None = Field(
        default=None, description="Set when the run started while no one received the emails."
    )
    manifest_uri: str | None = None
    labeling_job: str | None = None
    training_jobs: list[str] | None = None
    tuning_job: str | None = None
    algorithm: str | None = None
    training_instance_type: str | None = None
    training_instance_count: int | None = None
    spot: bool | None = None
    train_objects: int | None = None
    validation_objects: int | None = None
    training_job: str | None = Field(default=None, description="The training job the quality gate judged.")
    metric: ModelMetric | None = None
    final_metrics: dict[str, float] | None = Field(
        default=None, description="Every final metric of the judged training job (FinalMetricDataList)."
    )
    comparison: list[JobComparison] | None = Field(
        default=None,
        description="The run's sibling or tuning jobs, best first, with the hyperparameters that differ "
        "(at most 20; empty for a single job).",
    )
    chosen_because: str | None = Field(default=None, description="Why the judged job was chosen among them.")
    endpoint_name: str | None = None
    model_name: str | None = None
    endpoint_instance_type: str | None = None
    autoscaling: ScalingRange | None = None
    predict_url: str | None = None
    attempt: int | None = Field(
        default=None, description="The run's latest attempt, once retried (POST /runs/{run_id}/retry)."
    )


class RunItem(RunFacts):
    """The run's own item: identity, where it is, and its facts."""

    run_id: str
    dataset: str | None = None
    stage: Stage | None = None
    status: RunStatus | None = None
    summary: str | None = Field(default=None, description="What the event that set the status said.")
    created_at: datetime
    updated_at: datetime | None = Field(default=None, description="When the current status was reached.")
    last_error: str | None = None


class RunRecord(BaseModel):
    """A run with its jobs and its history, as stored."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run: RunItem
    jobs: list[JobState]
    history: list[HistoryEntry]


class JobChange(BaseModel):
    """A job's new state, applied only if its progress is ahead of what is stored."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    state: JobState
    progress: str


class RunChange(BaseModel):
    """What one event does to a run: facts to merge, a status to move to, a history entry to add."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    dataset: str | None
    at: datetime
    starts_run: bool = Field(description="The run's first event (its dataset was prepared or rejected).")
    facts: RunFacts = Field(default_factory=RunFacts)
    # Only a change that moves the run forward sets stage, status, summary and updated_at.
    moves_run: bool = True
    stage: Stage
    status: RunStatus
    progress: str
    summary: str
    error: str | None = None
    history_key: str
    history: HistoryEntry | None
    jobs: list[JobChange] = Field(default_factory=list)
