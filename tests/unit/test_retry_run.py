"""POST /runs/{run_id}/retry: which attempt starts where, what is refused, and how it is recorded."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sagechain.api_errors import RunNotFoundError, StateConflictError
from sagechain.attempts import attempt_key, why_not_start
from sagechain.event_sources.eventbridge import SagechainDelivery
from sagechain.event_sources.sagemaker import JobKind, StateChange
from sagechain.events import RetryStage, RunRetried, TrainingStarted
from sagechain.names import ATTEMPT_TAG, RUN_ID_TAG, STACK_TAG
from sagechain.observers.notify import compose_email
from sagechain.observers.timeline import RunRef, sagechain_change, state_change
from sagechain.run_control.retry_run import RetryRunService
from sagechain.run_history import HistoryEntry, JobState, RunItem, RunRecord, RunStatus, Stage
from tests.fakes import FakeSageMaker, MemoryDeploymentStore, MemoryStore, RecordingPublisher
from tests.runs import STACK_ID, STACK_NAME
from tests.unit.test_stop_run import OneRun

AT = datetime(2026, 3, 2, 11, tzinfo=UTC)
RUN = "flowers-8b39944c64ac"
LABELING = "sagechain-flowers-8b39944c64ac-labeling"
TRAINING = "sagechain-flowers-8b39944c64ac-train"


def run_record(
    stage: Stage,
    status: RunStatus,
    *,
    mode: str = "ground-truth",
    attempt: int | None = None,
    jobs: tuple[JobState, ...] = (),
    training_job: str | None = None,
) -> RunRecord:
    run = RunItem(
        run_id=RUN,
        dataset="flowers",
        stage=stage,
        status=status,
        created_at=AT,
        labeling_mode=mode,
        labeling_job=LABELING if mode == "ground-truth" else None,
        labeling_cost_estimate_usd=Decimal("9.60") if mode == "ground-truth" else None,
        attempt=attempt,
        training_job=training_job,
    )
    return RunRecord(run=run, jobs=list(jobs), history=[])


def service(
    stored: RunRecord | None, store: MemoryDeploymentStore | None = None
) -> tuple[RetryRunService, RecordingPublisher, MemoryDeploymentStore, OneRun]:
    publisher, store, runs = RecordingPublisher(), store or MemoryDeploymentStore(), OneRun(stored)
    return RetryRunService(runs, store, publisher, lambda: AT), publisher, store, runs


def retried(publisher: RecordingPublisher) -> list[RunRetried]:
    return [event for event in publisher.events if isinstance(event, RunRetried)]


def test_a_failed_training_is_retried_from_training_with_the_same_labels() -> None:
    retry, publisher, store, _ = service(run_record(Stage.TRAINING, RunStatus.FAILED))

    accepted = retry.retry_run(RUN, requested_by="arn:aws:iam::123456789012:user/ops")

    assert (accepted.attempt, accepted.from_stage, accepted.status) == (2, "training", RunStatus.IN_PROGRESS)
    assert accepted.reuses[0] == f"the labels of labeling job {LABELING}"
    [event] = retried(publisher)
    assert (event.attempt, event.from_stage, event.labeling_job_name) == (2, "training", LABELING)
    assert (event.previous_status, event.previous_stage) == ("failed", "training")
    assert event.requested_by == "arn:aws:iam::123456789012:user/ops"
    assert attempt_key(RUN, 2) in store.objects
    # The first attempt's late events now start nothing.
    assert why_not_start(store, RUN, 1) is not None
    assert why_not_start(store, RUN, 2) is None


def test_a_duplicate_retry_before_it_is_recorded_republishes_the_same_attempt() -> None:
    stored = run_record(Stage.TRAINING, RunStatus.STOPPED)
    retry, publisher, store, _ = service(stored)
    retry.retry_run(RUN)

    again = retry.retry_run(RUN)

    # Same attempt, same event (the stage starts an attempt once); no third attempt is claimed.
    assert again.attempt == 2
    assert [(e.attempt, e.from_stage) for e in retried(publisher)] == [(2, "training"), (2, "training")]
    assert attempt_key(RUN, 3) not in store.objects


def test_a_retry_asking_another_stage_while_one_is_starting_is_a_conflict() -> None:
    retry, publisher, _, _ = service(run_record(Stage.DEPLOYMENT, RunStatus.FAILED))
    retry.retry_run(RUN)

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN, "training")

    assert "attempt 2 was requested" in raised.value.message
    assert len(retried(publisher)) == 1


def test_once_the_retry_is_recorded_and_fails_the_next_retry_is_attempt_3() -> None:
    store = MemoryDeploymentStore()
    first, _, _, _ = service(run_record(Stage.TRAINING, RunStatus.FAILED), store)
    first.retry_run(RUN)
    later, publisher, _, _ = service(run_record(Stage.TRAINING, RunStatus.FAILED, attempt=2), store)

    assert later.retry_run(RUN).attempt == 3
    assert retried(publisher)[0].attempt == 3


def test_a_run_in_progress_cannot_be_retried_and_is_told_to_stop_first() -> None:
    retry, publisher, _, _ = service(run_record(Stage.TRAINING, RunStatus.IN_PROGRESS, attempt=2))

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN)

    assert "in_progress at its training stage" in raised.value.message
    assert f"POST /runs/{RUN}/stop" in raised.value.message
    assert publisher.events == []


@pytest.mark.parametrize(
    ("status", "stage", "says"),
    [
        (RunStatus.REJECTED, Stage.DATASET, "upload dataset.json again"),
        (RunStatus.SKIPPED, Stage.TRAINING, "a retry does not change"),
        (RunStatus.LIVE, Stage.LIVE, "nothing to retry"),
        (RunStatus.FAILED, Stage.DATASET, "before labeling or training began"),
    ],
)
def test_runs_that_a_retry_cannot_help_are_conflicts_saying_what_applies(
    status: RunStatus, stage: Stage, says: str
) -> None:
    retry, publisher, store, _ = service(run_record(stage, status))

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN)

    assert says in raised.value.message
    assert publisher.events == []
    assert store.objects == {}


def test_an_unknown_run_is_not_found() -> None:
    retry, _, _, _ = service(None)

    with pytest.raises(RunNotFoundError):
        retry.retry_run(RUN)


def test_labeling_is_bought_again_only_when_the_caller_asks() -> None:
    stored = run_record(Stage.LABELING, RunStatus.FAILED)
    retry, publisher, _, _ = service(stored)

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN)

    assert "?from=labeling" in raised.value.message
    assert "$9.60" in raised.value.message
    assert publisher.events == []
    accepted = retry.retry_run(RUN, "labeling")
    assert (accepted.attempt, accepted.from_stage) == (2, "labeling")
    assert retried(publisher)[0].labeling_job_name is None


@pytest.mark.parametrize(
    ("stage", "mode", "asked", "says"),
    [
        (Stage.TRAINING, "ground-truth", "deployment", "not at deployment"),
        (Stage.LABELING, "ground-truth", "training", "not at training"),
        (Stage.TRAINING, "provided", "labeling", "labels were provided"),
    ],
)
def test_a_stage_the_run_cannot_start_at_is_a_conflict(
    stage: Stage, mode: str, asked: RetryStage, says: str
) -> None:
    retry, publisher, _, _ = service(run_record(stage, RunStatus.FAILED, mode=mode))

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN, asked)

    assert says in raised.value.message
    assert publisher.events == []


def test_a_failed_deployment_is_retried_with_the_trained_model_and_can_ask_to_retrain() -> None:
    store = MemoryDeploymentStore()
    redeploy, publisher, _, _ = service(
        run_record(Stage.DEPLOYMENT, RunStatus.FAILED, training_job=TRAINING), store
    )

    accepted = redeploy.retry_run(RUN)

    assert accepted.from_stage == "deployment"
    assert retried(publisher)[0].reused_jobs == [TRAINING]
    assert f"training job {TRAINING}" in accepted.reuses
    other, published, _, _ = service(run_record(Stage.DEPLOYMENT, RunStatus.FAILED), MemoryDeploymentStore())
    assert other.retry_run(RUN, "training").from_stage == "training"
    assert retried(published)[0].reused_jobs == []


def test_a_run_retried_too_often_is_refused() -> None:
    retry, publisher, _, _ = service(run_record(Stage.TRAINING, RunStatus.FAILED, attempt=20))

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN)

    assert "the most a run may have" in raised.value.message
    assert publisher.events == []


# ---------------------------------------------------------------- the run's history


def _retried_event(attempt: int = 2) -> RunRetried:
    return RunRetried(
        run_id=RUN,
        dataset="flowers",
        attempt=attempt,
        from_stage="training",
        previous_status="failed",
        previous_stage="training",
        labeling_job_name=LABELING,
    )


def test_the_retry_moves_the_run_past_every_event_of_the_attempt_before() -> None:
    retried_change = sagechain_change(SagechainDelivery(event=_retried_event(), at=AT))
    # The first attempt's training job reports Stopped after the retry was recorded.
    late = state_change(
        StateChange(kind=JobKind.TRAINING, name=TRAINING, arn="arn", status="Stopped", at=AT),
        RunRef(RUN, "flowers"),
        "https://console",
    )
    started_again = sagechain_change(
        SagechainDelivery(
            event=TrainingStarted(
                run_id=RUN,
                dataset="flowers",
                attempt=2,
                job_names=[f"{TRAINING}-a2"],
                algorithm="image-classification",
                instance_type="ml.p3.2xlarge",
                instance_count=1,
                spot=False,
                train_objects=8,
                validation_objects=2,
            ),
            at=AT,
        )
    )

    assert retried_change.status is RunStatus.IN_PROGRESS
    assert retried_change.stage is Stage.TRAINING
    assert retried_change.facts.attempt == 2
    assert retried_change.history is not None
    assert "attempt 2 starts at the training stage" in retried_change.history.summary
    assert late.progress < retried_change.progress < started_again.progress
    # Attempt 2's Training Started has a history entry of its own beside attempt 1's.
    assert started_again.history_key != "Training Started"


def test_a_job_tagged_with_its_attempt_is_placed_in_that_attempt() -> None:
    change = StateChange(
        kind=JobKind.TRAINING,
        name=f"{TRAINING}-a2",
        arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/x",
        status="Failed",
        at=AT,
        tags={RUN_ID_TAG: RUN, STACK_TAG: STACK_NAME, ATTEMPT_TAG: "2"},
    )
    from sagechain.observers.timeline import resolve_run  # noqa: PLC0415 - beside its use

    run = resolve_run(change, FakeSageMaker(), MemoryStore(), "sagechain", STACK_NAME)

    assert run is not None
    assert run.attempt == 2
    failed = state_change(change, run, "https://console")
    retried_change = sagechain_change(SagechainDelivery(event=_retried_event(), at=AT))
    assert failed.progress > retried_change.progress
    assert failed.status is RunStatus.FAILED


def test_the_retry_email_says_where_the_attempt_starts_and_what_it_reuses() -> None:
    event = {
        "version": "0",
        "id": "5d7c2a1e-0000-4000-8000-000000000001",
        "detail-type": "Run Retried",
        "source": "sagechain",
        "account": "123456789012",
        "time": "2026-03-02T11:00:00Z",
        "region": "us-east-1",
        "resources": [STACK_ID],
        "detail": _retried_event().model_dump(mode="json"),
    }

    email = compose_email(event, FakeSageMaker(), MemoryStore(), "sagechain", STACK_NAME, STACK_ID)

    assert email is not None
    assert "Run retried" in email.subject
    assert "attempt 2 starts at its training stage" in email.body
    assert f"Labels reused from: {LABELING}" in email.body
    assert email.key == f"Run Retried#{RUN}#a2"


def test_a_run_stopped_as_its_labeling_completed_resumes_at_training_without_relabeling() -> None:
    done = JobState(kind=JobKind.LABELING, name=LABELING, status="Completed", updated_at=AT)
    retry, publisher, _, _ = service(run_record(Stage.LABELING, RunStatus.STOPPED, jobs=(done,)))

    accepted = retry.retry_run(RUN)

    assert accepted.from_stage == "training"
    assert retried(publisher)[0].labeling_job_name == LABELING


@pytest.mark.parametrize("asked", [None, "labeling"])
def test_a_run_waiting_for_its_own_tools_labels_is_not_retried_at_labeling_and_is_told_what_to_upload(
    asked: RetryStage | None,
) -> None:
    # Given a Label Studio run stopped while it waited for annotations
    retry, publisher, _, _ = service(run_record(Stage.LABELING, RunStatus.STOPPED, mode="label-studio"))

    # When it is retried (at its labeling stage)
    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN, asked)

    # Then nothing starts, and the answer says what does: a new upload of dataset.json
    message = raised.value.message
    assert "labeled in your own tool (label-studio)" in message
    assert "upload dataset.json again" in message
    assert "Ground Truth" not in message
    assert "provided" not in message
    assert "retry from training" not in message
    assert publisher.events == []


def test_an_own_tool_run_whose_labels_are_in_retries_from_training_on_them() -> None:
    failed = run_record(Stage.TRAINING, RunStatus.FAILED, mode="label-studio")
    completed = HistoryEntry(
        at=AT, stage=Stage.LABELING, event="Labeling Completed", status=RunStatus.IN_PROGRESS, summary="done"
    )
    stored = failed.model_copy(update={"history": [completed]})
    retry, publisher, _, _ = service(stored)

    with pytest.raises(StateConflictError) as raised:
        retry.retry_run(RUN, "labeling")
    assert "retry from training (POST /runs/" in raised.value.message
    accepted = retry.retry_run(RUN)

    assert accepted.from_stage == "training"
    assert accepted.reuses[0] == f"the labels from label-studio (runs/{RUN}/labeled.manifest)"
    assert len(retried(publisher)) == 1
