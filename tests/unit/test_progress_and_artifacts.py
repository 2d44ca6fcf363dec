"""Training progress (secondary statuses) from SageMaker's events, and a run's artifacts."""

from datetime import UTC, datetime
from typing import Any

import pytest

from sagechain.api_errors import RunNotFoundError
from sagechain.event_sources.sagemaker import JobKind, StatusTransition, state_change
from sagechain.observers.artifacts import ARTIFACT_URL_SECONDS, ArtifactService
from sagechain.observers.timeline import RunRef, secondary_path
from sagechain.observers.timeline import state_change as timeline_change
from sagechain.ports import TrainingJobFacts
from sagechain.run_history import JobState, RunItem, RunRecord, RunStatus, Stage
from tests.aws import sample_event
from tests.fakes import FakeSageMaker, MemoryStore
from tests.unit.test_stop_run import OneRun

AT = datetime(2026, 3, 2, 11, tzinfo=UTC)
RUN = "flowers-8b39944c64ac"
JOB = "sagechain-flowers-8b39944c64ac-train"


def training_event(transitions: list[dict[str, Any]], status: str = "Completed") -> dict[str, Any]:
    event = sample_event("deploy_model", "training_job_completed")
    event["detail"].update(TrainingJobStatus=status, SecondaryStatusTransitions=transitions)
    return event


def test_transitions_are_read_in_the_epoch_milliseconds_of_the_documented_sample() -> None:
    event = training_event(
        [
            {"Status": "Starting", "StartTime": "1583831889050", "EndTime": "1583831949050"},
            {"Status": "Training", "StartTime": 1583831949050, "EndTime": 1583833149050},
            {"Status": "Completed", "StartTime": "2020-03-10T09:39:09.050Z", "StatusMessage": "done"},
        ]
    )

    change = state_change(event, JobKind.TRAINING)

    assert change is not None
    starting, training, completed = change.transitions
    assert starting.start_time == datetime(2020, 3, 10, 9, 18, 9, 50000, tzinfo=UTC)
    assert (starting.seconds, training.seconds, completed.seconds) == (60, 1200, None)
    assert completed.message == "done"
    assert change.secondary_status == "Completed"


def test_the_documented_sample_without_transitions_still_parses() -> None:
    change = state_change(sample_event("deploy_model", "training_job_completed"), JobKind.TRAINING)

    assert change is not None
    assert change.transitions == ()


def test_an_event_with_a_transition_that_has_no_start_time_is_dropped_not_raised() -> None:
    change = state_change(training_event([{"Status": "Starting"}]), JobKind.TRAINING)

    assert change is None


def test_the_history_says_the_path_a_finished_job_took_and_the_job_keeps_the_transitions() -> None:
    event = training_event([])
    change = state_change(event, JobKind.TRAINING)
    assert change is not None
    described = TrainingJobFacts(
        name=JOB,
        status="Completed",
        secondary_status="Completed",
        training_seconds=1290,
        billable_seconds=400,
        transitions=[
            StatusTransition.model_validate(
                {"Status": "Starting", "StartTime": "1583831889050", "EndTime": "1583831954050"}
            ),
            StatusTransition.model_validate(
                {"Status": "Interrupted", "StartTime": "1583831954050", "EndTime": "1583831964050"}
            ),
            StatusTransition.model_validate(
                {"Status": "Training", "StartTime": "1583831964050", "EndTime": "1583833164050"}
            ),
            StatusTransition.model_validate({"Status": "Completed", "StartTime": "1583833164050"}),
        ],
    )

    recorded = timeline_change(change, RunRef(RUN, "flowers"), "https://console", training=described)

    assert recorded.history is not None
    assert recorded.history.summary.endswith(
        "Completed; Starting 1 min 05 s -> Interrupted 10 s -> Training 20 min 00 s -> Completed"
    )
    [job] = recorded.jobs
    assert [t.status for t in job.state.transitions] == ["Starting", "Interrupted", "Training", "Completed"]
    assert job.state.billable_seconds == 400


def test_a_path_of_hours_is_said_in_hours() -> None:
    long = StatusTransition.model_validate({"Status": "Training", "StartTime": 0, "EndTime": 7_500_000})

    assert secondary_path([long]) == "Training 2 h 05 min"


class Links:
    region = "us-east-1"

    def presigned_get(self, key: str, expires_in: int) -> str:
        return f"https://bucket.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}"


def artifacts_service(*jobs: JobState, objects: dict[str, bytes]) -> ArtifactService:
    run = RunItem(run_id=RUN, dataset="flowers", stage=Stage.LIVE, status=RunStatus.LIVE, created_at=AT)
    store = MemoryStore()
    store.objects.update(objects)
    return ArtifactService(
        OneRun(RunRecord(run=run, jobs=list(jobs), history=[])), store, Links(), FakeSageMaker(), lambda: AT
    )


def test_artifacts_list_only_what_exists_with_sizes_and_short_lived_links() -> None:
    training = JobState(kind=JobKind.TRAINING, name=JOB, status="Completed", updated_at=AT)
    labeling = JobState(kind=JobKind.LABELING, name="labeler", status="Completed", updated_at=AT)
    output = f"runs/{RUN}/training/{JOB}/output/"
    service = artifacts_service(
        training,
        labeling,
        objects={
            f"{output}model.tar.gz": b"m" * 10,
            f"{output}output.tar.gz": b"o" * 3,
            f"runs/{RUN}/training/checkpoints/{JOB}/step-1.ckpt": b"c",
            f"runs/{RUN}/train.manifest": b"t\n",
            f"runs/{RUN}/train.manifest.bak": b"not a manifest of ours",
            f"runs/{RUN}/labeling/labeler/manifests/output/output.manifest": b"l\n",
        },
    )

    found = service.run_artifacts(RUN)

    [job] = found.jobs
    assert job.model is not None
    assert job.output_data is not None
    assert (job.model.size_bytes, job.output_data.size_bytes) == (10, 3)
    assert job.model.download_url.endswith(f"X-Amz-Expires={ARTIFACT_URL_SECONDS}")
    assert [(m.kind, m.name) for m in found.manifests] == [
        ("manifest", "train.manifest"),
        ("labeling_manifest", "output.manifest"),
    ]
    assert (found.urls_expire_at - AT).total_seconds() == ARTIFACT_URL_SECONDS == 900


def test_a_job_that_wrote_nothing_yet_has_logs_but_no_downloads() -> None:
    running = JobState(kind=JobKind.TRAINING, name=JOB, status="InProgress", updated_at=AT)

    [job] = artifacts_service(running, objects={}).run_artifacts(RUN).jobs

    assert (job.model, job.output_data) == (None, None)
    assert job.logs_url


def test_artifacts_of_an_unknown_run_are_not_found() -> None:
    with pytest.raises(RunNotFoundError):
        artifacts_service(objects={}).run_artifacts("nosuch-000000000000")
