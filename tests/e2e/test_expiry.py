"""Endpoint expiry: deployment.ttl_hours after its model went live, the endpoint is deleted."""

import json
from datetime import UTC, datetime

import boto3
import pytest
from local.outbox import published
from local.sample_data import FLOWER_COLOURS, png
from local.stack import PHYSICAL, LocalStack

from tests.e2e.test_full_chain import kinds, upload_flowers

pytestmark = pytest.mark.e2e

HOUR = 3600


def emails() -> list[tuple[str, str]]:
    return [(subject or "", message) for subject, message in published(PHYSICAL["NotificationTopic"])]


def test_an_endpoint_with_a_ttl_is_deleted_when_it_expires_and_the_run_says_so(stack: LocalStack) -> None:
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
        "deployment": {"ttl_hours": 1},
    }
    upload_flowers(stack, spec)
    stack.run_until_quiet()
    live = stack.observed[-1]["detail"]
    endpoint = live["endpoint_name"]
    expires_at = datetime.fromisoformat(live["expires_at"])
    [(_, live_email)] = [(s, m) for s, m in emails() if "Model live" in s]
    # Given the Model Live email says when the endpoint goes, and how to keep it
    assert f"{expires_at.strftime('%Y-%m-%d %H:%M:%S')} UTC" in live_email
    assert "upload dataset.json again" in live_email
    assert stack.fire_schedules() == []  # not due yet

    # When the stack's clock passes the hour and the schedule fires
    stack.wait(HOUR + 60)
    [fired] = stack.fire_schedules()
    stack.run_until_quiet()

    # Then the endpoint, its configuration and model are gone, and the schedule with them
    assert fired.error is None
    assert endpoint not in stack.sagemaker.endpoints
    sagemaker = boto3.client("sagemaker")
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    autoscaling = boto3.client("application-autoscaling")
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []
    assert kinds(stack)[-1] == "Model Expired"
    model = json.loads(
        boto3.client("s3").get_object(Bucket=stack.bucket, Key=f"models/{endpoint}/model.json")["Body"].read()
    )
    assert model["expired_at"] is not None
    # And the email and the run's history say it expired
    [(_, expired_email)] = [(s, m) for s, m in emails() if "Model expired" in s]
    assert f"Endpoint {endpoint} expired" in expired_email
    api = stack.api()
    [run] = json.loads(api.handle("GET", "/runs", {}, b"").body)["runs"]
    assert run["status"] == "expired"
    # And predict answers 404
    answer = api.handle(
        "POST",
        f"/models/{endpoint}/predict",
        {"Content-Type": "image/png"},
        png(8, 8, FLOWER_COLOURS["rose"]),
    )
    assert (answer.status, json.loads(answer.body)["error"]["code"]) == (404, "model_not_found")
    assert stack.failures == []


def test_a_new_model_going_live_restarts_the_count(stack: LocalStack) -> None:
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
        "deployment": {"ttl_hours": 1},
    }
    upload_flowers(stack, spec)
    stack.run_until_quiet()
    first = datetime.fromisoformat(stack.observed[-1]["detail"]["expires_at"])

    stack.wait(HOUR / 2)
    upload_flowers(stack, {**spec, "training": {}})
    stack.run_until_quiet()
    second = datetime.fromisoformat(stack.observed[-1]["detail"]["expires_at"])
    stack.wait(HOUR / 2 + 60)

    # The first hour has passed, but the schedule now counts from the second model
    assert second > first
    assert stack.fire_schedules(datetime.now(UTC)) == []
    [schedule] = boto3.client("scheduler").list_schedules()["Schedules"]
    assert schedule["Name"] == stack.observed[-1]["detail"]["endpoint_name"]


def test_a_ttl_above_the_stack_maximum_is_rejected_at_upload_naming_the_bound() -> None:
    from moto import mock_aws  # noqa: PLC0415 - a stack with its own parameters

    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR", "MaxEndpointTtlHours": "24"}) as stack:
        spec = {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "deployment": {"ttl_hours": 48},
        }
        upload_flowers(stack, spec)
        stack.run_until_quiet()

        assert kinds(stack) == ["Dataset Rejected"]
        reason = stack.observed[-1]["detail"]["reason"]
        assert "at most 24 hours (stack parameter MaxEndpointTtlHours)" in reason
        assert stack.sagemaker.endpoints == {}
