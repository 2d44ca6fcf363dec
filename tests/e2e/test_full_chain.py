"""The whole chain offline, upload to live endpoint: both task types, failures, updates, duplicates."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from local.outbox import published
from local.sample_data import flower_images, fruit_images
from local.stack import PHYSICAL, LocalStack
from moto import mock_aws

from sagechain.manifest import Box

pytestmark = pytest.mark.e2e


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def upload_flowers(stack: LocalStack, spec: dict[str, Any] | None = None) -> None:
    """The flower sample for Ground Truth labeling, with the workforce taught the true classes."""
    for name, data in flower_images(per_class=4).items():
        key = f"datasets/flowers/images/{name}"
        upload(stack, key, data)
        stack.sagemaker.workforce[f"s3://{stack.bucket}/{key}"] = [name.split("/")[0]]
    document = spec or {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
    }
    upload(stack, "datasets/flowers/dataset.json", json.dumps(document).encode())


def kinds(stack: LocalStack) -> list[str]:
    return [event["detail-type"] for event in stack.observed]


def subjects() -> list[str]:
    return [subject or "" for subject, _ in published(PHYSICAL["NotificationTopic"])]


def test_image_classification_goes_from_upload_through_ground_truth_to_a_live_autoscaled_endpoint(
    stack: LocalStack,
) -> None:
    upload_flowers(stack)

    stack.run_until_quiet()

    assert stack.failures == []
    assert kinds(stack) == [
        "Dataset Prepared",
        "Labeling Started",
        "Training Started",
        "Deployment Started",
        "Model Live",
    ]
    live = stack.observed[-1]["detail"]
    assert stack.sagemaker.endpoints[live["endpoint_name"]]["EndpointStatus"] == "InService"
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    [target] = targets["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{live['endpoint_name']}/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    model = json.loads(
        boto3.client("s3")
        .get_object(Bucket=stack.bucket, Key=f"models/{live['endpoint_name']}/model.json")["Body"]
        .read()
    )
    assert model["labels"] == ["rose", "tulip"]
    # And the live endpoint's hourly cost is in plain sight, from the guardrails' price table
    assert live["hourly_cost"] == model["hourly_cost"]
    assert model["hourly_cost"]["instance_type"] == live["instance_type"]
    assert len(subjects()) == 5


def test_object_detection_goes_through_ground_truth_bounding_boxes_to_a_live_endpoint(
    stack: LocalStack,
) -> None:
    for name, (data, (left, top, width, height)) in fruit_images(per_class=4).items():
        key = f"datasets/fruit/images/{name}"
        upload(stack, key, data)
        label = name.split("-")[0]
        stack.sagemaker.workforce[f"s3://{stack.bucket}/{key}"] = (
            40,
            40,
            [Box(label, left, top, width, height)],
        )
    spec = {
        "task": "object-detection",
        "labels": ["apple", "blueberry"],
        "labeling": {"mode": "ground-truth"},
    }
    upload(stack, "datasets/fruit/dataset.json", json.dumps(spec).encode())

    stack.run_until_quiet()

    assert stack.failures == []
    assert kinds(stack)[-1] == "Model Live"
    [labeling] = stack.sagemaker.labeling.values()
    assert labeling["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-BoundingBox")
    [training] = stack.sagemaker.training.values()
    assert "/object-detection:" in training["AlgorithmSpecification"]["TrainingImage"]


def test_a_failing_training_job_is_emailed_with_its_reason_and_nothing_is_deployed(stack: LocalStack) -> None:
    stack.sagemaker.fail_training = lambda _job: "AlgorithmError: CUDA out of memory (batch too large)"
    upload_flowers(stack)

    stack.run_until_quiet()

    assert "Deployment Started" not in kinds(stack)
    assert stack.sagemaker.endpoints == {}
    failed = [s for s in subjects() if "failed" in s.lower()]
    assert len(failed) == 1
    [message] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s == failed[0]]
    assert "AlgorithmError: CUDA out of memory (batch too large)" in message


def test_a_second_run_updates_the_live_endpoint_keeping_autoscaling(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    endpoint = stack.observed[-1]["detail"]["endpoint_name"]

    # The same dataset uploaded again is a new version of dataset.json: a new run.
    upload_flowers(
        stack,
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "training": {},
        },
    )
    stack.run_until_quiet()

    assert stack.failures == []
    deployments = [e["detail"] for e in stack.observed if e["detail-type"] == "Deployment Started"]
    assert [d["action"] for d in deployments] == ["create", "update"]
    assert stack.sagemaker.calls["CreateEndpoint"] == 1
    assert stack.sagemaker.calls["UpdateEndpoint"] == 1
    assert kinds(stack).count("Model Live") == 2
    live = stack.sagemaker.endpoints[endpoint]
    assert live["EndpointConfigName"] == f"{deployments[1]['training_job_name']}-config"
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert len(targets["ScalableTargets"]) == 1


def test_three_runs_of_one_dataset_leave_the_live_and_the_previous_configuration_and_model(
    stack: LocalStack,
) -> None:
    # Given the same dataset deployed three times, each run replacing the live model
    for _ in range(3):
        upload_flowers(
            stack,
            {
                "task": "image-classification",
                "labels": ["rose", "tulip"],
                "labeling": {"mode": "ground-truth"},
                "training": {},
            },
        )
        stack.run_until_quiet()

    # Then only the live deployment and the one before it (kept for a rollback) remain
    assert stack.failures == []
    lives = [e["detail"] for e in stack.observed if e["detail-type"] == "Model Live"]
    assert len(lives) == 3
    live, previous = lives[2], lives[1]
    assert sorted(stack.sagemaker.models) == sorted([live["model_name"], previous["model_name"]])
    assert sorted(stack.sagemaker.endpoint_configs) == sorted(
        [live["endpoint_config_name"], previous["endpoint_config_name"]]
    )
    # And the live model.json names the previous one, for a rollback
    model = json.loads(
        boto3.client("s3")
        .get_object(Bucket=stack.bucket, Key=f"models/{live['endpoint_name']}/model.json")["Body"]
        .read()
    )
    assert model["previous"]["model_name"] == previous["model_name"]
    assert model["previous"]["previous"] is None


@pytest.fixture
def stack_delivering_twice() -> Iterator[LocalStack]:
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}, deliver_twice=True) as local_stack:
        yield local_stack


def test_every_event_delivered_twice_still_starts_one_job_per_stage_and_one_email_per_event(
    stack_delivering_twice: LocalStack,
) -> None:
    stack = stack_delivering_twice
    upload_flowers(stack)

    stack.run_until_quiet()

    assert stack.failures == []
    assert kinds(stack)[-1] == "Model Live"
    calls = stack.sagemaker.calls
    creates = (
        "CreateLabelingJob",
        "CreateTrainingJob",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
    )
    assert {name: calls[name] for name in creates} == dict.fromkeys(creates, 1)
    assert len(kinds(stack)) == len(set(kinds(stack))) == 5
    assert sorted(subjects()) == sorted(set(subjects()))
    assert len(subjects()) == 5
