"""The chain offline, wired from template.yaml: uploads reach handlers only through the rules."""

import json
from collections.abc import Iterator

import boto3
import pytest
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack
from moto import mock_aws

from sagechain.adapters.runs_table import DynamoRunStore
from tests.aws import published

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with mock_aws():
        yield LocalStack(parameters={"LogLevel": "ERROR"}).create()


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def test_folder_upload_through_the_templates_rule_prepares_one_run(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=2).items():
        upload(stack, f"datasets/flowers/images/{name}", data)
    spec = {"task": "image-classification", "labels": ["rose", "tulip"]}
    upload(stack, "datasets/flowers/dataset.json", json.dumps(spec).encode())

    deliveries = stack.run_until_quiet()

    # The upload reaches prepare_dataset; its event reaches notify and track_run.
    assert sorted(d.function for d in deliveries) == [
        "NotifyFunction",
        "PrepareDatasetFunction",
        "TrackRunFunction",
    ]
    assert stack.failures == []
    [event] = stack.observed
    assert event["detail-type"] == "Dataset Prepared"
    assert event["detail"]["objects"] == 4


def test_a_prepared_run_is_emailed_once_and_kept_in_the_runs_table(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=2).items():
        upload(stack, f"datasets/flowers/images/{name}", data)
    upload(
        stack,
        "datasets/flowers/dataset.json",
        json.dumps({"task": "image-classification", "labels": ["rose", "tulip"]}).encode(),
    )

    stack.run_until_quiet()

    run_id = stack.observed[0]["detail"]["run_id"]
    [(subject, message)] = published(PHYSICAL["NotificationTopic"])
    assert subject == f"[sagechain] flowers: Dataset prepared (run {run_id})"
    assert "4 images were listed in the run's Ground Truth input manifest." in message
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert (record.run.dataset, record.run.stage, record.run.status, record.run.objects) == (
        "flowers",
        "dataset",
        "in_progress",
        4,
    )
    assert [entry.event for entry in record.history] == ["Dataset Prepared"]


def test_images_and_run_outputs_never_trigger_a_run(stack: LocalStack) -> None:
    upload(stack, "datasets/flowers/images/a.png", b"png")
    upload(stack, "datasets/flowers/images/nested.zip", b"zip")
    upload(stack, "runs/x/input.manifest", b"{}")

    deliveries = stack.run_until_quiet()

    # The rule's wildcard also matches datasets/flowers/images/nested.zip: the handler ignores it.
    assert all(d.error is None for d in deliveries)
    assert stack.observed == []
