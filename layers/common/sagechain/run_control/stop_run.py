"""POST /runs/{run_id}/stop: stop what a run has running, and end it "stopped".

What is running comes from the runs table: the labeling, training and tuning jobs it last
saw in progress, and a deployment of the run still waiting for its busy endpoint
(models/<endpoint>/pending/<arrived>-<run_id>.json, see deployment/pending.py). The route
asks SageMaker to stop each job, deletes the waiting deployment, and puts "Run Stopped" on
the bus: track_run ends the run "stopped" (the event outranks SageMaker's own Stopped state
changes of the same stage), notify emails it.

Two requests racing for the same run have one effect: SageMaker accepts one Stop* per job
(the other answers that the job is no longer running), the loser finds nothing left to stop
and is answered 409, and should both publish, track_run keeps the first history entry and
notify sends one email per event type and run.
"""

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import RunNotFoundError, StateConflictError
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

    model_config = ConfigDict(frozen=True)

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
        self, runs: RunStore, jobs: JobStopper, store: DeploymentStore, publisher: EventPublisher
    ) -> None:
        self._runs = runs
        self._jobs = jobs
        self._store = store
        self._publisher = publisher

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
        stopped = [
            StoppedJob(kind=_STOPPABLE[job.kind], name=job.name)
            for job in running_jobs(record.jobs)
            if self._jobs.stop(job.kind, job.name)
        ]
        cancelled = self._cancel_waiting_deployment(run)
        if not stopped and cancelled is None:
            raise StateConflictError(
                f"Run {run_id} is {_state(run)} with nothing that can be stopped: no labeling, training "
                "or tuning job is running and no deployment is waiting (an endpoint being created or "
                f"updated cannot be stopped). GET /runs/{run_id} shows where it is."
            )
        event = RunStopped(
            run_id=run_id,
            dataset=run.dataset or "",
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

    def _cancel_waiting_deployment(self, run: RunItem) -> str | None:
        """Delete the run's deployment waiting for its endpoint; the endpoint, or None when none waits."""
        if run.endpoint_name is None or run.stage is not Stage.DEPLOYMENT:
            return None
        suffix = f"-{run.run_id}.json"
        keys = [stored.key for stored in self._store.iter_objects(pending_prefix(run.endpoint_name))]
        waiting = [key for key in keys if key.endswith(suffix)]
        for key in waiting:
            self._store.delete(key)
        return run.endpoint_name if waiting else None
