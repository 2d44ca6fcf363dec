"""collect_batch: a transform job's end becomes predictions.jsonl and a summary, or Batch Failed."""

import json
from datetime import UTC, datetime

import pytest

from sagechain.batch.collect_batch import collect_batch
from sagechain.batch.start_batch import start_batch
from sagechain.event_sources.s3 import ObjectRef
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.events import BatchCompleted, BatchFailed, BatchStarted
from sagechain.records import BatchRecord
from tests.fakes import MemoryStore, RecordingPublisher
from tests.unit.test_start_batch import CONFIG, IMAGES, KEY, MODEL, NOW, FakeTransformJobs, live_model

LATER = datetime(2026, 3, 10, 3, tzinfo=UTC)
RECORD = f"models/{MODEL}/batches/tonight.json"


def started(task: str, images: dict[str, bytes]) -> tuple[MemoryStore, BatchStarted, FakeTransformJobs]:
    objects = {KEY: b'{"k": 1, "threshold": 0.5}', **{IMAGES + k: v for k, v in images.items()}}
    objects[f"models/{MODEL}/model.json"] = live_model(task)
    store = MemoryStore("sagechain-data", objects)
    sagemaker = FakeTransformJobs()
    event = start_batch(
        ObjectRef(bucket=store.bucket, key=KEY, etag="e1"),
        store,
        sagemaker,
        RecordingPublisher(),
        CONFIG,
        NOW,
    )
    assert isinstance(event, BatchStarted)
    return store, event, sagemaker


def answer(store: MemoryStore, sagemaker: FakeTransformJobs, answers: dict[str, object]) -> None:
    [request] = sagemaker.jobs.values()
    output = request["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{store.bucket}/")
    for image, body in answers.items():
        store.objects[f"{output}{image}.out"] = json.dumps(body).encode()


def change(sagemaker: FakeTransformJobs, status: str, reason: str | None = None) -> StateChange:
    [request] = sagemaker.jobs.values()
    name = request["TransformJobName"]
    detail = {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
        "TransformJobStatus": status,
        "Tags": {tag["Key"]: tag["Value"] for tag in request["Tags"]},
        **({"FailureReason": reason} if reason else {}),
    }
    event = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Transform Job State Change",
        "time": "2026-03-10T03:00:00Z",
        "resources": [detail["TransformJobArn"]],
        "detail": detail,
    }
    parsed = state_change(event, JobKind.TRANSFORM)
    assert parsed is not None
    return parsed


def lines(store: MemoryStore) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in store.objects[f"batches/{MODEL}/tonight/predictions.jsonl"].splitlines()
    ]


def test_a_completed_classification_batch_writes_one_line_per_image_and_the_counts() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x", "b.jpg": b"x", "c.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": [0.9, 0.1], "b.jpg": [0.2, 0.8]})
    publisher = RecordingPublisher()

    event = collect_batch(change(sagemaker, "Completed"), store, publisher, "sagechain", LATER)

    assert isinstance(event, BatchCompleted)
    assert lines(store) == [
        {"image": IMAGES + "a.jpg", "predictions": [{"label": "daisy", "score": 0.9}]},
        {"image": IMAGES + "b.jpg", "predictions": [{"label": "rose", "score": 0.8}]},
    ]
    assert (event.images, event.scored, event.failed, event.label_counts) == (
        3,
        2,
        1,
        {"daisy": 1, "rose": 1},
    )
    summary = json.loads(store.objects[f"batches/{MODEL}/tonight/summary.json"])
    assert summary["failed_images"][0]["image"] == IMAGES + "c.jpg"
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    assert (record.status, record.scored, record.predictions_uri) == ("Completed", 2, event.predictions_uri)
    assert publisher.events == [event]


def test_a_completed_detection_batch_writes_boxes_over_the_threshold() -> None:
    store, _, sagemaker = started("object-detection", {"a.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": {"prediction": [[1, 0.75, 0.1, 0.2, 0.3, 0.4], [0, 0.2, 0, 0, 1, 1]]}})

    event = collect_batch(change(sagemaker, "Completed"), store, RecordingPublisher(), "sagechain", LATER)

    assert isinstance(event, BatchCompleted)
    assert lines(store) == [
        {
            "image": IMAGES + "a.jpg",
            "predictions": [
                {"label": "rose", "score": 0.75, "xmin": 0.1, "ymin": 0.2, "xmax": 0.3, "ymax": 0.4}
            ],
        }
    ]


@pytest.mark.parametrize(
    ("status", "reason", "says"),
    [("Failed", "ClientError: bad image", "ClientError: bad image"), ("Stopped", None, "stopped")],
)
def test_a_failed_or_stopped_job_fails_the_batch_with_the_reason(
    status: str, reason: str | None, says: str
) -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})

    event = collect_batch(change(sagemaker, status, reason), store, RecordingPublisher(), "sagechain", LATER)

    assert isinstance(event, BatchFailed)
    assert says in event.reason
    assert BatchRecord.model_validate_json(store.objects[RECORD]).status == status


def test_a_duplicate_completion_is_handled_once() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": [0.9, 0.1]})
    collect_batch(change(sagemaker, "Completed"), store, RecordingPublisher(), "sagechain", LATER)
    publisher = RecordingPublisher()

    assert collect_batch(change(sagemaker, "Completed"), store, publisher, "sagechain", LATER) is None
    assert publisher.events == []


def test_another_stacks_transform_job_is_ignored() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})

    assert (
        collect_batch(change(sagemaker, "Completed"), store, RecordingPublisher(), "other-stack", LATER)
        is None
    )


def test_the_documented_transform_state_change_reads_as_a_failed_transform_job() -> None:
    from tests.aws import sample_event  # noqa: PLC0415

    parsed = state_change(sample_event("collect_batch", "transform_job_failed"), JobKind.TRANSFORM)

    assert parsed is not None
    assert (parsed.name, parsed.status) == ("sagechain-batch-tonight-3f2a9c1d0b7e", "Failed")
    assert parsed.failure_reason == "ClientError: See job logs for more information"
    assert parsed.tags["sagechain:batch"] == "sagechain-flowers/tonight"
