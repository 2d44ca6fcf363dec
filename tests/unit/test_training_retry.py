"""start_training for a retried run (POST /runs/{run_id}/retry): attempt N trains on the labels
an earlier attempt made, under names and tags of its own, keeps the sibling jobs that completed,
and no attempt a retry replaced or a stop ended starts anything."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from sagechain.adapters.training import SageMakerTraining
from sagechain.errors import StaleAttemptError
from sagechain.events import TrainingSkipped, TrainingStarted
from sagechain.names import TUNING_JOB_NAME_MAX, sagemaker_name
from sagechain.records import TrainingRecord
from sagechain.spec import TaskType
from sagechain.training.start_training import (
    TrainingTrigger,
    retried_training_trigger,
    start_training,
    training_trigger,
)
from tests.fakes import MemoryStore, RecordingPublisher
from tests.runs import (
    CREATED,
    ENVIRONMENT,
    GROUND_TRUTH_LABELING_JOB_A2,
    LABELING_JOB,
    RUN_ID,
    claim_attempt,
    classification_lines,
    describe_labeling_job,
    labeling_output_key,
    provided_spec,
    put_run,
    run_retried,
    spec_of,
    stop_attempt,
    training_record,
    two_class_labels,
)
from tests.stubs import count_calls, stubbed

BUCKET = "sagechain-data-example"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
SETS = {"hyperparameters": [{"epochs": 1}, {"epochs": 2}, {"epochs": 3}]}
GROUND_TRUTH_SPEC = spec_of(
    {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "ground-truth"}}
)
ATTEMPT_TAG = {"Key": "sagechain:attempt", "Value": "2"}
# Every member of a CreateTrainingJob request of these runs, whatever its value.
ANY_REQUEST = dict.fromkeys(
    (
        "TrainingJobName",
        "AlgorithmSpecification",
        "HyperParameters",
        "RoleArn",
        "InputDataConfig",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "EnableNetworkIsolation",
        "Tags",
    ),
    ANY,
)


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    with stubbed("sagemaker") as (client, stubber):
        yield client, stubber


def provided_run(training: dict[str, Any] | None = None) -> MemoryStore:
    store = MemoryStore(BUCKET)
    spec = provided_spec(TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"], training)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(50)))
    return store


def ground_truth_run() -> MemoryStore:
    store = MemoryStore(BUCKET)
    put_run(store, GROUND_TRUTH_SPEC, None)
    store.objects[labeling_output_key()] = classification_lines(
        GROUND_TRUTH_SPEC, BUCKET, two_class_labels(50)
    )
    return store


def retry(attempt: int = 2, **fields: Any) -> TrainingTrigger:
    trigger = retried_training_trigger(run_retried(attempt, "training", **fields))
    assert trigger is not None
    return trigger


def train(trigger: TrainingTrigger, store: MemoryStore, client: Any) -> tuple[Any, RecordingPublisher]:
    publisher = RecordingPublisher()
    return start_training(trigger, store, SageMakerTraining(client), publisher, ENVIRONMENT), publisher


def training_json(store: MemoryStore) -> TrainingRecord:
    return TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])


def described(name: str, status: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "ModelArtifacts": {
            "S3ModelArtifacts": f"s3://{BUCKET}/runs/{RUN_ID}/training/{name}/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": CREATED,
    }


def first_attempt_of_sets(store: MemoryStore, client: Any, stubber: Stubber) -> TrainingRecord:
    """Attempt 1 with three hyperparameter sets, as start_training recorded it."""
    for _ in range(3):
        stubber.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/x"})
    train(TrainingTrigger(key=f"labeled-manifest/{RUN_ID}", run_id=RUN_ID), store, client)
    return training_json(store)


def test_a_retry_from_training_trains_attempt_2_under_its_own_name_and_tag(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = provided_run()
    claim_attempt(store, 2, "training")
    job = f"sagechain-{RUN_ID}-train-a2"
    stubber.add_response(
        "create_training_job",
        {"TrainingJobArn": f"{ARN}:training-job/{job}"},
        {
            "TrainingJobName": job,
            "AlgorithmSpecification": ANY,
            "HyperParameters": ANY,
            "RoleArn": ANY,
            "InputDataConfig": ANY,
            "OutputDataConfig": ANY,
            "ResourceConfig": ANY,
            "StoppingCondition": ANY,
            "EnableNetworkIsolation": True,
            "Tags": [
                {"Key": "sagechain:run-id", "Value": RUN_ID},
                {"Key": "sagechain:stack", "Value": "sagechain"},
                ATTEMPT_TAG,
            ],
        },
    )

    event, publisher = train(retry(2), store, client)

    assert isinstance(event, TrainingStarted)
    assert (event.job_names, event.attempt, event.reused_jobs) == ([job], 2, [])
    assert publisher.events == [event]
    assert (training_json(store).attempt, training_json(store).job_names) == (2, [job])


def test_a_ground_truth_retry_reuses_the_named_labeling_jobs_labels_and_labels_nothing(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    claim_attempt(store, 2, "training")
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=50), {"LabelingJobName": LABELING_JOB}
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/x"})
    counts = count_calls(client)

    event, _ = train(retry(2, labeling_job_name=LABELING_JOB), store, client)

    assert isinstance(event, TrainingStarted)
    assert (event.train_objects, event.validation_objects) == (40, 10)
    assert counts["CreateLabelingJob"] == 0
    assert training_json(store).labeling_job_name == LABELING_JOB


def test_a_retry_without_a_labeling_job_in_the_event_takes_the_previous_trainings(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    store.objects[f"runs/{RUN_ID}/training.json"] = (
        training_record(labeling_job_name=LABELING_JOB).model_dump_json().encode()
    )
    claim_attempt(store, 2, "training")
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=50), {"LabelingJobName": LABELING_JOB}
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/x"})

    event, _ = train(retry(2), store, client)

    assert isinstance(event, TrainingStarted)
    assert training_json(store).labeling_job_name == LABELING_JOB


def test_a_retry_whose_labeling_job_is_another_runs_is_skipped_with_the_way_out(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    claim_attempt(store, 2, "training")
    stubber.add_response(
        "describe_labeling_job",
        describe_labeling_job(BUCKET, labeled=50, run_id="someone-else-0123456789ab"),
        {"LabelingJobName": LABELING_JOB},
    )

    event, _ = train(retry(2, labeling_job_name=LABELING_JOB), store, client)

    assert isinstance(event, TrainingSkipped)
    assert event.attempt == 2
    assert "?from=labeling" in event.reason


def test_a_sets_retry_keeps_the_completed_siblings_and_trains_only_the_rest(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = provided_run(SETS)
    first = first_attempt_of_sets(store, client, stubber)
    claim_attempt(store, 2, "training")
    done0, failed1, done2 = first.job_names
    for name, status in ((done0, "Completed"), (failed1, "Failed"), (done2, "Completed")):
        stubber.add_response("describe_training_job", described(name, status), {"TrainingJobName": name})
    new1 = f"sagechain-{RUN_ID}-train-1-a2"
    stubber.add_response(
        "create_training_job",
        {"TrainingJobArn": f"{ARN}:training-job/{new1}"},
        {**ANY_REQUEST, "TrainingJobName": new1},
    )
    counts = count_calls(client)

    event, _ = train(retry(2), store, client)

    assert counts["CreateTrainingJob"] == 1
    assert isinstance(event, TrainingStarted)
    assert event.job_names == [done0, new1, done2]
    assert event.reused_jobs == [done0, done2]
    record = training_json(store)
    assert (record.attempt, record.job_names) == (2, [done0, new1, done2])
    assert [h["epochs"] for h in record.hyperparameters] == ["1", "2", "3"]


def test_a_sets_retry_whose_siblings_all_completed_still_announces_its_training(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = provided_run(SETS)
    first = first_attempt_of_sets(store, client, stubber)
    claim_attempt(store, 2, "training")
    for name in first.job_names:
        stubber.add_response("describe_training_job", described(name, "Completed"), {"TrainingJobName": name})
    counts = count_calls(client)

    event, publisher = train(retry(2), store, client)

    assert counts["CreateTrainingJob"] == 0
    assert isinstance(event, TrainingStarted)
    assert event.job_names == event.reused_jobs == first.job_names
    assert publisher.events == [event]


def test_a_tuning_retry_gets_a_tuning_job_name_of_its_attempt_within_32_characters(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    tuning = {
        "algorithm": "123456789012.dkr.ecr.us-east-1.amazonaws.com/flowers:1",
        "metric_definitions": [{"name": "val:acc", "regex": "acc=([0-9.]+)"}],
        "tuning": {
            "objective_metric": "val:acc",
            "max_jobs": 2,
            "ranges": [{"name": "lr", "type": "continuous", "min": 0.001, "max": 0.1}],
        },
    }
    store = provided_run(tuning)
    claim_attempt(store, 2, "training")
    stubber.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": f"{ARN}:x"})

    event, _ = train(retry(2), store, client)

    assert isinstance(event, TrainingStarted)
    assert event.tuning_job_name is not None
    assert len(event.tuning_job_name) <= TUNING_JOB_NAME_MAX
    # Hash-shortened, like attempt 1's, and not attempt 1's.
    first = sagemaker_name("sagechain", RUN_ID, "tune", max_length=TUNING_JOB_NAME_MAX)
    assert event.tuning_job_name == sagemaker_name(
        "sagechain", RUN_ID, "tune", "a2", max_length=TUNING_JOB_NAME_MAX
    )
    assert event.tuning_job_name != first


def test_a_retry_delivered_after_a_later_retry_began_trains_nothing(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker
    store = provided_run()
    claim_attempt(store, 3, "training")
    counts = count_calls(client)
    publisher = RecordingPublisher()

    with pytest.raises(StaleAttemptError, match="replaced by attempt 3"):
        start_training(retry(2), store, SageMakerTraining(client), publisher, ENVIRONMENT)

    assert counts["CreateTrainingJob"] == 0
    assert publisher.events == []


def test_a_stale_attempt_1_labeling_completion_after_attempt_2_began_trains_nothing(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    claim_attempt(store, 2, "labeling")
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=50), {"LabelingJobName": LABELING_JOB}
    )
    completed = TrainingTrigger(key=f"labeling-job/{LABELING_JOB}/Completed", labeling_job_name=LABELING_JOB)

    with pytest.raises(StaleAttemptError, match="replaced by attempt 2"):
        train(completed, store, client)

    assert f"runs/{RUN_ID}/train.manifest" not in store.objects


def test_the_labeling_job_of_attempt_2_completing_trains_attempt_2(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    claim_attempt(store, 2, "labeling")
    answer = describe_labeling_job(BUCKET, labeled=50, job=GROUND_TRUTH_LABELING_JOB_A2)
    answer["Tags"].append(ATTEMPT_TAG)
    store.objects[labeling_output_key(job=GROUND_TRUTH_LABELING_JOB_A2)] = store.objects[
        labeling_output_key()
    ]
    stubber.add_response("describe_labeling_job", answer, {"LabelingJobName": GROUND_TRUTH_LABELING_JOB_A2})
    stubber.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/x"})
    completed = TrainingTrigger(
        key=f"labeling-job/{GROUND_TRUTH_LABELING_JOB_A2}/Completed",
        labeling_job_name=GROUND_TRUTH_LABELING_JOB_A2,
    )

    event, _ = train(completed, store, client)

    assert isinstance(event, TrainingStarted)
    assert (event.attempt, event.job_names) == (2, [f"sagechain-{RUN_ID}-train-a2"])


def test_a_stopped_runs_labeling_completion_trains_nothing(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    stop_attempt(store, 1)
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=50), {"LabelingJobName": LABELING_JOB}
    )
    completed = TrainingTrigger(key=f"labeling-job/{LABELING_JOB}/Completed", labeling_job_name=LABELING_JOB)
    counts = count_calls(client)

    with pytest.raises(StaleAttemptError, match="was stopped"):
        train(completed, store, client)

    assert counts["CreateTrainingJob"] == 0


def test_a_stopped_runs_provided_manifest_trains_nothing(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker
    store = provided_run()
    stop_attempt(store, 1)

    with pytest.raises(StaleAttemptError):
        train(TrainingTrigger(key=f"labeled-manifest/{RUN_ID}", run_id=RUN_ID), store, client)


def test_only_a_retry_from_training_is_a_training_trigger() -> None:
    assert retried_training_trigger(run_retried(2, "labeling")) is None
    assert retried_training_trigger(run_retried(2, "deployment")) is None
    assert retry(3).key == f"retry/{RUN_ID}/3"
    assert training_trigger({"source": "sagechain"}, BUCKET) is None
