"""POST /runs/{run_id}/stop: stop what a run has running, and end it "stopped".

What is running comes from the runs table: the labeling, training and tuning jobs it last
saw in progress, and a deployment of the run still waiting for its busy endpoint
(models/<endpoint>/pending/<arrived>-<run_id>.json, see deployment/pending.py). The route
asks SageMaker to stop each job, deletes the waiting deployment, and puts "Run Stopped" on
the bus: track_run ends the run "stopped" (the event outranks SageMaker's own Stopped state
changes of the same stage), notify emails it.

Before anything is stopped, runs/<run_id>/stops/<attempt>.json records the stop (see
attempts.py): a stage whose trigger is already on its way (a labeling job completing as the run
is stopped) then starts nothing. So a run between stages, with nothing running, can be stopped
too: the next stage does not start. Only an endpoint being created or updated cannot be.

Two requests racing for the same run have one effect: SageMaker accepts one Stop* per job
(the other answers that the job is no longer running), both publish the same "Run Stopped"
(same attempt), and track_run keeps the first history entry and notify sends one email per
event type, run and attempt. A stop that crashed half-way completes when it is sent again.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import RunNotFoundError, StateConflictError
from sagechain.attempts import StopRecord, current_attempt, stopped_key
from sagechain.event_sources.sagemaker import JobKind
from sagechain.events import RunStopped, StoppableJob, StoppableStage, StoppedJob
from sagechain.layout import pending_prefix
from sagechain.ports import DeploymentStore, EventPublisher, JobStopper, RunStore
from sagechain.run_history import JobState, RunItem, RunStatus, Stage

# Tuning first: stopping a tuning job stops the training jobs it launched.
_STOPPABLE: dict[JobKind, StoppableJob] = {
    JobKind.TUNING: "tuning",
    JobKind.LABELING: "labeling",
    JobKind.TRAINING: "training",
}
_STAGES: dict[Stage, StoppableStage] = {
    Stage.DATASET: "dataset",
    Stage.LABELING: "labeling",
    Stage.TRAINING: "training",
    Stage.DEPLOYMENT: "deployment",
}
_NOT_RUNNING = frozenset({"Completed", "Failed", "Stopped", "Stopping"})


class RunStopAccepted(BaseModel):
    """202: the run's jobs are stopping; the run ends "stopped" and the team is emailed."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    status: RunStatus = Field(description='Always "stopped": what the run ends as.')
    stage: Stage = Field(description="Where the run was when it was stopped.")
    stopped_jobs: list[StoppedJob] = Field(description="The jobs SageMaker is stopping.")
    cancelled_deployment: str | None = Field(
        default=None, description="The endpoint whose waiting deployment of this run was cancelled."
    )


def running_jobs(jobs: list[JobState]) -> list[JobState]:
    """The run's labeling, training and tuning jobs last seen running, tuning jobs first."""
    order = list(_STOPPABLE)
    running = [job for job in jobs if job.kind in _STOPPABLE and job.status not in _NOT_RUNNING]
    return sorted(running, key=lambda job: (order.index(job.kind), job.name))


def _state(run: RunItem) -> str:
    return f"{run.status.value if run.status else 'in_progress'} at its {run.stage or Stage.DATASET} stage"


class StopRunService:
    """Stops a run's jobs and its waiting deployment, then says so on the bus."""

    def __init__(
        self,
        runs: RunStore,
        jobs: JobStopper,
        store: DeploymentStore,
        publisher: EventPublisher,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._runs = runs
        self._jobs = jobs
        self._store = store
        self._publisher = publisher
        self._now = now

    def stop_run(self, run_id: str, requested_by: str | None = None) -> RunStopAccepted:
        """Stop the run; RunNotFoundError for an unknown id, StateConflictError when nothing of it runs."""
        record = self._runs.get_run(run_id)
        if record is None:
            raise RunNotFoundError(f"No run has the id {run_id!r}. GET /runs lists the runs.")
        run = record.run
        stage = run.stage or Stage.DATASET
        if run.status not in {None, RunStatus.IN_PROGRESS} or stage not in _STAGES:
            raise StateConflictError(
                f"Run {run_id} is {_state(run)}: only a run in progress can be stopped. "
                "Upload the dataset's dataset.json again to start a new run."
            )
        waiting = self._waiting_deployments(run)
        if stage is Stage.DEPLOYMENT and not waiting:
            raise StateConflictError(
                f"Run {run_id} is {_state(run)}: its endpoint is being created or updated, which cannot "
                f"be stopped. Once it is live, DELETE /models/{run.endpoint_name or '{model}'} removes it."
            )
        attempt = max(run.attempt or 1, current_attempt(self._store, run_id))
        # First: a stage about to start something for this attempt sees it and starts nothing
        # (between stages nothing runs, and the stop is this record alone).
        mark = StopRecord(run_id=run_id, attempt=attempt, stopped_at=self._now(), requested_by=requested_by)
        # Written once; a request that finds it is a duplicate, or the retry of a stop that crashed
        # before its event went out: it stops what still runs and publishes the same event again.
        self._store.put_bytes_if_absent(
            stopped_key(run_id, attempt), mark.model_dump_json().encode(), "application/json"
        )
        stopped = [
            StoppedJob(kind=_STOPPABLE[job.kind], name=job.name)
            for job in running_jobs(record.jobs)
            if self._jobs.stop(job.kind, job.name)
        ]
        for key in waiting:
            self._store.delete(key)
        cancelled = run.endpoint_name if waiting else None
        event = RunStopped(
            run_id=run_id,
            dataset=run.dataset or "",
            attempt=attempt,
            stage=_STAGES[stage],
            stopped_jobs=stopped,
            cancelled_deployment=cancelled,
            requested_by=requested_by,
        )
        self._publisher.publish(event)
        return RunStopAccepted(
            run_id=run_id,
            status=RunStatus.STOPPED,
            stage=stage,
            stopped_jobs=stopped,
            cancelled_deployment=cancelled,
        )

    def _waiting_deployments(self, run: RunItem) -> list[str]:
        """The keys of the run's deployments waiting for its endpoint (deployment/pending.py)."""
        if run.endpoint_name is None or run.stage is not Stage.DEPLOYMENT:
            return []
        suffix = f"-{run.run_id}.json"
        keys = [stored.key for stored in self._store.iter_objects(pending_prefix(run.endpoint_name))]
        return [key for key in keys if key.endswith(suffix)]
