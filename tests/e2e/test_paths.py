"""Every path a dataset can take, end to end offline: what the user sees at the end of each.

Each path is an upload (images plus dataset.json, or one archive) and ends the same way: the run is
live in the status API, the stages were emailed, and the endpoint answers an image of a class
with that class.
"""

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from local.outbox import published
from local.sample_data import FLOWER_COLOURS, flower_images, png
from local.stack import PHYSICAL, LocalStack
from local.template import ACCOUNT, REGION

pytestmark = pytest.mark.e2e
LABELS = ["rose", "tulip"]
CUSTOM_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagechain-trainer:1"


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def class_folders(stack: LocalStack, spec: dict[str, Any]) -> None:
    """Labels from the folder names (provided labels, no Ground Truth)."""
    for name, data in flower_images(per_class=3).items():
        upload(stack, f"datasets/flowers/images/{name}", data)
    document = {"task": "image-classification", "labels": LABELS, "labeling": {"mode": "provided"}} | spec
    upload(stack, "datasets/flowers/dataset.json", json.dumps(document).encode())


def ground_truth_manifest(stack: LocalStack) -> None:
    """A Ground Truth output manifest from an earlier labeling job, class ids in another order."""
    lines = []
    for name, data in flower_images(per_class=3).items():
        key = f"datasets/flowers/images/{name.replace('/', '-')}"
        upload(stack, key, data)
        label = name.split("/")[0]
        lines.append(
            {
                "source-ref": f"s3://{stack.bucket}/{key}",
                "flower": 1 - LABELS.index(label),
                "flower-metadata": {"class-name": label, "type": "groundtruth/image-classification"},
            }
        )
    upload(stack, "datasets/flowers/labels.manifest", "\n".join(json.dumps(x) for x in lines).encode())
    spec = {
        "task": "image-classification",
        "labels": LABELS,
        "labeling": {"mode": "provided", "labels_file": "labels.manifest"},
    }
    upload(stack, "datasets/flowers/dataset.json", json.dumps(spec).encode())


def coco_zip(stack: LocalStack) -> None:
    """One archive: dataset.json, images/ and a COCO export (Label Studio, CVAT) naming the classes."""
    images, annotations = [], []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (name, data) in enumerate(flower_images(per_class=3).items(), start=1):
            file_name = name.replace("/", "-")
            archive.writestr(f"images/{file_name}", data)
            images.append({"id": index, "file_name": file_name, "width": 32, "height": 32})
            category = LABELS.index(name.split("/")[0]) + 1
            annotations.append({"id": index, "image_id": index, "category_id": category})
        coco = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": i + 1, "name": label} for i, label in enumerate(LABELS)],
        }
        archive.writestr("result.json", json.dumps(coco))
        spec = {
            "task": "image-classification",
            "labels": LABELS,
            "labeling": {"mode": "provided", "labels_file": "result.json"},
        }
        archive.writestr("dataset.json", json.dumps(spec))
    upload(stack, "datasets/flowers.zip", buffer.getvalue())


def multi_label_by_ground_truth(stack: LocalStack) -> None:
    """Ground Truth's multi-label task, each image answered with its class by the workforce."""
    for name, data in flower_images(per_class=3).items():
        key = f"datasets/flowers/images/{name}"
        upload(stack, key, data)
        stack.sagemaker.workforce[f"s3://{stack.bucket}/{key}"] = [name.split("/")[0]]
    spec = {"task": "image-classification-multilabel", "labels": LABELS, "labeling": {"mode": "ground-truth"}}
    upload(stack, "datasets/flowers/dataset.json", json.dumps(spec).encode())


def predicted_label(answer: dict[str, Any]) -> str:
    """The top label: sagechain's for built-in models, the custom container's own answer otherwise
    (the emulated container answers a score per class index)."""
    if "predictions" in answer:
        [top] = answer["predictions"]
        return str(top["label"])
    scores = answer["prediction"]
    return LABELS[scores.index(max(scores))]


def served_job(stack: LocalStack) -> str:
    """The training job whose model artifact the live endpoint serves."""
    emulated = stack.sagemaker
    [endpoint] = emulated.endpoints.values()
    config = emulated.endpoint_configs[endpoint["EndpointConfigName"]]
    model = emulated.models[config["ProductionVariants"][0]["ModelName"]]
    artifact = model["PrimaryContainer"]["ModelDataUrl"]
    [job] = [n for n, j in emulated.training.items() if j["ModelArtifacts"]["S3ModelArtifacts"] == artifact]
    return job


