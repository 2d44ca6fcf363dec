"""prepare_dataset's handler on the sample events, against moto: S3, DynamoDB, EventBridge."""

import io
import json
import zipfile
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from tests.aws import BUCKET, EventCapture, create_stack_resources, iter_keys, load_handler, sample_event

pytestmark = pytest.mark.integration
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SPEC = {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "ground-truth"}}


@pytest.fixture
def stack() -> Iterator[tuple[ModuleType, EventCapture]]:
    with mock_aws():
        create_stack_resources()
        capture = EventCapture()
        yield load_handler("prepare_dataset"), capture


def put(key: str, body: bytes) -> dict[str, Any]:
    response = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"version-id": response["VersionId"], "etag": response["ETag"].strip('"'), "size": len(body)}


def event_for(case: str, key: str, uploaded: dict[str, Any]) -> dict[str, Any]:
    event = sample_event("prepare_dataset", case)
    event["detail"]["object"].update({"key": key, **uploaded})
    return event


def read(key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_folder_dataset_event_writes_the_manifest_and_emits_dataset_prepared(stack: Any) -> None:
    handler, capture = stack
    for name in ("a.jpg", "b.png", "c.txt"):
        put(f"datasets/flowers/images/{name}", IMAGE)
    uploaded = put("datasets/flowers/dataset.json", json.dumps(SPEC).encode())

    result = handler.handler(
        event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded), FakeLambdaContext()
    )

    [run] = result["runs"]
    manifest = read(f"runs/{run['run_id']}/input.manifest").decode().splitlines()
    assert [json.loads(line)["source-ref"] for line in manifest] == [
        f"s3://{BUCKET}/datasets/flowers/images/a.jpg",
        f"s3://{BUCKET}/datasets/flowers/images/b.png",
    ]
    [event] = capture.received()
    assert event["source"] == "sagechain"
    assert event["detail-type"] == "Dataset Prepared"
    assert event["detail"]["objects"] == 2
    assert event["detail"]["skipped"] == {"not_an_image": 1}
    assert event["detail"]["cost_estimate"]["total_usd"] == "0.16"


def test_duplicate_delivery_is_one_run_one_manifest_one_event(stack: Any) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    uploaded = put("datasets/flowers/dataset.json", json.dumps(SPEC).encode())
    event = event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded)

    first = handler.handler(event, FakeLambdaContext())
    second = handler.handler(event, FakeLambdaContext())

    assert first == second
    run_id = first["runs"][0]["run_id"]
    versions = boto3.client("s3").list_object_versions(Bucket=BUCKET, Prefix=f"runs/{run_id}/input.manifest")
    assert len(versions["Versions"]) == 1
    assert len(capture.received()) == 1


def test_the_uploaded_version_of_the_spec_is_read_not_a_later_one(stack: Any) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    first = put("datasets/flowers/dataset.json", json.dumps(SPEC).encode())
    put("datasets/flowers/dataset.json", b"{ broken")

    handler.handler(event_for("folder_dataset", "datasets/flowers/dataset.json", first), FakeLambdaContext())

    assert capture.received()[0]["detail-type"] == "Dataset Prepared"


@pytest.mark.parametrize("case", ["special_characters_key", "classic_notification_special_characters_key"])
def test_keys_with_special_characters_point_at_the_right_objects_from_either_trigger(
    stack: Any, case: str
) -> None:
    handler, capture = stack
    folder = "datasets/café photos+more 100%"
    images = [f"{folder}/images/a b+c%20d.jpg", f"{folder}/images/über ñ.png"]
    for key in images:
        put(key, IMAGE)
    uploaded = put(f"{folder}/dataset.json", json.dumps(SPEC).encode())
    event = sample_event("prepare_dataset", case)
    if "detail" in event:
        event["detail"]["object"]["version-id"] = uploaded["version-id"]
    else:
        event["Records"][0]["s3"]["object"]["versionId"] = uploaded["version-id"]

    [run] = handler.handler(event, FakeLambdaContext())["runs"]

    assert run["dataset"] == "café photos+more 100%"
    lines = read(f"runs/{run['run_id']}/input.manifest").decode().splitlines()
    refs = [json.loads(line)["source-ref"] for line in lines]
    s3 = boto3.client("s3")
    for ref in refs:
        s3.head_object(Bucket=BUCKET, Key=ref.removeprefix(f"s3://{BUCKET}/"))
    assert sorted(refs) == sorted(f"s3://{BUCKET}/{key}" for key in images)
    assert capture.received()[0]["detail-type"] == "Dataset Prepared"


