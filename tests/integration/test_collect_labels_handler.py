"""collect_labels' handler on the sample events, under moto: S3 (conditional writes included),
DynamoDB idempotency and EventBridge."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from local.label_studio import annotation_object
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec
from tests.aws import BUCKET, EventCapture, create_stack_resources, load_handler, sample_event

pytestmark = pytest.mark.integration
RUN_ID = "flowers-8b39944c64ac"  # the run of events/collect_labels/*.json
IMAGES = f"s3://{BUCKET}/datasets/flowers/images/"
AT = datetime(2026, 11, 25, 14, tzinfo=UTC)


@pytest.fixture
def stack() -> Iterator[tuple[ModuleType, EventCapture]]:
    with mock_aws():
        create_stack_resources()
        capture = EventCapture()
        yield load_handler("collect_labels"), capture


def put_run(mode: str = "label-studio") -> None:
    """A run waiting for Label Studio's annotations of its two images."""
    spec = DatasetSpec.model_validate(
        {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": mode}}
    )
    info = RunInfo(
        run_id=RUN_ID,
        dataset="flowers",
        source_uri=f"s3://{BUCKET}/datasets/flowers/dataset.json",
        source_version="v1",
        task="image-classification",
        labeling_mode=mode,
        label_attribute="label",
        manifest_uri=f"s3://{BUCKET}/runs/{RUN_ID}/input.manifest",
        objects=2,
        created_at=AT,
    )
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/spec.json", Body=spec.model_dump_json().encode())
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/run.json", Body=info.model_dump_json().encode())
    manifest = b"".join(json.dumps({"source-ref": f"{IMAGES}{n}.png"}).encode() + b"\n" for n in (0, 1))
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/input.manifest", Body=manifest)


def arrive(handler: ModuleType, case: str, key: str, body: bytes) -> dict[str, Any]:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    event = sample_event("collect_labels", case)
    event["detail"]["object"]["key"] = key
    result: dict[str, Any] = handler.handler(event, FakeLambdaContext())
    return result


def test_annotations_delivered_twice_count_once_and_the_last_writes_the_labeled_manifest(stack: Any) -> None:
    handler, capture = stack
    put_run()
    first = sample_event("collect_labels", "annotation_created")
    key = first["detail"]["object"]["key"]
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=annotation_object(1, f"{IMAGES}0.png", ["rose"], False, AT)
    )

    # Given the first annotation's event delivered twice
    handler.handler(first, FakeLambdaContext())
    handler.handler(first, FakeLambdaContext())
    arrive(
        handler,
        "annotation_created",
        f"runs/{RUN_ID}/label-studio/annotations/1002",
        annotation_object(2, f"{IMAGES}1.png", ["tulip"], False, AT),
    )

    kinds = [(e["detail-type"], e["detail"].get("labeled")) for e in capture.received()]
    assert kinds == [("Labeling Progress", 1), ("Labeling Completed", 2)]
    lines = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/labeled.manifest")["Body"].read()
    assert [json.loads(line)["label"] for line in lines.splitlines()] == [0, 1]


def test_an_export_for_another_run_is_rejected_and_the_run_keeps_waiting(stack: Any) -> None:
    handler, capture = stack
    put_run()
    export = json.dumps([{"image": "s3://elsewhere/datasets/x/images/0.png", "choice": "rose"}]).encode()

    arrive(handler, "export_uploaded", f"runs/{RUN_ID}/labels/project-3.json", export)

    [rejected] = capture.received()
    assert rejected["detail-type"] == "Labels Rejected"
    assert "None of the images in project-3.json is an image of run" in rejected["detail"]["reason"]
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{RUN_ID}/labeled.manifest")
    assert listed["KeyCount"] == 0


def test_a_ground_truth_runs_keys_are_ignored(stack: Any) -> None:
    handler, capture = stack
    put_run(mode="ground-truth")

    result = arrive(handler, "annotation_created", f"runs/{RUN_ID}/label-studio/annotations/1", b"{}")

    assert result == {"arrivals": [{"outcome": "ignored", "run_id": RUN_ID}]}
    assert capture.received() == []
