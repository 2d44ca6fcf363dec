"""Batch predictions offline, wired from template.yaml: a live model, a batch upload, one transform
job, predictions.jsonl with the labels the predict API would answer; and a rejected batch."""

import json
from collections.abc import Iterator

import boto3
import pytest
from local.outbox import published
from local.sample_data import flower_images, fruit_images
from local.stack import PHYSICAL, LocalStack
from moto import mock_aws

from sagechain.manifest import Box
from tests.e2e.test_full_chain import kinds, upload, upload_flowers

pytestmark = pytest.mark.e2e


def lines(stack: LocalStack, key: str) -> list[dict[str, object]]:
    body = boto3.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def batch_events(stack: LocalStack) -> list[dict[str, object]]:
    return [e for e in stack.observed if str(e["detail-type"]).startswith("Batch ")]


def test_a_classification_batch_scores_every_image_with_the_live_model(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    endpoint = stack.observed[-1]["detail"]["endpoint_name"]
    prefix = f"batches/{endpoint}/tonight/"
    images = flower_images(per_class=2)
    for name, data in images.items():
        upload(stack, f"{prefix}images/{name}", data)
    upload(stack, f"{prefix}images/notes.txt", b"not an image")

    upload(stack, f"{prefix}batch.json", b'{"k": 1}')
    stack.run_until_quiet()

    assert stack.failures == []
    assert [e["detail-type"] for e in batch_events(stack)] == ["Batch Started", "Batch Completed"]
    [job] = stack.sagemaker.transform.values()
    assert job["TransformJobStatus"] == "Completed"
    assert stack.sagemaker.endpoints[endpoint]["EndpointStatus"] == "InService"
    predicted = {
        str(line["image"]): line["predictions"] for line in lines(stack, f"{prefix}predictions.jsonl")
    }
    assert sorted(predicted) == sorted(f"{prefix}images/{name}" for name in images)
    for key, predictions in predicted.items():
        [top] = predictions  # type: ignore[misc]
        assert top["label"] == key.split("/")[-2]
    started, completed = (e["detail"] for e in batch_events(stack))
    assert started["skipped"] == {"not an image (.jpg, .jpeg, .png)": 1}
    assert (completed["scored"], completed["failed"]) == (len(images), 0)
    assert completed["label_counts"] == {"rose": 2, "tulip": 2}
    [email] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s and "Batch completed" in s]
    assert f"s3://{stack.bucket}/{prefix}predictions.jsonl" in email
    # The status API lists the batch with its cost estimate; its model's run history has it.
    api = stack.api()
    listed = json.loads(api.handle("GET", f"/models/{endpoint}/batches", {}, b"").body)
    one = json.loads(api.handle("GET", f"/models/{endpoint}/batches/tonight", {}, b"").body)
    assert [b["batch_name"] for b in listed["batches"]] == ["tonight"]
    assert (one["status"], one["scored"], one["cost_estimate"]["instance_type"]) == (
        "Completed",
        len(images),
        "ml.m5.large",
    )
    assert api.handle("GET", f"/models/{endpoint}/batches/nope", {}, b"").status == 404
    run = json.loads(api.handle("GET", f"/runs/{completed['run_id']}", {}, b"").body)
    assert run["status"] == "live"
    assert [h["event"] for h in run["history"] if h["event"].startswith("Batch ")] == [
        "Batch Started",
        "Batch Completed",
    ]


@pytest.fixture
def sharded_stack() -> Iterator[LocalStack]:
    """A stack that collects a finished batch in shards of 2 images (BatchShardImages)."""
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR", "BatchShardImages": "2"}) as local_stack:
        yield local_stack


