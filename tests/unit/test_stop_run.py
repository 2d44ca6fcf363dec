"""POST /runs/{run_id}/stop: what is stopped, what is refused, and how the observers record it."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from sagechain.adapters.sagemaker_control import SageMakerJobStopper
from sagechain.api_errors import RunNotFoundError, StateConflictError
from sagechain.attempts import why_not_start
from sagechain.event_sources.sagemaker import JobKind
from sagechain.events import RunStopped, StoppedJob
from sagechain.observers.notify import compose_email
from sagechain.observers.timeline import ENDED, FROM_SAGEMAKER, progress_key
from sagechain.observers.track_run import track_run
from sagechain.run_control.stop_run import StopRunService
from sagechain.run_history import JobState, RunItem, RunRecord, RunStatus, Stage
from tests.aws import sample_event
from tests.fakes import (
    FakeSageMaker,
    MemoryDeploymentStore,
    MemoryStore,
    RecordingPublisher,
    RecordingRunStore,
)
from tests.runs import STACK_ID, STACK_NAME
from tests.unit.test_notify import RUN, TRAINING, TUNING, run_json

AT = datetime(2026, 3, 2, 11, tzinfo=UTC)
ENDPOINT = "sagechain-flowers"


class OneRun(RecordingRunStore):
    """A runs table holding one run."""

    def __init__(self, record: RunRecord | None) -> None:
        super().__init__()
        self.record = record

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.record if self.record and self.record.run.run_id == run_id else None


class Jobs:
    """JobStopper that stops each running job once, as SageMaker does."""

    def __init__(self, running: set[str]) -> None:
        self.running = set(running)
        self.asked: list[tuple[JobKind, str]] = []

    def stop(self, kind: JobKind, name: str) -> bool:
        self.asked.append((kind, name))
        if name not in self.running:
            return False
        self.running.discard(name)
        return True


def job(kind: JobKind, name: str, status: str = "InProgress") -> JobState:
    return JobState(kind=kind, name=name, status=status, updated_at=AT)


def record(stage: Stage, status: RunStatus, *jobs: JobState, endpoint: str | None = None) -> RunRecord:
    run = RunItem(
        run_id=RUN, dataset="flowers", stage=stage, status=status, created_at=AT, endpoint_name=endpoint
    )
    return RunRecord(run=run, jobs=list(jobs), history=[])


def service(
    stored: RunRecord | None, jobs: Jobs, store: MemoryDeploymentStore | None = None
) -> tuple[StopRunService, RecordingPublisher]:
    publisher = RecordingPublisher()
    return StopRunService(OneRun(stored), jobs, store or MemoryDeploymentStore(), publisher), publisher


def test_stopping_a_training_run_stops_its_running_jobs_and_publishes_run_stopped() -> None:
    stored = record(
        Stage.TRAINING,
        RunStatus.IN_PROGRESS,
        job(JobKind.LABELING, "sagechain-flowers-labeling", "Completed"),
        job(JobKind.TRAINING, TRAINING),
        job(JobKind.TUNING, TUNING),
    )
    jobs = Jobs({TRAINING, TUNING})
    stop, publisher = service(stored, jobs)

    accepted = stop.stop_run(RUN, "arn:aws:iam::123456789012:user/alice")

    assert jobs.asked == [(JobKind.TUNING, TUNING), (JobKind.TRAINING, TRAINING)]
    assert (accepted.status, accepted.stage) == (RunStatus.STOPPED, Stage.TRAINING)
    [event] = publisher.events
    assert isinstance(event, RunStopped)
    assert event.stopped_jobs == [
        StoppedJob(kind="tuning", name=TUNING),
        StoppedJob(kind="training", name=TRAINING),
    ]
    assert (event.stage, event.requested_by) == ("training", "arn:aws:iam::123456789012:user/alice")


def test_stopping_a_waiting_deployment_deletes_only_that_runs_pending_record() -> None:
    store = MemoryDeploymentStore()
    mine = f"models/{ENDPOINT}/pending/20260302T110000000000Z-{RUN}.json"
    other = f"models/{ENDPOINT}/pending/20260302T105900000000Z-flowers-000000000000.json"
    store.objects.update({mine: b"{}", other: b"{}"})
    stop, publisher = service(
        record(Stage.DEPLOYMENT, RunStatus.IN_PROGRESS, endpoint=ENDPOINT), Jobs(set()), store
    )

    accepted = stop.stop_run(RUN)

    assert accepted.cancelled_deployment == ENDPOINT
    assert {key for key in store.objects if key.startswith("models/")} == {other}
    assert publisher.events[0].cancelled_deployment == ENDPOINT  # type: ignore[attr-defined]


def test_an_unknown_run_is_not_found_and_nothing_is_stopped() -> None:
    jobs = Jobs(set())
    stop, publisher = service(None, jobs)

    with pytest.raises(RunNotFoundError):
        stop.stop_run(RUN)

    assert (jobs.asked, publisher.events) == ([], [])


@pytest.mark.parametrize(
    ("stage", "status", "said"),
    [
        (Stage.LIVE, RunStatus.LIVE, "is live at its live stage"),
        (Stage.TRAINING, RunStatus.STOPPED, "is stopped at its training stage"),
        (Stage.TRAINING, RunStatus.FAILED, "is failed at its training stage"),
        (Stage.DATASET, RunStatus.REJECTED, "is rejected at its dataset stage"),
    ],
)
def test_an_ended_run_is_a_conflict_that_names_its_state(stage: Stage, status: RunStatus, said: str) -> None:
    jobs = Jobs({TRAINING})
    stop, publisher = service(record(stage, status, job(JobKind.TRAINING, TRAINING)), jobs)

    with pytest.raises(StateConflictError) as raised:
        stop.stop_run(RUN)

    assert said in raised.value.message
    assert "only a run in progress can be stopped" in raised.value.message
    assert (jobs.asked, publisher.events) == ([], [])


def test_a_duplicate_stop_stops_each_job_once_and_repeats_the_same_event() -> None:
    stored = record(Stage.TRAINING, RunStatus.IN_PROGRESS, job(JobKind.TRAINING, TRAINING))
    jobs = Jobs({TRAINING})
    stop, publisher = service(stored, jobs)
    stop.stop_run(RUN)

    again = stop.stop_run(RUN)

    # SageMaker stopped the job once; both requests publish the same attempt's Run Stopped,
    # which track_run and notify record and email once (same detail-type, run and attempt).
    assert jobs.running == set()
    assert again.stopped_jobs == []
    first, second = publisher.events
    assert isinstance(first, RunStopped)
    assert isinstance(second, RunStopped)
    assert (first.run_id, first.attempt) == (second.run_id, second.attempt) == (RUN, 1)


def test_a_run_between_stages_is_stopped_and_its_next_stage_would_not_start() -> None:
    # Labeling completed, training not yet started: nothing runs, but the run can still be stopped.
    stored = record(Stage.LABELING, RunStatus.IN_PROGRESS, job(JobKind.LABELING, "labeling", "Completed"))
    store = MemoryDeploymentStore()
    stop, publisher = service(stored, Jobs(set()), store)
    assert why_not_start(store, RUN, 1) is None

    accepted = stop.stop_run(RUN)

    assert accepted.status is RunStatus.STOPPED
    assert accepted.stopped_jobs == []
    assert [type(event) for event in publisher.events] == [RunStopped]
    reason = why_not_start(store, RUN, 1)
    assert reason is not None
    assert "was stopped" in reason


def test_a_deployment_being_created_cannot_be_stopped() -> None:
    stored = record(
        Stage.DEPLOYMENT,
        RunStatus.IN_PROGRESS,
        job(JobKind.ENDPOINT, ENDPOINT, "Creating"),
        endpoint=ENDPOINT,
    )
    stop, _ = service(stored, Jobs(set()))

    with pytest.raises(StateConflictError) as raised:
        stop.stop_run(RUN)

    assert "being created or updated, which cannot be stopped" in raised.value.message


def test_track_run_ends_the_run_stopped_at_its_stage_and_marks_the_jobs_stopping() -> None:
    runs = RecordingRunStore()

    change = track_run(
        sample_event("track_run", "run_stopped"),
        FakeSageMaker(),
        MemoryStore(),
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    assert change is not None
    assert (change.stage, change.status) == (Stage.TRAINING, RunStatus.STOPPED)
    assert change.summary == f"Run stopped: stopping training job {TRAINING}"
    assert [(j.state.name, j.state.status) for j in change.jobs] == [(TRAINING, "Stopping")]
    # Outranks SageMaker's own Stopped state change of the training job.
    assert change.progress > progress_key(
        Stage.TRAINING, ENDED, FROM_SAGEMAKER, f"training-job {TRAINING} Stopped"
    )


def test_the_run_stopped_email_names_who_stopped_what() -> None:
    store = MemoryStore()
    store.objects[f"runs/{RUN}/run.json"] = run_json()

    email = compose_email(
        sample_event("notify", "run_stopped"), FakeSageMaker(), store, "sagechain", STACK_NAME, STACK_ID
    )

    assert email is not None
    assert email.subject == f"[sagechain] flowers: Run stopped (run {RUN})"
    assert (
        f"Run {RUN} was stopped by arn:aws:iam::123456789012:user/alice at its training stage." in email.body
    )
    assert f"Stopping training job: {TRAINING}" in email.body


def test_the_adapter_treats_a_job_no_longer_running_as_nothing_to_stop() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("stop_training_job", {}, {"TrainingJobName": TRAINING})
        stubber.add_client_error(
            "stop_hyper_parameter_tuning_job", "ValidationException", "Job is not in progress."
        )
        stopper = SageMakerJobStopper(client)

        assert stopper.stop(JobKind.TRAINING, TRAINING) is True
        assert stopper.stop(JobKind.TUNING, TUNING) is False
