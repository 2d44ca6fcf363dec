"""POST /runs/{run_id}/retry: start a failed or stopped run again, from the stage it ended at.

A retry is a new attempt of the same run (attempts.py): the route claims attempt N with a
write-once object, runs/<run_id>/attempts/<nnnn>.json, and puts "Run Retried" on the bus;
the function of the stage it starts at begins attempt N (jobs named with "-aN", tagged
sagechain:attempt), reusing what the stages before it produced:
- from training: the labeled manifest (provided, or the labeling job's output: no new
  labeling job), the same split (manifest_split is deterministic), and the hyperparameter
  sets whose jobs already completed;
- from deployment: the training the run chose, deployed again without retraining;
- from labeling: a new labeling job. Ground Truth bills again, so it is only ever done when
  the caller asks for it (`?from=labeling`), even for a run that ended at its labeling stage.
  A run labeled in the team's own tool (Label Studio, CVAT) has no job to buy again and takes no
  more labels once stopped or failed: a retry from labeling is 409 saying to upload dataset.json
  again (a new run writes new tasks.json and config.xml), or, when its labels were complete, to
  retry from training on them.

Duplicates have one effect. Two requests for the same attempt race for its claim: one writes
it, the other finds the claim and, when it asks for the same stage, publishes the same event
again (the stage starts an attempt once), else is answered 409. A claim whose event was never
published (the route crashed in between) is published by the next request that asks for it.
Once track_run records the attempt the run is in progress, and a retry is 409 until it ends.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import RunNotFoundError, StateConflictError
from sagechain.attempts import MAX_ATTEMPTS, AttemptClaim, attempt_key, latest_claim
from sagechain.event_sources.sagemaker import JobKind
from sagechain.events import LabelingCompleted, RetryStage, RunRetried, StoppableStage
from sagechain.ports import DeploymentStore, EventPublisher, RunStore
from sagechain.run_history import RunItem, RunRecord, RunStatus, Stage
from sagechain.spec import LabelingMode

JSON = "application/json"
_OWN_TOOLS = {LabelingMode.LABEL_STUDIO.value, LabelingMode.CVAT.value}
_RETRYABLE = {RunStatus.FAILED: "failed", RunStatus.STOPPED: "stopped"}
_STAGES: dict[Stage, RetryStage] = {
    Stage.LABELING: "labeling",
    Stage.TRAINING: "training",
    Stage.DEPLOYMENT: "deployment",
}
_WHAT_APPLIES = {
    RunStatus.IN_PROGRESS: "stop it first (POST /runs/{run_id}/stop) or wait for it to end",
    RunStatus.LIVE: "its model is live: nothing to retry",
    RunStatus.REJECTED: "correct what the rejection says and upload dataset.json again",
    RunStatus.SKIPPED: "training was skipped for a reason a retry does not change: correct it and upload "
    "dataset.json again",
    RunStatus.EXPIRED: "its model expired: upload dataset.json again to serve it again",
    RunStatus.DELETED: "its model was deleted: upload dataset.json again to serve it again",
}


class RunRetryAccepted(BaseModel):
    """202: the run's new attempt is starting; its stage's emails and history follow."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    attempt: int = Field(description="The new attempt: 2 for a run's first retry.")
    from_stage: RetryStage = Field(description="The stage the attempt starts at.")
    status: RunStatus = Field(description='Always "in_progress".')
    previous_status: Literal["failed", "stopped"]
    previous_stage: StoppableStage
    reuses: list[str] = Field(description="What earlier stages produced that the attempt reuses.")


def _state(run: RunItem) -> str:
    return f"{run.status.value if run.status else 'in_progress'} at its {run.stage or Stage.DATASET} stage"


