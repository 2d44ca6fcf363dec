"""Bring your own container, offline: the example container (examples/histogram-classifier) trains
for real on files channels, the best of three hyperparameter sets by its objective goes live, a worse
second run is gated, and predictions come from the example's own serving code."""

import json
import tarfile
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import boto3
import pytest
from local.containers import histogram_classifier
from local.outbox import published
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack
from local.template import ACCOUNT, REGION
from moto import mock_aws

from tests.e2e.test_paths import class_folders, upload

pytestmark = pytest.mark.e2e

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagechain-histogram:1"
SERVING_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagechain-histogram-serving:1"
LOSS = "validation:loss"


def training(sets: list[dict[str, str]]) -> dict[str, Any]:
    """The example's training section: files channels (class folders), a config folder, an objective."""
    return {
        "algorithm": IMAGE,
        "instance_type": "ml.g4dn.xlarge",
        "hyperparameters": sets,
        "metric_definitions": [
            {"name": "validation:accuracy", "regex": r"validation:accuracy=([0-9.]+)"},
            {"name": LOSS, "regex": r"validation:loss=([0-9.]+)"},
        ],
        "objective": {"metric": LOSS, "type": "Minimize"},
        "channels": {
            "train": {"source": "files"},
            "validation": {"source": "files", "input_mode": "FastFile"},
            "config": {"source": "datasets/flowers/config/"},
        },
    }


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    containers = {IMAGE: histogram_classifier(), SERVING_IMAGE: histogram_classifier()}
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}, containers=containers) as local_stack:
        yield local_stack


def emails(stack: LocalStack, subject: str) -> list[str]:
    return [body for s, body in published(PHYSICAL["NotificationTopic"]) if subject in (s or "")]


def final(job: dict[str, Any], metric: str) -> float:
    return next(m["Value"] for m in job["FinalMetricDataList"] if m["MetricName"] == metric)


def test_the_example_trains_for_real_the_best_set_serves_and_a_worse_run_is_gated(stack: LocalStack) -> None:
    # Given the flowers in class folders, a config folder, and three hyperparameter sets for the example
    upload(stack, "datasets/flowers/config/notes.txt", b"read by nobody: a channel of the dataset's own")
    spec = {"training": training([{"bins": "2"}, {"bins": "4"}, {"bins": "16"}])}
    class_folders(
        stack, spec | {"deployment": {"image": SERVING_IMAGE, "environment": {"LOG_LEVEL": "info"}}}
    )

    # When the chain runs
    stack.run_until_quiet()

    # Then each job ran the example under the /opt/ml contract: files channels in class folders...
    assert stack.failures == []
    assert stack.sagemaker.simulated_images == []
    jobs = list(stack.sagemaker.training.values())
    assert len(jobs) == 3
    for job in jobs:
        assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train", "validation", "config"]
        run = stack.sagemaker.local_runs[job["TrainingJobName"]]
        assert run.exit_code == 0, run.log
    s3 = boto3.client("s3")
    run_id = stack.observed[0]["detail"]["run_id"]
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"runs/{run_id}/channels/train/")["Contents"]
    assert {item["Key"].split("/")[4] for item in listed} == {"rose", "tulip"}
    # ... its model and output tarballs at the job's output path, its metrics read from its stdout
    best = min(jobs, key=lambda job: final(job, LOSS))
    output = f"runs/{run_id}/training/{best['TrainingJobName']}/output/"
    model_tar = s3.get_object(Bucket=stack.bucket, Key=f"{output}model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=BytesIO(model_tar)) as archive:
        model = json.loads(archive.extractfile("model.json").read())  # type: ignore[union-attr]
    assert (model["bins"], model["labels"]) == (4, ["rose", "tulip"])
    report_tar = s3.get_object(Bucket=stack.bucket, Key=f"{output}output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=BytesIO(report_tar)) as archive:
        report = json.loads(archive.extractfile("report.json").read())  # type: ignore[union-attr]
    assert report["metrics"]["loss"] == pytest.approx(final(best, LOSS), abs=1e-6)
    assert len({final(job, LOSS) for job in jobs}) == 3

    # And the lowest loss is live, on the serving image with its environment
    [endpoint] = stack.sagemaker.endpoints.values()
    config = stack.sagemaker.endpoint_configs[endpoint["EndpointConfigName"]]
    served = stack.sagemaker.models[config["ProductionVariants"][0]["ModelName"]]["PrimaryContainer"]
    assert served["ModelDataUrl"].endswith(f"{best['TrainingJobName']}/output/model.tar.gz")
    assert (served["Image"], served["Environment"]) == (SERVING_IMAGE, {"LOG_LEVEL": "info"})
    [started] = emails(stack, "Deployment started")
    assert f"lowest {LOSS} of 3 completed jobs" in started

    # And a prediction comes from the example's serving code, loaded from that model
    model_name = stack.observed[-1]["detail"]["endpoint_name"]
    tulip = flower_images(per_class=1)["tulip/0.png"]
    response = stack.api().handle(
        "POST", f"/models/{model_name}/predict", {"Content-Type": "image/png"}, tulip
    )
    assert response.status == 200, response.body
    answer = json.loads(response.body)
    assert (answer["label"], answer["labels"]) == ("tulip", ["rose", "tulip"])
    assert answer["prediction"][1] > answer["prediction"][0]
    # ... and what the container refuses (it reads PNGs only) is the model's error, its status kept
    refused = stack.api().handle(
        "POST", f"/models/{model_name}/predict", {"Content-Type": "application/json"}, b"{}"
    )
    assert refused.status == 424
    assert json.loads(refused.body)["error"]["code"] == "model_error"

    # When a second run trains a worse set beside one the container fails on
    upload(stack, "datasets/flowers/dataset.json", json.dumps(second_run()).encode())
    stack.run_until_quiet()

    # Then the failed job's email quotes /opt/ml/output/failure, and the worse model is gated
    [failed] = emails(stack, "Training job failed")
    assert "AlgorithmError: ValueError: bins must be 1-256" in failed
    [rejected] = emails(stack, "Deployment rejected")
    assert f"{LOSS} 0.693147 is worse than {final(best, LOSS):g} of the live model" in rejected
    assert stack.sagemaker.endpoints[model_name]["EndpointConfigName"] == endpoint["EndpointConfigName"]


def second_run() -> dict[str, Any]:
    return {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
        "training": training([{"bins": "1"}, {"bins": "0"}]),
    }
