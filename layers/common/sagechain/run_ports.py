"""What notify, track_run and status_api need from the world, as protocols (see ports.py)."""

from typing import Protocol

from sagechain.models.run_events import (
    EndpointFacts,
    JobKind,
    LabelingJobFacts,
    ScalingRange,
    TrainingJobFacts,
    TuningJobFacts,
)
from sagechain.models.run_history import RunChange, RunItem, RunRecord

# An opaque position in the runs listing (the table's LastEvaluatedKey, as strings).
Cursor = dict[str, str]


class SageMakerLookup(Protocol):
    """Read-only SageMaker: tags, Describe* and console links. None means 'no such resource'."""

    def tags(self, arn: str) -> dict[str, str]:
        """A resource's tags ({} when it does not exist)."""

    def training_job(self, name: str) -> TrainingJobFacts | None:
        """DescribeTrainingJob."""

    def labeling_job(self, name: str) -> LabelingJobFacts | None:
        """DescribeLabelingJob."""

    def tuning_job(self, name: str) -> TuningJobFacts | None:
        """DescribeHyperParameterTuningJob."""

    def endpoint(self, name: str) -> EndpointFacts | None:
        """DescribeEndpoint."""

    def console_url(self, kind: JobKind, name: str) -> str:
        """The SageMaker console page of a job or endpoint."""

    def training_log_url(self, name: str) -> str:
        """The CloudWatch Logs console page of a training job's log streams."""


class ScalingLookup(Protocol):
    """Application Auto Scaling, read-only."""

    def scaling_range(self, endpoint_name: str, variant_name: str) -> ScalingRange | None:
        """The variant's registered min and max instances, or None when none is registered."""


class EmailSender(Protocol):
    """The notification topic."""

    def send(self, subject: str, body: str) -> None:
        """Publish one plain-text email."""


class RunStore(Protocol):
    """The runs table."""

    def apply(self, change: RunChange) -> None:
        """Record one event: facts merged, history entry added once, run and job moved only forward."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """A run with its jobs and history, or None."""

    def list_runs(self, limit: int, cursor: Cursor | None) -> tuple[list[RunItem], Cursor | None]:
        """Up to limit runs, newest first, after cursor; and the cursor of the next page."""
