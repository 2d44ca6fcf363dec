"""Complete CreateTrainingJob / CreateHyperParameterTuningJob requests for every kind of run.

Each test runs the real service and the real SageMaker adapter on a Stubber-backed client:
botocore validates the request against the API model, and `expected_params` asserts the
whole request, field by field.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from sagechain import names
from sagechain.adapters.training import SageMakerTraining
from sagechain.events import TrainingSkipped, TrainingStarted
from sagechain.records import TrainingRecord
from sagechain.spec import TaskType
from sagechain.training.start_training import TrainingTrigger, start_training
from tests.fakes import MemoryStore, RecordingPublisher
from tests.runs import (
    ENVIRONMENT,
    ROLE_ARN,
    RUN_ID,
    classification_lines,
    detection_lines,
    provided_spec,
    put_run,
    two_class_labels,
)
from tests.stubs import count_calls, stubbed

BUCKET = "sagechain-data-example"
RUN = f"s3://{BUCKET}/runs/{RUN_ID}"
IC_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
OD_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/object-detection:1"
CUSTOM_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flowers-trainer:2.1"
TAGS = [{"Key": "sagechain:run-id", "Value": RUN_ID}, {"Key": "sagechain:stack", "Value": "sagechain"}]
TRIGGER = TrainingTrigger(key=f"labeled-manifest/{RUN_ID}", run_id=RUN_ID)
JOB = f"sagechain-{RUN_ID}-train"
TUNE = names.sagemaker_name("sagechain", RUN_ID, "tune", max_length=32)
TUNE_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{TUNE}"


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    with stubbed("sagemaker") as (client, stubber):
        yield client, stubber


def augmented(name: str, content_type: str = "application/x-recordio") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "AugmentedManifestFile",
                "S3Uri": f"{RUN}/{name}.manifest",
                "S3DataDistributionType": "FullyReplicated",
                "AttributeNames": ["source-ref", "label"],
            }
        },
        "ContentType": content_type,
        "RecordWrapperType": "RecordIO",
    }


def builtin_job(
    image: str, hyperparameters: dict[str, str], content_type: str = "application/x-recordio"
) -> dict[str, Any]:
    return {
        "TrainingJobName": JOB,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "Pipe"},
        "HyperParameters": hyperparameters,
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [augmented("train", content_type), augmented("validation", content_type)],
        "OutputDataConfig": {"S3OutputPath": f"{RUN}/training/"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86_400},
        "EnableNetworkIsolation": True,
        "Tags": TAGS,
    }


def run_training(client: Any, store: MemoryStore) -> tuple[Any, RecordingPublisher]:
    publisher = RecordingPublisher()
    event = start_training(TRIGGER, store, SageMakerTraining(client), publisher, ENVIRONMENT)
    return event, publisher


def created(stubber: Stubber, request: dict[str, Any]) -> None:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{request['TrainingJobName']}"
    stubber.add_response("create_training_job", {"TrainingJobArn": arn}, expected_params=request)


def test_builtin_single_label_classification_trains_on_augmented_manifests(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    spec = provided_spec(TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"])
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(50)))
    created(
        stubber,
        builtin_job(
            IC_IMAGE,
            {
                "epochs": "30",
                "learning_rate": "0.1",
                "mini_batch_size": "32",
                "num_classes": "2",
                "num_training_samples": "40",
            },
        ),
    )

    event, publisher = run_training(client, store)

    assert event == TrainingStarted(
        run_id=RUN_ID,
        dataset="garden",
        job_names=[JOB],
        algorithm="image-classification",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        spot=False,
        train_objects=40,
        validation_objects=10,
        console_urls=[
            f"https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/{JOB}"
        ],
    )
    assert publisher.events == [event]
    assert len(store.objects[f"runs/{RUN_ID}/train.manifest"].splitlines()) == 40
    assert len(store.objects[f"runs/{RUN_ID}/validation.manifest"].splitlines()) == 10


def test_builtin_multi_label_sets_multi_label_and_the_class_id_label_format(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    spec = provided_spec(
        TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
        ["rose", "tulip", "daisy"],
        {"hyperparameters": {"epochs": 12, "use_pretrained_model": 1, "learning_rate": 0.01}},
    )
    store = MemoryStore(BUCKET)
    labels = [["rose", "daisy"], ["tulip"], ["daisy"], ["rose", "tulip", "daisy"], ["tulip", "daisy"]] * 20
    put_run(store, spec, classification_lines(spec, BUCKET, labels))
    created(
        stubber,
        builtin_job(
            IC_IMAGE,
            {
                "epochs": "12",
                "learning_rate": "0.01",
                "mini_batch_size": "32",
                "use_pretrained_model": "1",
                "num_classes": "3",
                "num_training_samples": "80",
                "multi_label": "1",
            },
            content_type="application/x-recordio; label-format=class-id",
        ),
    )

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingStarted)
    assert (event.train_objects, event.validation_objects) == (80, 20)


def test_builtin_object_detection_widens_labels_for_crowded_images(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    spec = provided_spec(
        TaskType.OBJECT_DETECTION, ["car", "bike"], {"hyperparameters": {"base_network": "resnet-50"}}
    )
    store = MemoryStore(BUCKET)
    # 80 boxes in one image: 2 + 5 * 80 = 402 numbers, more than label_width's default 350.
    boxes = [["car"] * 80] + [["car", "bike"], ["bike"]] * 10
    put_run(store, spec, detection_lines(spec, BUCKET, boxes))
    created(
        stubber,
        builtin_job(
            OD_IMAGE,
            {
                "epochs": "30",
                "learning_rate": "0.001",
                "mini_batch_size": "17",
                "base_network": "resnet-50",
                "num_classes": "2",
                "num_training_samples": "17",
                "label_width": "410",
            },
        ),
    )

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingStarted)
    assert event.algorithm == "object-detection"


def test_custom_container_gets_manifests_as_files_extra_channels_and_its_metrics(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    spec = provided_spec(
        TaskType.IMAGE_CLASSIFICATION,
        ["rose", "tulip"],
        {
            "algorithm": CUSTOM_IMAGE,
            "instance_type": "ml.g5.xlarge",
            "input_mode": "FastFile",
            "hyperparameters": {"lr": 0.0003, "backbone": "vit-b16", "freeze": True},
            "environment": {"WANDB_MODE": "offline"},
            "metric_definitions": [{"name": "val_acc", "regex": "val_acc=([0-9.]+)"}],
            "extra_channels": {
                "pretrained": f"s3://{BUCKET}/datasets/garden/weights/",
                "config": f"s3://{BUCKET}/datasets/garden/config/",
            },
        },
    )
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(10)))

    def prefix(name: str, uri: str, content_type: str | None = None) -> dict[str, Any]:
        channel: dict[str, Any] = {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        if content_type:
            channel["ContentType"] = content_type
        return channel

    created(
        stubber,
        {
            "TrainingJobName": JOB,
            "AlgorithmSpecification": {
                "TrainingImage": CUSTOM_IMAGE,
                "TrainingInputMode": "FastFile",
                "MetricDefinitions": [{"Name": "val_acc", "Regex": "val_acc=([0-9.]+)"}],
            },
            "HyperParameters": {"lr": "0.0003", "backbone": "vit-b16", "freeze": "True"},
            "RoleArn": ROLE_ARN,
            "InputDataConfig": [
                prefix("train", f"{RUN}/train.manifest", "application/jsonlines"),
                prefix("validation", f"{RUN}/validation.manifest", "application/jsonlines"),
                prefix("config", f"s3://{BUCKET}/datasets/garden/config/"),
                prefix("pretrained", f"s3://{BUCKET}/datasets/garden/weights/"),
            ],
            "OutputDataConfig": {"S3OutputPath": f"{RUN}/training/"},
            "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86_400},
            # A custom image trains without network access unless the operator allows it.
            "EnableNetworkIsolation": True,
            "Environment": {"WANDB_MODE": "offline"},
            "Tags": TAGS,
        },
    )

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingStarted)
    assert event.algorithm == CUSTOM_IMAGE
    record = TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])
    assert (record.algorithm, record.objective) == ("custom", None)


def test_spot_training_waits_twice_the_runtime_and_checkpoints_under_the_run(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    spec = provided_spec(
        TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"], {"spot": True, "max_runtime_seconds": 7_200}
    )
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(50)))
    request = builtin_job(
        IC_IMAGE,
        {
            "epochs": "30",
            "learning_rate": "0.1",
            "mini_batch_size": "32",
            "num_classes": "2",
            "num_training_samples": "40",
        },
    )
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 7_200, "MaxWaitTimeInSeconds": 14_400}
    request["EnableManagedSpotTraining"] = True
    request["CheckpointConfig"] = {"S3Uri": f"{RUN}/training/checkpoints/{JOB}/"}
    created(stubber, request)

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingStarted)
    assert event.spot is True


def test_tuning_starts_one_tuning_job_with_a_short_name_and_every_range_kind(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    spec = provided_spec(
        TaskType.IMAGE_CLASSIFICATION,
        ["rose", "tulip"],
        {
            "hyperparameters": {"epochs": 15, "optimizer": "sgd"},
            "tuning": {
                "strategy": "Random",
                "objective_metric": "validation:accuracy",
                "max_jobs": 20,
                "max_parallel_jobs": 4,
                "ranges": [
                    {
                        "name": "learning_rate",
                        "type": "continuous",
                        "min": 0.0001,
                        "max": 0.5,
                        "scaling": "Logarithmic",
                    },
                    {"name": "mini_batch_size", "type": "integer", "min": 8, "max": 64},
                    {"name": "optimizer", "type": "categorical", "values": ["sgd", "adam"]},
                ],
            },
        },
    )
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(50)))
    tuning_name = TUNE
    job = builtin_job(IC_IMAGE, {})
    for key in ("TrainingJobName", "HyperParameters", "Tags", "AlgorithmSpecification"):
        job.pop(key)
    stubber.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": TUNE_ARN},
        expected_params={
            "HyperParameterTuningJobName": tuning_name,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Random",
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 4},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {
                            "Name": "learning_rate",
                            "MinValue": "0.0001",
                            "MaxValue": "0.5",
                            "ScalingType": "Logarithmic",
                        }
                    ],
                    "IntegerParameterRanges": [
                        {"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "64", "ScalingType": "Auto"}
                    ],
                    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam"]}],
                },
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": {"epochs": "15", "num_classes": "2", "num_training_samples": "40"},
                "AlgorithmSpecification": {"TrainingImage": IC_IMAGE, "TrainingInputMode": "Pipe"},
                **job,
            },
            "Tags": TAGS,
        },
    )
    counts = count_calls(client)

    event, _ = run_training(client, store)

    assert len(tuning_name) <= 32
    assert tuning_name.startswith("sagechain-")
    assert counts["CreateHyperParameterTuningJob"] == 1
    assert counts["CreateTrainingJob"] == 0
    assert isinstance(event, TrainingStarted)
    assert (event.job_names, event.tuning_job_name) == ([], tuning_name)
    assert event.console_urls[0].endswith(f"#/hyper-tuning-jobs/{tuning_name}")


def test_several_hyperparameter_sets_start_one_job_each_for_the_deploy_stage_to_choose_from(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    sets = [{"learning_rate": 0.1}, {"learning_rate": 0.01}, {"learning_rate": 0.001, "epochs": 60}]
    spec = provided_spec(TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"], {"hyperparameters": sets})
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(50)))
    expected_names = [f"{JOB}-0", f"{JOB}-1", f"{JOB}-2"]
    for name, learning_rate, epochs in zip(
        expected_names, ["0.1", "0.01", "0.001"], ["30", "30", "60"], strict=True
    ):
        request = builtin_job(
            IC_IMAGE,
            {
                "epochs": epochs,
                "learning_rate": learning_rate,
                "mini_batch_size": "32",
                "num_classes": "2",
                "num_training_samples": "40",
            },
        )
        request["TrainingJobName"] = name
        created(stubber, request)
    counts = count_calls(client)

    event, _ = run_training(client, store)

    assert counts["CreateTrainingJob"] == 3
    assert isinstance(event, TrainingStarted)
    assert event.job_names == expected_names
    record = TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])
    assert record.mode == "sets"
    assert record.job_names == expected_names
    assert [h["learning_rate"] for h in record.hyperparameters] == ["0.1", "0.01", "0.001"]
    assert record.objective is not None
    assert (record.objective.name, record.objective.type) == ("validation:accuracy", "Maximize")
    assert record.class_split["rose"].model_dump() == {"train": 20, "validation": 5}


def _prefix(name: str, uri: str, mode: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
    if mode:
        channel["InputMode"] = mode
    return channel


def _own_container_run(layout: str) -> tuple[MemoryStore, Any]:
    spec = provided_spec(
        TaskType.IMAGE_CLASSIFICATION,
        ["rose", "tulip"],
        {
            "algorithm": CUSTOM_IMAGE,
            "instance_type": "ml.g5.xlarge",
            "hyperparameters": [{"bins": "2"}, {"bins": "4"}],
            "metric_definitions": [{"name": "validation:loss", "regex": "validation:loss=([0-9.]+)"}],
            "objective": {"metric": "validation:loss", "type": "Minimize"},
            "channels": {
                "train": {"source": "files", "layout": layout},
                "validation": {"source": "files", "layout": layout, "input_mode": "FastFile"},
                "config": {"source": "datasets/garden/config/"},
            },
        },
    )
    store = MemoryStore(BUCKET)
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(10)))
    for i in range(10):
        store.objects[f"datasets/garden/images/{i:04}.jpg"] = f"image {i}".encode()
    return store, spec


def _own_container_job(index: int, bins: str) -> dict[str, Any]:
    return {
        "TrainingJobName": f"{JOB}-{index}",
        "AlgorithmSpecification": {
            "TrainingImage": CUSTOM_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:loss", "Regex": "validation:loss=([0-9.]+)"}],
        },
        "HyperParameters": {"bins": bins},
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            _prefix("train", f"{RUN}/channels/train/"),
            _prefix("validation", f"{RUN}/channels/validation/", "FastFile"),
            _prefix("config", f"s3://{BUCKET}/datasets/garden/config/"),
        ],
        "OutputDataConfig": {"S3OutputPath": f"{RUN}/training/"},
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86_400},
        "EnableNetworkIsolation": True,
        "Tags": TAGS,
    }


def test_own_container_files_channels_get_the_split_in_class_folders_and_the_objective_is_recorded(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store, _ = _own_container_run("class-folders")
    created(stubber, _own_container_job(0, "2"))
    created(stubber, _own_container_job(1, "4"))

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingStarted)
    copies = sorted(k for k in store.objects if k.startswith(f"runs/{RUN_ID}/channels/"))
    # 10 images, 2 of each class in validation; each copy is in its class's folder.
    assert len(copies) == 10
    assert {tuple(k.split("/")[3:5]) for k in copies} == {
        ("train", "rose"),
        ("train", "tulip"),
        ("validation", "rose"),
        ("validation", "tulip"),
    }
    validation = [k for k in copies if "/validation/" in k]
    assert len(validation) == 2
    record = TrainingRecord.model_validate_json(store.objects[f"runs/{RUN_ID}/training.json"])
    assert record.objective is not None
    assert (record.objective.name, record.objective.type) == ("validation:loss", "Minimize")


def test_own_container_labels_file_layout_lists_each_copied_image_with_its_label(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    store, _ = _own_container_run("labels-file")
    created(stubber, _own_container_job(0, "2"))
    created(stubber, _own_container_job(1, "4"))

    run_training(client, store)

    prefix = f"runs/{RUN_ID}/channels/validation/"
    lines = [json.loads(raw) for raw in store.objects[f"{prefix}labels.jsonl"].splitlines()]
    assert [line["label-metadata"]["class-name"] for line in lines] == ["rose", "tulip"]
    for line in lines:
        assert "source-ref" not in line
        assert store.objects[f"{prefix}{line['file']}"].startswith(b"image ")


def test_a_files_channel_refuses_images_outside_the_dataset_and_starts_nothing(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, _ = sagemaker
    store, spec = _own_container_run("class-folders")
    foreign = classification_lines(spec, BUCKET, two_class_labels(10)).replace(
        b"datasets/garden/", b"datasets/other/"
    )
    store.objects[f"runs/{RUN_ID}/labeled.manifest"] = foreign

    event, _ = run_training(client, store)

    assert isinstance(event, TrainingSkipped)
    assert "outside this dataset" in event.reason
    assert not [k for k in store.objects if k.startswith(f"runs/{RUN_ID}/channels/")]