def test_an_object_detection_batch_collected_in_shards_writes_boxes_labelled_like_the_api(
    sharded_stack: LocalStack,
) -> None:
    stack = sharded_stack
    fruit = fruit_images(per_class=4)
    for name, (data, (left, top, width, height)) in fruit.items():
        key = f"datasets/fruit/images/{name}"
        upload(stack, key, data)
        stack.sagemaker.workforce[f"s3://{stack.bucket}/{key}"] = (
            40,
            40,
            [Box(name.split("-")[0], left, top, width, height)],
        )
    upload(
        stack,
        "datasets/fruit/dataset.json",
        b'{"task": "object-detection", "labels": ["apple", "blueberry"], '
        b'"labeling": {"mode": "ground-truth"}}',
    )
    stack.run_until_quiet()
    endpoint = stack.observed[-1]["detail"]["endpoint_name"]
    prefix = f"batches/{endpoint}/boxes/"
    # Five images in shards of two: three shards, the last of them short.
    batch = dict(list(fruit_images(per_class=3).items())[:5])
    for name, (data, _) in batch.items():
        upload(stack, f"{prefix}images/{name}", data)

    upload(stack, f"{prefix}batch.json", b'{"threshold": 0.1}')
    stack.run_until_quiet()

    assert stack.failures == []
    assert [e["detail-type"] for e in batch_events(stack)] == ["Batch Started", "Batch Completed"]
    parts = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)["Contents"]
    assert len([p for p in parts if p["Key"].endswith(".summary.json") and "/parts/" in p["Key"]]) == 3
    predicted = lines(stack, f"{prefix}predictions.jsonl")
    assert sorted(str(line["image"]) for line in predicted) == sorted(f"{prefix}images/{n}" for n in batch)
    assert batch_events(stack)[-1]["detail"]["scored"] == 5
    for line in predicted:
        [box] = line["predictions"]  # type: ignore[misc]
        assert box["label"] == str(line["image"]).rsplit("/", 1)[-1].split("-")[0]
        assert (box["xmin"], box["ymax"]) == (0.1, 0.9)


def test_a_batch_for_an_unknown_model_is_rejected_and_nothing_starts(stack: LocalStack) -> None:
    prefix = "batches/sagechain-nobody/tonight/"
    upload(stack, f"{prefix}images/a.png", flower_images(per_class=1)["rose/0.png"])

    upload(stack, f"{prefix}batch.json", b"{}")
    stack.run_until_quiet()

    assert stack.failures == []
    assert kinds(stack) == ["Batch Rejected"]
    assert "no models/sagechain-nobody/model.json" in str(stack.observed[0]["detail"]["reason"])
    assert stack.sagemaker.transform == {}
    assert boto3.client("s3").head_object(Bucket=stack.bucket, Key=f"{prefix}batch.json")
    assert any(s and "Batch rejected" in s for s, _ in published(PHYSICAL["NotificationTopic"]))


def test_a_batch_still_running_at_its_max_runtime_is_stopped_and_fails_saying_so(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    endpoint = stack.observed[-1]["detail"]["endpoint_name"]
    prefix = f"batches/{endpoint}/slow/"
    upload(stack, f"{prefix}images/rose.png", flower_images(per_class=1)["rose/0.png"])
    # Given a transform job that would run past the batch's 30 minutes
    stack.sagemaker.hold_transforms = True
    upload(stack, f"{prefix}batch.json", b'{"max_runtime_minutes": 30}')
    stack.run_until_quiet()
    assert [e["detail-type"] for e in batch_events(stack)] == ["Batch Started"]
    assert stack.fire_schedules() == []  # not due yet
    running = json.loads(stack.api().handle("GET", f"/models/{endpoint}/batches/slow", {}, b"").body)
    assert running["progress"]["answered"] == "0 of 1 images answered"
    assert running["progress"]["deadline_at"] is not None

    # When the stack's clock passes the deadline and its schedule fires
    stack.wait(31 * 60)
    stack.fire_schedules()
    stack.run_until_quiet()

    # Then the job is stopped, the batch failed with the reason and the fix, and the schedule is gone
    assert stack.failures == []
    [job] = stack.sagemaker.transform.values()
    assert job["TransformJobStatus"] == "Stopped"
    assert [e["detail-type"] for e in batch_events(stack)] == ["Batch Started", "Batch Failed"]
    failed = batch_events(stack)[-1]["detail"]
    assert "max runtime of 30 minutes" in str(failed["reason"])
    [email] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s and "Batch failed" in s]
    assert "max_runtime_minutes in batch.json" in email
    assert "MaxBatchHours" in email
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []
