"""start_training's outcomes: what starts, what is skipped and why, what is retried, what is ignored."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from sagechain.adapters.training import SageMakerTraining
from sagechain.errors import RetryableError
from sagechain.events import TrainingFailed, TrainingSkipped, TrainingStarted
from sagechain.records import TrainingRecord
from sagechain.spec import TaskType
from sagechain.training.settings import TrainingEnvironment
from sagechain.training.start_training import TrainingTrigger, start_training, training_trigger
from tests.aws import sample_event
from tests.fakes import MemoryStore, RecordingPublisher
from tests.runs import (
    ENVIRONMENT,
    LABELING_JOB,
    RUN_ID,
    classification_lines,
    describe_labeling_job,
    labeling_output_key,
    provided_spec,
    put_run,
    spec_of,
    two_class_labels,
)
from tests.stubs import count_calls, stubbed

BUCKET = "sagechain-data-example"
PROVIDED = TrainingTrigger(key=f"labeled-manifest/{RUN_ID}", run_id=RUN_ID)
LABELED = TrainingTrigger(key=f"labeling-job/{LABELING_JOB}/Completed", labeling_job_name=LABELING_JOB)
GROUND_TRUTH_SPEC = spec_of(
    {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "ground-truth"}}
)
JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    with stubbed("sagemaker") as (client, stubber):
        yield client, stubber


def provided_run(count: int = 50, training: dict[str, Any] | None = None) -> MemoryStore:
    store = MemoryStore(BUCKET)
    spec = provided_spec(TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"], training)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(count)))
    return store


def ground_truth_run(labeled: int = 50) -> MemoryStore:
    store = MemoryStore(BUCKET)
    put_run(store, GROUND_TRUTH_SPEC, None)
    store.objects[labeling_output_key()] = classification_lines(
        GROUND_TRUTH_SPEC, BUCKET, two_class_labels(labeled)
    )
    return store


def run(
    trigger: TrainingTrigger, store: MemoryStore, client: Any, environment: TrainingEnvironment = ENVIRONMENT
) -> tuple[Any, RecordingPublisher]:
    publisher = RecordingPublisher()
    return start_training(trigger, store, SageMakerTraining(client), publisher, environment), publisher


def test_a_completed_labeling_job_trains_on_its_output_manifest_without_copying_it(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=50), {"LabelingJobName": LABELING_JOB}
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})

    event, publisher = run(LABELED, store, client)

    assert isinstance(event, TrainingStarted)
    assert (event.train_objects, event.validation_objects) == (40, 10)
    # labeled.manifest is the provided-labels trigger: writing it would start training twice.
    assert f"runs/{RUN_ID}/labeled.manifest" not in store.objects
    assert f"runs/{RUN_ID}/train.manifest" in store.objects
    assert publisher.events == [event]


def test_a_labeling_job_that_labeled_nothing_is_skipped_with_the_reason(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=0), {"LabelingJobName": LABELING_JOB}
    )
    counts = count_calls(client)

    event, publisher = run(LABELED, store, client)

    assert isinstance(event, TrainingSkipped)
    assert event.labeling_job_name == LABELING_JOB
    assert "completed with no labeled images (2 failed, 0 not labeled)" in event.reason
    assert counts["CreateTrainingJob"] == counts["CreateHyperParameterTuningJob"] == 0
    assert f"runs/{RUN_ID}/train.manifest" not in store.objects
    assert publisher.events == [event]


def test_a_labeling_job_without_our_run_tag_is_ignored(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    store = ground_truth_run()
    stubber.add_response(
        "describe_labeling_job",
        describe_labeling_job(BUCKET, labeled=50, run_id=None),
        {"LabelingJobName": ANY},
    )

    event, publisher = run(LABELED, store, client)

    assert event is None
    assert publisher.events == []


def test_a_labeling_job_not_yet_read_as_completed_is_retried(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    answer = {**describe_labeling_job(BUCKET, labeled=50), "LabelingJobStatus": "InProgress"}
    stubber.add_response("describe_labeling_job", answer, {"LabelingJobName": LABELING_JOB})
    publisher = RecordingPublisher()

    with pytest.raises(RetryableError, match="not yet Completed"):
        start_training(LABELED, ground_truth_run(), SageMakerTraining(client), publisher, ENVIRONMENT)

    assert publisher.events == []


def test_ground_truth_output_outside_the_data_bucket_is_skipped(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    answer = describe_labeling_job(BUCKET, labeled=5, output_uri="s3://someone-else/output.manifest")
    stubber.add_response("describe_labeling_job", answer, {"LabelingJobName": LABELING_JOB})

    event, _ = run(LABELED, ground_truth_run(), client)

    assert isinstance(event, TrainingSkipped)
    assert "outside the data bucket" in event.reason


def test_too_few_images_for_both_channels_is_skipped_and_writes_no_manifest(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, _ = sagemaker
    store = provided_run(count=2)

    event, _ = run(PROVIDED, store, client)

    assert isinstance(event, TrainingSkipped)
    assert "2 for training and 0 for validation" in event.reason
    assert not any(key.endswith(("train.manifest", "validation.manifest")) for key in store.objects)


def test_an_unsupported_region_names_it_and_the_regions_that_offer_the_algorithm(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, _ = sagemaker
    elsewhere = ENVIRONMENT.model_copy(update={"region": "ap-southeast-7"})

    event, _ = run(PROVIDED, provided_run(), client, elsewhere)

    assert isinstance(event, TrainingSkipped)
    assert "not offered in ap-southeast-7" in event.reason
    assert "us-east-1" in event.reason
    assert "training.algorithm" in event.reason


@pytest.mark.parametrize(
    ("training", "complaint"),
    [
        ({"input_mode": "File"}, "training.input_mode File cannot feed the built-in algorithms"),
        ({"extra_channels": {"model": "s3://b/m/"}}, "are for custom containers"),
        (
            {
                "hyperparameters": [{"epochs": 1}],
                "tuning": {
                    "objective_metric": "x",
                    "ranges": [{"name": "a", "type": "categorical", "values": ["1"]}],
                },
            },
            "exclude each other",
        ),
        (
            {
                "algorithm": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1",
                "tuning": {
                    "objective_metric": "val_acc",
                    "ranges": [{"name": "a", "type": "categorical", "values": ["1"]}],
                },
            },
            "must be one of training.metric_definitions",
        ),
        (
            {
                "algorithm": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1",
                "extra_channels": {"train": "s3://b/x/"},
            },
            "is not a channel name you can use",
        ),
    ],
)
def test_training_settings_no_job_could_honour_are_skipped_before_reading_data(
    sagemaker: tuple[Any, Stubber], training: dict[str, Any], complaint: str
) -> None:
    client, _ = sagemaker
    store = provided_run(training=training)
    del store.objects[f"runs/{RUN_ID}/labeled.manifest"]

    event, _ = run(PROVIDED, store, client)

    assert isinstance(event, TrainingSkipped)
    assert complaint in event.reason


def test_a_request_sagemaker_refuses_is_a_training_failure_with_its_message(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_training_job",
        service_error_code="ValidationException",
        service_message="Instance type ml.p3.2xlarge is not supported by algorithm image-classification.",
    )

    event, _ = run(PROVIDED, provided_run(), client)

    assert isinstance(event, TrainingFailed)
    assert event.reason.startswith(
        f"SageMaker refused to create training job sagechain-{RUN_ID}-train: sagemaker did not accept "
        "the request (ValidationException)."
    )
    assert event.error.message == (
        "Instance type ml.p3.2xlarge is not supported by algorithm image-classification."
    )
    assert [r.job_name for r in event.refused] == [f"sagechain-{RUN_ID}-train"]


QUOTA = (
    "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances, with current "
    "utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to "
    "request an increase for this quota."
)


def test_a_quota_refusal_fails_training_naming_the_quota_and_the_console(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_training_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA
    )
    store = provided_run()

    event, publisher = run(PROVIDED, store, client)

    assert isinstance(event, TrainingFailed)
    assert publisher.events == [event]
    assert event.reason.startswith(
        f"SageMaker refused to create training job sagechain-{RUN_ID}-train: the AWS account's sagemaker "
        "quota 'ml.p3.2xlarge for training job usage' does not allow it (ResourceLimitExceeded)."
    )
    assert event.error.quota_name == "ml.p3.2xlarge for training job usage"
    assert event.error.quota_console_url is not None
    assert event.error.quota_console_url.endswith("/servicequotas/home/services/sagemaker/quotas")
    assert event.error.retryable is False
    record = TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])
    assert record.job_names == []
    assert [r.job_name for r in record.refused] == [f"sagechain-{RUN_ID}-train"]


def test_a_refused_tuning_job_fails_training(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_hyper_parameter_tuning_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA
    )
    tuning = {
        "tuning": {
            "objective_metric": "validation:accuracy",
            "max_jobs": 2,
            "max_parallel_jobs": 1,
            "ranges": [{"name": "learning_rate", "type": "continuous", "min": 0.01, "max": 0.1}],
        }
    }

    event, _ = run(PROVIDED, provided_run(training=tuning), client)

    assert isinstance(event, TrainingFailed)
    [refused] = event.refused
    assert refused.tuning is True
    assert event.reason.startswith(
        f"SageMaker refused to create hyperparameter tuning job {refused.job_name}:"
    )


def test_throttling_is_raised_for_a_retry_and_nothing_is_emitted(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_training_job", service_error_code="ThrottlingException", http_status_code=400
    )
    publisher = RecordingPublisher()

    with pytest.raises(ClientError, match="ThrottlingException"):
        start_training(PROVIDED, provided_run(), SageMakerTraining(client), publisher, ENVIRONMENT)

    assert publisher.events == []


def test_a_job_an_earlier_delivery_created_counts_as_started(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_training_job",
        service_error_code="ResourceInUse",
        service_message="Training job names must be unique",
    )

    event, _ = run(PROVIDED, provided_run(), client)

    assert isinstance(event, TrainingStarted)
    assert event.job_names == [f"sagechain-{RUN_ID}-train"]


def test_sets_the_quota_refuses_are_reported_and_only_created_jobs_are_in_training_json(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})
    for _ in range(2):
        stubber.add_client_error(
            "create_training_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA
        )
    store = provided_run(training={"hyperparameters": [{"epochs": 1}, {"epochs": 2}, {"epochs": 3}]})

    event, _ = run(PROVIDED, store, client)

    assert isinstance(event, TrainingStarted)
    assert event.job_names == [f"sagechain-{RUN_ID}-train-0"]
    assert [(r.hyperparameter_set, r.job_name) for r in event.refused] == [
        (1, f"sagechain-{RUN_ID}-train-1"),
        (2, f"sagechain-{RUN_ID}-train-2"),
    ]
    assert {r.error.code for r in event.refused} == {"ResourceLimitExceeded"}
    assert len(event.console_urls) == 1
    record = TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])
    assert record.job_names == [f"sagechain-{RUN_ID}-train-0"]
    assert [h["epochs"] for h in record.hyperparameters] == ["1"]
    assert [r.job_name for r in record.refused] == [r.job_name for r in event.refused]


def test_a_refused_first_set_does_not_hold_back_the_next(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_client_error(
        "create_training_job", service_error_code="ValidationException", service_message="bad epochs"
    )
    stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})

    event, _ = run(
        PROVIDED, provided_run(training={"hyperparameters": [{"epochs": 1}, {"epochs": 2}]}), client
    )

    assert isinstance(event, TrainingStarted)
    assert event.job_names == [f"sagechain-{RUN_ID}-train-1"]
    assert [r.hyperparameter_set for r in event.refused] == [0]


def test_every_set_refused_fails_training_with_each_refusal(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    for _ in range(2):
        stubber.add_client_error(
            "create_training_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA
        )

    event, _ = run(
        PROVIDED, provided_run(training={"hyperparameters": [{"epochs": 1}, {"epochs": 2}]}), client
    )

    assert isinstance(event, TrainingFailed)
    assert event.reason.startswith("SageMaker refused to create all 2 training jobs of the run: the AWS")
    assert len(event.refused) == 2


def test_a_labeled_manifest_without_a_run_beside_it_is_ignored(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker
    store = MemoryStore(BUCKET, {f"runs/{RUN_ID}/labeled.manifest": b"{}"})

    event, publisher = run(PROVIDED, store, client)

    assert event is None
    assert publisher.events == []


def test_triggers_name_what_the_event_is_about() -> None:
    completed = training_trigger(sample_event("start_training", "labeling_job_completed"), BUCKET)
    provided = training_trigger(sample_event("start_training", "labeled_manifest_created"), BUCKET)

    assert completed == LABELED
    assert provided == PROVIDED


def test_events_that_ask_for_no_training_give_no_trigger() -> None:
    failed = sample_event("start_training", "labeling_job_completed")
    failed["detail"]["LabelingJobStatus"] = "Failed"
    nested = sample_event("start_training", "labeled_manifest_created")
    nested["detail"]["object"]["key"] = f"runs/{RUN_ID}/labeling/x/labeled.manifest"
    other_bucket = sample_event("start_training", "labeled_manifest_created")
    other_bucket["detail"]["bucket"]["name"] = "another-bucket"

    assert [training_trigger(e, BUCKET) for e in (failed, nested, other_bucket)] == [None, None, None]