class RetryRunService:
    """Claims a run's next attempt and asks its stage to start it."""

    def __init__(
        self,
        runs: RunStore,
        store: DeploymentStore,
        publisher: EventPublisher,
        now: Callable[[], datetime],
    ) -> None:
        self._runs = runs
        self._store = store
        self._publisher = publisher
        self._now = now

    def retry_run(
        self, run_id: str, from_stage: RetryStage | None = None, requested_by: str | None = None
    ) -> RunRetryAccepted:
        """Start the run's next attempt; RunNotFoundError, or StateConflictError when none applies."""
        record = self._runs.get_run(run_id)
        if record is None:
            raise RunNotFoundError(f"No run has the id {run_id!r}. GET /runs lists the runs.")
        run = record.run
        recorded = run.attempt or 1
        claimed = latest_claim(self._store, run_id)
        if claimed is not None and claimed.attempt > recorded:
            # Claimed, and not yet in the run's history: in flight, or its event was never sent.
            return self._again(record, claimed, from_stage)
        previous_status, previous_stage = self._retryable(run)
        start = self._start_stage(record, previous_stage, from_stage)
        attempt = max(recorded, claimed.attempt if claimed else 1) + 1
        if attempt > MAX_ATTEMPTS:
            raise StateConflictError(
                f"Run {run_id} has had {attempt - 1} attempts, the most a run may have. Upload "
                "dataset.json again to start a new run."
            )
        claim = AttemptClaim(
            run_id=run_id,
            attempt=attempt,
            from_stage=start,
            previous_status=previous_status,
            previous_stage=previous_stage,
            requested_by=requested_by,
            requested_at=self._now(),
        )
        if not self._store.put_bytes_if_absent(
            attempt_key(run_id, attempt), claim.model_dump_json().encode(), JSON
        ):
            raced = latest_claim(self._store, run_id)
            if raced is None:  # pragma: no cover - a claim that exists is listed (S3 is consistent)
                raise StateConflictError(f"Run {run_id}'s attempt {attempt} was claimed meanwhile.")
            return self._again(record, raced, from_stage)
        return self._publish(record, claim)

    # ------------------------------------------------------------ what applies
    @staticmethod
    def _retryable(run: RunItem) -> tuple[Literal["failed", "stopped"], StoppableStage]:
        status = run.status or RunStatus.IN_PROGRESS
        if status not in _RETRYABLE:
            applies = _WHAT_APPLIES.get(status, "nothing").format(run_id=run.run_id)
            raise StateConflictError(
                f"Run {run.run_id} is {_state(run)}: only a failed or stopped run can be retried; {applies}."
            )
        stage = run.stage or Stage.DATASET
        if stage not in _STAGES:
            raise StateConflictError(
                f"Run {run.run_id} is {_state(run)}: it ended before labeling or training began, so "
                "there is nothing to retry. Upload dataset.json again to start a new run."
            )
        return cast("Literal['failed', 'stopped']", _RETRYABLE[status]), cast("StoppableStage", stage.value)

    def _start_stage(
        self, record: RunRecord, ended_at: StoppableStage, requested: RetryStage | None
    ) -> RetryStage:
        """The stage the attempt starts at: the one the run ended at unless the caller asks for an
        earlier one; labeling only when asked for by name."""
        run = record.run
        ended = _STAGES[Stage(ended_at)]
        if ended == "labeling" and self._labels_done(record):
            # Stopped as its labeling completed: the labels exist, so the run resumes at training.
            ended = "training"
        own_tool = record.run.labeling_mode in _OWN_TOOLS
        if own_tool and (requested == "labeling" or (requested is None and ended == "labeling")):
            raise StateConflictError(self._own_tool_labeling(record, labels_done=ended != "labeling"))
        if requested is None:
            if ended == "labeling":
                cost = (
                    f" (Ground Truth estimated the last one at ${run.labeling_cost_estimate_usd:,.2f})"
                    if run.labeling_cost_estimate_usd is not None
                    else ""
                )
                raise StateConflictError(
                    f"Run {run.run_id} is {_state(run)}. Retrying it buys a new Ground Truth labeling "
                    f"job{cost}: ask for that with POST /runs/{run.run_id}/retry?from=labeling."
                )
            return ended
        if Stage(requested).rank > Stage(ended).rank:
            earlier = [stage for stage in _STAGES.values() if Stage(stage).rank <= Stage(ended).rank]
            if not self._labeled_by_ground_truth(record):
                earlier.remove("labeling")
            raise StateConflictError(
                f"Run {run.run_id} is {_state(run)}: a retry starts at its {ended} stage or an earlier "
                f"one (from={' or '.join(earlier)}), not at {requested}."
            )
        if requested == "labeling" and not self._labeled_by_ground_truth(record):
            raise StateConflictError(
                f"Run {run.run_id}'s labels were provided with the dataset: there is no labeling stage "
                "to retry. Retry from training, or upload new labels with dataset.json."
            )
        return requested

    @staticmethod
    def _own_tool_labeling(record: RunRecord, labels_done: bool) -> str:
        run = record.run
        then = (
            f" Its labels are complete: retry from training (POST /runs/{run.run_id}/retry?from=training) "
            "to train on them again."
            if labels_done
            else ""
        )
        return (
            f"Run {run.run_id} is {_state(run)} and was labeled in your own tool ({run.labeling_mode}): "
            "there is no labeling job to start again, and a stopped or failed run takes no more "
            "annotations. To label again, upload dataset.json again: the new run writes new tasks.json "
            "and config.xml (import them, and point the project's S3 target storage at the new run's "
            f"label-studio/annotations/ prefix).{then}"
        )

    @staticmethod
    def _labels_done(record: RunRecord) -> bool:
        """Whether the run's labels are in: its latest labeling job completed, or its own tool's
        Labeling Completed is in its history (its labels can train)."""
        if any(entry.event == LabelingCompleted.DETAIL_TYPE for entry in record.history):
            return True
        labeling = [job for job in record.jobs if job.kind is JobKind.LABELING]
        latest = max(labeling, key=lambda job: job.updated_at, default=None)
        return latest is not None and latest.status == "Completed"

    @staticmethod
    def _labeled_by_ground_truth(record: RunRecord) -> bool:
        return record.run.labeling_mode == LabelingMode.GROUND_TRUTH.value

    # ------------------------------------------------------------ the event
    def _again(
        self, record: RunRecord, claim: AttemptClaim, requested: RetryStage | None
    ) -> RunRetryAccepted:
        """A request for an attempt already claimed: the same request again, or a conflict."""
        if requested is not None and requested != claim.from_stage:
            raise StateConflictError(
                f"Run {record.run.run_id}'s attempt {claim.attempt} was requested at "
                f"{claim.requested_at.isoformat()} from its {claim.from_stage} stage and is starting: "
                f"GET /runs/{record.run.run_id} shows it. Stop it first to retry from {requested}."
            )
        return self._publish(record, claim)

    def _publish(self, record: RunRecord, claim: AttemptClaim) -> RunRetryAccepted:
        run = record.run
        labeling_job = run.labeling_job if claim.from_stage != "labeling" else None
        reused_jobs: list[str] = []
        if claim.from_stage == "deployment":
            # The job the quality gate judged; else the run's completed training jobs.
            completed = [
                job.name for job in record.jobs if job.kind is JobKind.TRAINING and job.status == "Completed"
            ]
            reused_jobs = [run.training_job] if run.training_job else completed
        self._publisher.publish(
            RunRetried(
                run_id=run.run_id,
                dataset=run.dataset or "",
                attempt=claim.attempt,
                from_stage=claim.from_stage,
                previous_status=cast("Literal['failed', 'stopped']", claim.previous_status),
                previous_stage=claim.previous_stage,
                labeling_job_name=labeling_job,
                reused_jobs=reused_jobs,
                requested_by=claim.requested_by,
            )
        )
        reuses = []
        if labeling_job:
            reuses.append(f"the labels of labeling job {labeling_job}")
        elif claim.from_stage != "labeling" and run.labeling_mode in _OWN_TOOLS:
            reuses.append(f"the labels from {run.labeling_mode} (runs/{run.run_id}/labeled.manifest)")
        elif claim.from_stage != "labeling":
            reuses.append("the labels provided with the dataset")
        if claim.from_stage == "training":
            reuses.append("the same train/validation split, and the training jobs that completed")
        reuses.extend(f"training job {name}" for name in reused_jobs)
        return RunRetryAccepted(
            run_id=run.run_id,
            attempt=claim.attempt,
            from_stage=claim.from_stage,
            status=RunStatus.IN_PROGRESS,
            previous_status=cast("Literal['failed', 'stopped']", claim.previous_status),
            previous_stage=claim.previous_stage,
            reuses=reuses,
        )
