"""The chain offline, wired from template.yaml: uploads reach handlers only through the rules."""

import json
from collections.abc import Iterator

import boto3
import pytest
from local.sample_data import flower_images
from local.stack import LocalStack
from moto import mock_aws

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}) as local_stack:
        yield local_stack


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def test_folder_upload_through_the_templates_rules_prepares_one_run_and_starts_its_labeling(
    stack: LocalStack,
) -> None:
    for name, data in flower_images(per_class=2).items():
        upload(stack, f"datasets/flowers/images/{name}", data)
    spec = {"task": "image-classification", "labels": ["rose", "tulip"]}
    upload(stack, "datasets/flowers/dataset.json", json.dumps(spec).encode())

    deliveries = stack.run_until_quiet()

    assert [d.function for d in deliveries] == ["PrepareDatasetFunction", "StartLabelingFunction"]
    assert stack.failures == []
    prepared, started = stack.observed
    assert prepared["detail-type"] == "Dataset Prepared"
    assert prepared["detail"]["objects"] == 4
    assert started["detail-type"] == "Labeling Started"
    assert list(stack.sagemaker.labeling) == [started["detail"]["job_name"]]


def test_images_and_run_outputs_never_trigger_a_run(stack: LocalStack) -> None:
    upload(stack, "datasets/flowers/images/a.png", b"png")
    upload(stack, "datasets/flowers/images/nested.zip", b"zip")
    upload(stack, "runs/x/input.manifest", b"{}")

    deliveries = stack.run_until_quiet()

    # The rule's wildcard also matches datasets/flowers/images/nested.zip: the handler ignores it.
    assert all(d.error is None for d in deliveries)
    assert stack.observed == []
