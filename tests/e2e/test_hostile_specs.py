"""Hostile specs through the whole offline stack: rejected at upload, and SageMaker never asked."""

import json
from typing import Any

import boto3
import pytest
from local.stack import LocalStack

from tests.e2e.test_full_chain import kinds, upload, upload_flowers
from tests.unit.test_guardrails import HOSTILE, live_model_of

pytestmark = pytest.mark.e2e
CASES = {
    name: HOSTILE[name]
    for name in (
        "foreign account image",
        "100 training instances",
        "28 days of runtime",
        "500 tuning jobs",
        "100 endpoint instances",
        "a labeling ceiling above the stack's",
        "the public workforce",
        "a work team not allowed",
        "allow_worse_model in the spec",
        "a training instance type typo",
    )
}


def _runs_keys(stack: LocalStack) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="runs/")
    return [item["Key"] for item in listing.get("Contents", [])]


def _creates(stack: LocalStack) -> dict[str, int]:
    return {name: n for name, n in stack.sagemaker.calls.items() if name.startswith("Create") and n}


@pytest.mark.parametrize(("document", "parameter"), CASES.values(), ids=CASES.keys())
def test_a_hostile_spec_starts_nothing(stack: LocalStack, document: dict[str, Any], parameter: str) -> None:
    upload_flowers(stack, document)

    stack.run_until_quiet()

    assert stack.failures == []
    assert kinds(stack) == ["Dataset Rejected"]
    assert parameter in stack.observed[0]["detail"]["reason"]
    assert _creates(stack) == {}
    assert _runs_keys(stack) == []


def test_another_datasets_endpoint_is_not_taken_over(stack: LocalStack) -> None:
    upload(stack, "models/sagechain-roses/model.json", live_model_of("roses", "sagechain-roses"))
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
        "deployment": {"endpoint_name": "roses"},
    }

    upload_flowers(stack, spec)
    stack.run_until_quiet()

    assert kinds(stack) == ["Dataset Rejected"]
    assert "endpoint of dataset 'roses'" in stack.observed[0]["detail"]["reason"]
    assert _creates(stack) == {}
    owner = boto3.client("s3").get_object(Bucket=stack.bucket, Key="models/sagechain-roses/model.json")
    assert json.loads(owner["Body"].read())["dataset"] == "roses"


def test_a_run_whose_worst_case_is_above_the_ceiling_starts_nothing(stack: LocalStack) -> None:
    sets = [{"epochs": "10"}, {"epochs": "20"}, {"epochs": "30"}]
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
        "training": {"instance_count": 2, "hyperparameters": sets},
    }

    upload_flowers(stack, spec)
    stack.run_until_quiet()

    assert kinds(stack) == ["Dataset Rejected"]
    detail = stack.observed[0]["detail"]
    assert "MaxRunCostUsd" in detail["reason"]
    assert detail["worst_case"]["training_usd"] == "550.80"
    assert _creates(stack) == {}