def test_a_key_the_rule_matches_but_that_is_no_upload_is_ignored(stack: Any) -> None:
    handler, capture = stack

    result = handler.handler(sample_event("prepare_dataset", "not_a_dataset_key"), FakeLambdaContext())

    assert result == {"runs": []}
    assert capture.received() == []


def test_zip_dataset_is_streamed_from_s3_and_unpacked(stack: Any) -> None:
    handler, capture = stack
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dataset.json", json.dumps(SPEC))
        for i in range(5):
            archive.writestr(f"images/{i}.jpg", IMAGE)
    uploaded = put("datasets/flowers.zip", buffer.getvalue())

    handler.handler(event_for("zip_dataset", "datasets/flowers.zip", uploaded), FakeLambdaContext())

    assert sorted(iter_keys("datasets/flowers/")) == [f"datasets/flowers/images/{i}.jpg" for i in range(5)]
    [event] = capture.received()
    assert event["detail-type"] == "Dataset Prepared"
    assert event["detail"]["objects"] == 5


def test_bad_spec_emits_dataset_rejected_and_keeps_the_dataset(stack: Any) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    uploaded = put(
        "datasets/flowers/dataset.json",
        json.dumps({"task": "segmentation", "labels": ["a"], "labeling": {"mode": "ground-truth"}}).encode(),
    )

    handler.handler(
        event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded), FakeLambdaContext()
    )

    [event] = capture.received()
    assert event["detail-type"] == "Dataset Rejected"
    assert "task: Input should be" in event["detail"]["reason"]
    assert sorted(iter_keys("")) == ["datasets/flowers/dataset.json", "datasets/flowers/images/a.jpg"]


@pytest.mark.parametrize(
    ("section", "parameter"),
    [
        ({"training": {"instance_count": 100}}, "MaxTrainingInstances"),
        (
            {"training": {"algorithm": "999999999999.dkr.ecr.us-east-1.amazonaws.com/x:1"}},
            "AllowedTrainingImageRepositories",
        ),
        ({"deployment": {"instance_type": "ml.m5.larg"}}, "AllowedEndpointInstanceTypes"),
        ({"deployment": {"allow_worse_model": True}}, "AllowWorseModel"),
    ],
)
def test_a_spec_beyond_the_stack_bounds_is_rejected_and_writes_nothing(
    stack: Any, section: dict[str, Any], parameter: str
) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    uploaded = put("datasets/flowers/dataset.json", json.dumps({**SPEC, **section}).encode())

    handler.handler(
        event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded), FakeLambdaContext()
    )

    [event] = capture.received()
    assert event["detail-type"] == "Dataset Rejected"
    assert f"stack parameter {parameter}" in event["detail"]["reason"]
    assert list(iter_keys("runs/")) == []


def test_another_datasets_live_endpoint_is_read_from_s3_and_refused(stack: Any) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    owner = {
        "model": "sagechain-roses",
        "endpoint_name": "sagechain-roses",
        "task": "image-classification",
        "labels": ["a", "b"],
        "labeling": {"mode": "ground-truth"},
        "algorithm": "builtin",
        "model_name": "m",
        "training_job_name": "t",
        "run_id": "roses-0123456789ab",
        "dataset": "roses",
        "deployed_at": "2026-11-30T12:00:00Z",
    }
    put("models/sagechain-roses/model.json", json.dumps(owner).encode())
    spec = {**SPEC, "deployment": {"endpoint_name": "sagechain-roses"}}
    uploaded = put("datasets/flowers/dataset.json", json.dumps(spec).encode())

    handler.handler(
        event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded), FakeLambdaContext()
    )

    [event] = capture.received()
    assert "endpoint of dataset 'roses'" in event["detail"]["reason"]
    assert list(iter_keys("runs/")) == []


def test_a_prepared_run_carries_its_worst_case(stack: Any) -> None:
    handler, capture = stack
    put("datasets/flowers/images/a.jpg", IMAGE)
    uploaded = put("datasets/flowers/dataset.json", json.dumps(SPEC).encode())

    handler.handler(
        event_for("folder_dataset", "datasets/flowers/dataset.json", uploaded), FakeLambdaContext()
    )

    [event] = capture.received()
    assert event["detail"]["worst_case"]["total_usd"] == "97.40"