TUNING = {
    "tuning": {
        "strategy": "Random",
        "objective_metric": "validation:accuracy",
        "max_jobs": 3,
        "max_parallel_jobs": 1,
        "ranges": [{"name": "learning_rate", "type": "continuous", "min": 0.001, "max": 0.1}],
    }
}
CUSTOM = {
    "algorithm": CUSTOM_IMAGE,
    "input_mode": "Pipe",
    "instance_type": "ml.g5.xlarge",
    "extra_channels": {"weights": "s3://sagechain-pretrained/resnet18/"},
    "metric_definitions": [{"name": "val:acc", "regex": "val_acc=([0-9.]+)"}],
}
# Path -> how the dataset is uploaded, and what the run's training looks like.
PATHS: dict[str, tuple[Callable[[LocalStack], None], Callable[[LocalStack], None]]] = {}


def path(name: str, upload_dataset: Callable[[LocalStack], None]) -> Callable[[Any], Any]:
    def register(check: Callable[[LocalStack], None]) -> Callable[[LocalStack], None]:
        PATHS[name] = (upload_dataset, check)
        return check

    return register


@path("tuning, best job to endpoint", lambda stack: class_folders(stack, {"training": TUNING}))
def _tuned(stack: LocalStack) -> None:
    [tuning] = stack.sagemaker.tuning.values()
    assert served_job(stack) == tuning["BestTrainingJob"]["TrainingJobName"]


@path(
    "hyperparameter sets, best sibling to endpoint",
    lambda stack: class_folders(
        stack, {"training": {"hyperparameters": [{"learning_rate": 0.01}, {"learning_rate": 0.05}]}}
    ),
)
def _best_sibling(stack: LocalStack) -> None:
    jobs = list(stack.sagemaker.training.values())
    assert len(jobs) == 2
    best = max(jobs, key=lambda job: job["FinalMetricDataList"][0]["Value"])
    assert served_job(stack) == best["TrainingJobName"]


@path("custom container with its own channels", lambda stack: class_folders(stack, {"training": CUSTOM}))
def _custom(stack: LocalStack) -> None:
    [job] = stack.sagemaker.training.values()
    assert job["AlgorithmSpecification"]["TrainingImage"] == CUSTOM_IMAGE
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train", "validation", "weights"]
    # Not registered as locally runnable: simulated, and the emulation says so.
    assert stack.sagemaker.simulated_images == [CUSTOM_IMAGE]


@path("multi-label through Ground Truth", multi_label_by_ground_truth)
def _multi_label(stack: LocalStack) -> None:
    [labeling] = stack.sagemaker.labeling.values()
    assert labeling["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-ImageMultiClassMultiLabel")


@path("provided labels: class folders", lambda stack: class_folders(stack, {}))
@path("provided labels: Ground Truth manifest", ground_truth_manifest)
@path("provided labels: COCO JSON in a zip", coco_zip)
def _provided(stack: LocalStack) -> None:
    assert stack.sagemaker.labeling == {}


@pytest.mark.parametrize(("upload_dataset", "check"), PATHS.values(), ids=PATHS.keys())
def test_each_path_ends_live_emailed_and_predicting_the_right_class(
    stack: LocalStack, upload_dataset: Callable[[LocalStack], None], check: Callable[[LocalStack], None]
) -> None:
    upload_dataset(stack)

    stack.run_until_quiet()

    assert stack.failures == []
    api = stack.api()
    [run] = json.loads(api.handle("GET", "/runs", {}, b"").body)["runs"]
    assert (run["dataset"], run["status"]) == ("flowers", "live")
    subjects = [subject or "" for subject, _ in published(PHYSICAL["NotificationTopic"])]
    assert not [s for s in subjects if "failed" in s.lower()]
    assert any("live" in s.lower() for s in subjects)
    model = stack.observed[-1]["detail"]["endpoint_name"]
    for label in LABELS:
        predicted = api.handle(
            "POST",
            f"/models/{model}/predict?k=1",
            {"Content-Type": "image/png"},
            png(16, 16, FLOWER_COLOURS[label]),
        )
        assert predicted.status == 200
        assert predicted_label(json.loads(predicted.body)) == label
    check(stack)
