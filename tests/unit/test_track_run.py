"""What track_run records for each event (the table's conditional writes are tested on moto)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sagechain.event_sources.eventbridge import SagechainDelivery
from sagechain.event_sources.sagemaker import JobKind
from sagechain.events import BatchCompleted, LabelingProgress, LabelsRejected, StageFailed, TrainingStarted
from sagechain.observers.notify import compose_email
from sagechain.observers.timeline import sagechain_change
from sagechain.observers.track_run import track_run
from sagechain.ports import EndpointFacts, TrainingJobFacts
from sagechain.run_history import RunStatus, Stage
from tests.aws import sample_event
from tests.fakes import FakeSageMaker, MemoryStore, RecordingRunStore
from tests.runs import STACK_ID, STACK_NAME, bus_event
from tests.unit.test_notify import CONFIG, ENDPOINT, LABELING, RUN, TRAINING, TUNING, arn, run_json


@pytest.fixture
def sagemaker() -> FakeSageMaker:
    tag = {"sagechain:run-id": RUN, "sagechain:stack": "sagechain"}
    return FakeSageMaker(tags={arn("labeling-job", LABELING): tag, arn("endpoint-config", CONFIG): tag})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("sagechain-data-example", {f"runs/{RUN}/run.json": run_json()})


def test_a_prepared_dataset_starts_the_run_with_its_counts_and_estimate(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    runs = RecordingRunStore()

    track_run(
        sample_event("track_run", "dataset_prepared"),
        sagemaker,
        store,
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    [change] = runs.changes
    assert (change.run_id, change.dataset, change.stage, change.status) == (
        RUN,
        "flowers",
        Stage.DATASET,
        RunStatus.IN_PROGRESS,
    )
    assert change.starts_run
    assert (change.facts.objects, change.facts.labeling_cost_estimate_usd) == (8, Decimal("0.64"))
    assert change.history is not None
    assert change.history.summary == "Dataset prepared: 8 images listed for labeling"


def test_a_labeling_state_change_is_filed_under_the_run_its_tags_name(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    runs = RecordingRunStore()

    track_run(
        sample_event("track_run", "labeling_job_completed"),
        sagemaker,
        store,
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    [change] = runs.changes
    assert (change.run_id, change.dataset, change.stage) == (RUN, "flowers", Stage.LABELING)
    [job] = change.jobs
    assert (job.state.kind, job.state.name, job.state.status) == (JobKind.LABELING, LABELING, "Completed")


def test_a_finished_training_job_keeps_its_training_and_billable_seconds(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    sagemaker.training[TRAINING] = TrainingJobFacts(
        name=TRAINING, status="Completed", training_seconds=1800, billable_seconds=600, spot=True
    )
    runs = RecordingRunStore()

    track_run(
        sample_event("track_run", "training_job_completed"),
        sagemaker,
        store,
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    [job] = runs.changes[0].jobs
    assert (job.state.training_seconds, job.state.billable_seconds) == (1800, 600)


def test_a_tuning_jobs_trial_updates_only_its_job(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    sagemaker.training[TRAINING] = TrainingJobFacts(
        name=TRAINING, status="Failed", tuning_job_arn=arn("hyper-parameter-tuning-job", TUNING)
    )
    # A tuning job's tags are copied onto the training jobs it launches.
    sagemaker.tag_map[arn("training-job", TRAINING)] = {
        "sagechain:run-id": RUN,
        "sagechain:stack": "sagechain",
    }
    runs = RecordingRunStore()

    track_run(
        sample_event("notify", "training_job_failed"),
        sagemaker,
        store,
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    [change] = runs.changes
    assert not change.moves_run
    assert change.history is None
    assert change.error is None
    assert [job.state.status for job in change.jobs] == ["Failed"]


def test_a_failed_endpoint_without_a_reason_in_the_event_gets_describe_endpoints(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    sagemaker.endpoints[ENDPOINT] = EndpointFacts(name=ENDPOINT, status="Failed", failure_reason="quota")
    runs = RecordingRunStore()

    track_run(
        sample_event("notify", "endpoint_failed"), sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID
    )

    [change] = runs.changes
    assert (change.stage, change.status, change.error) == (Stage.DEPLOYMENT, RunStatus.FAILED, "quota")


def test_events_about_someone_elses_resources_are_not_recorded(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    event = sample_event("track_run", "training_job_in_progress")
    event["detail"]["TrainingJobName"] = "notebook-experiment-7"
    runs = RecordingRunStore()

    assert track_run(event, sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID) is None
    assert runs.changes == []


def test_failures_of_two_deployments_to_one_endpoint_are_two_facts_and_a_duplicate_is_one() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from sagechain.event_sources.sagemaker import StateChange  # noqa: PLC0415

    def failed(config: str) -> StateChange:
        return StateChange(
            kind=JobKind.ENDPOINT,
            name="sagechain-flowers",
            arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/sagechain-flowers",
            status="Failed",
            at=datetime(2026, 11, 25, tzinfo=UTC),
            config_name=config,
        )

    first, again, later = failed("run-1-config"), failed("run-1-config"), failed("run-2-config")

    assert first.about == again.about
    assert first.about != later.about


def test_the_run_history_keeps_who_uploaded_the_dataset(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    runs = RecordingRunStore()
    event = sample_event("track_run", "dataset_prepared")
    event["detail"] |= {"uploaded_by": "AWS:AIDAEXAMPLE", "uploaded_from": "198.51.100.7"}

    track_run(event, sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID)

    [change] = runs.changes
    assert (change.facts.uploaded_by, change.facts.uploaded_from) == ("AWS:AIDAEXAMPLE", "198.51.100.7")


@pytest.mark.parametrize(
    ("case", "stage"), [("training_failed", Stage.TRAINING), ("labeling_failed", Stage.LABELING)]
)
def test_an_aws_refusal_ends_the_run_failed_at_its_stage_with_the_cause(
    case: str, stage: Stage, sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    runs = RecordingRunStore()
    event = sample_event("track_run", case)

    track_run(event, sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID)

    [change] = runs.changes
    assert (change.stage, change.status) == (stage, RunStatus.FAILED)
    assert change.error == event["detail"]["reason"]
    assert change.summary.endswith(f"({event['detail']['error']['code']})")


def test_a_partial_start_stays_in_progress_and_its_history_names_the_refused_sets(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    runs = RecordingRunStore()
    event = sample_event("track_run", "training_started")
    failed = sample_event("track_run", "training_failed")["detail"]
    refused = {**failed["refused"][0], "job_name": "sagechain-x-train-1", "hyperparameter_set": 1}
    event["detail"] = {**event["detail"], "refused": [refused]}

    track_run(event, sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID)

    [change] = runs.changes
    assert (change.stage, change.status, change.error) == (Stage.TRAINING, RunStatus.IN_PROGRESS, None)
    assert change.history is not None
    assert change.history.error is not None
    assert change.history.error.startswith("refused: set 1 sagechain-x-train-1 (ResourceLimitExceeded: ")
    assert "refused: set 1" in change.summary


@pytest.mark.parametrize("case", ["batch_started", "batch_rejected", "batch_completed", "batch_failed"])
def test_a_batch_is_kept_in_its_models_run_history_without_moving_the_run(
    case: str, sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    runs = RecordingRunStore()

    track_run(sample_event("notify", case), sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID)

    [change] = runs.changes
    assert change.run_id == RUN
    assert not change.starts_run
    # Below every stage's position ("1." is the dataset's): a live run stays where it is.
    assert change.progress.startswith("0.")
    assert change.history_key.endswith("#tonight-3f2a9c1d0b7e")
    assert change.history is not None
    assert change.history.summary.startswith("Batch tonight (s3://sagechain-data/batches/sagechain-flowers/")


def test_two_batches_of_one_run_are_two_history_entries_and_two_emails() -> None:
    detail = sample_event("notify", "batch_completed")["detail"]
    first = BatchCompleted.model_validate(detail)
    second = first.model_copy(update={"batch_id": "later-0123456789ab", "batch_name": "later"})
    deliveries = [
        SagechainDelivery(event=e, at=datetime(2026, 3, 10, 2, tzinfo=UTC)) for e in (first, second)
    ]

    assert len({sagechain_change(d).history_key for d in deliveries}) == 2
    assert len({d.about for d in deliveries}) == 2


def test_labeling_progress_moves_the_run_forward_and_keeps_a_history_entry_per_tenth() -> None:
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)

    def progress(labeled: int) -> LabelingProgress:
        return LabelingProgress(
            run_id=RUN, dataset="flowers", labeled=labeled, unusable=0, total=20, source_uri="s3://b/k"
        )

    changes = [sagechain_change(SagechainDelivery(event=progress(n), at=at)) for n in (1, 2, 3, 10, 11)]
    rejected = LabelsRejected(run_id=RUN, dataset="flowers", source_uri="s3://b/labels/x.json", reason="bad")
    rejection = sagechain_change(SagechainDelivery(event=rejected, at=at))

    # Then each count is further along (a late, smaller count never moves the run back) ...
    assert [c.progress for c in changes] == sorted(c.progress for c in changes)
    assert len({c.progress for c in changes}) == len(changes)
    assert changes[-1].summary == "Labeling: 11 of 20 images labeled"
    # ... the history keeps one entry per tenth of the images, not one per annotation ...
    assert len({c.history_key for c in changes}) == 3
    # ... and a rejected upload sorts below every count: later arrivals still move the run
    assert rejection.progress < changes[0].progress
    assert rejection.error == "bad"


def test_a_parked_training_start_fails_the_run_at_training_unemailed_and_a_redrive_moves_it_on() -> None:
    # Given report_failures' Stage Failed for a run whose training start failed every try
    at = datetime(2026, 3, 10, 2, tzinfo=UTC)
    failed = StageFailed(
        run_id=RUN,
        dataset="flowers",
        stage="start_training",
        stage_label="Training start",
        run_stage="training",
        reason="start_training failed on every delivery from its queue (5, about 16 minutes apart).",
        saved_event_uri="s3://b/failures/2026/03/10/f/m.json",
        message_id="m",
    )
    bus = bus_event(failed)

    change = sagechain_change(SagechainDelivery(event=failed, at=at))

    # Then the run is failed at training, naming the step and the saved event; nobody is emailed
    # twice (report_failures emailed it)
    assert (change.stage, change.status) == (Stage.TRAINING, RunStatus.FAILED)
    assert change.summary.startswith("Training start failed: start_training failed on every try")
    assert "s3://b/failures/2026/03/10/f/m.json" in change.summary
    assert change.error == failed.reason
    assert compose_email(bus, FakeSageMaker(), MemoryStore(), "sagechain", STACK_NAME, STACK_ID) is None
    # And the redriven training start, once it succeeds, moves the run on from there
    started = TrainingStarted(
        run_id=RUN,
        dataset="flowers",
        job_names=[TRAINING],
        algorithm="builtin",
        instance_type="ml.m5.large",
        instance_count=1,
        spot=False,
        train_objects=6,
        validation_objects=2,
    )
    assert sagechain_change(SagechainDelivery(event=started, at=at)).progress > change.progress
