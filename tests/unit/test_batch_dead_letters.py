"""A batch message that failed every delivery fails its batch, once, saying where it stopped."""

import json
from typing import Any

import pytest

from sagechain.batch.dead_letters import BatchFailureConfig, fail_stuck_batch, stuck_batch
from sagechain.events import BatchFailed
from sagechain.records import BatchRecord
from tests.fakes import MemoryStore, RecordingPublisher
from tests.unit.test_collect_batch import (
    FIVE,
    FIVE_ANSWERS,
    LATER,
    RECORD,
    RecordingStopper,
    answer,
    deadline_of,
    queued_shards,
    started,
)
from tests.unit.test_start_batch import KEY, FakeTransformJobs

CONFIG = BatchFailureConfig(name_prefix="sagechain", stack_name="sagechain")


def record_of(store: MemoryStore) -> BatchRecord:
    return BatchRecord.model_validate_json(store.objects[RECORD])


def upload_event(bucket: str, etag: str = "e1") -> dict[str, Any]:
    """The Object Created event StartBatchQueue parked, as its rule delivered it."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b104",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-03-10T02:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": KEY, "size": 27, "etag": etag, "sequencer": "00617F08299329D189"},
            "reason": "PutObject",
        },
    }


def change_event(sagemaker: FakeTransformJobs, status: str) -> dict[str, Any]:
    [request] = sagemaker.jobs.values()
    name = request["TransformJobName"]
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Transform Job State Change",
        "time": "2026-03-10T03:00:00Z",
        "resources": [f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}"],
        "detail": {
            "TransformJobName": name,
            "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
            "TransformJobStatus": status,
            "Tags": {tag["Key"]: tag["Value"] for tag in request["Tags"]},
        },
    }


def test_a_dead_lettered_shard_fails_the_batch_naming_the_shard_and_how_to_start_again() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)
    shard = queued_shards(store, sagemaker)[1]
    publisher, stopper = RecordingPublisher(), RecordingStopper(set())

    batch = stuck_batch("collect_batch", json.loads(shard.message()), CONFIG)
    assert batch is not None
    failed = fail_stuck_batch(batch, "m-1", store, publisher, stopper, LATER)

    assert isinstance(failed, BatchFailed)
    assert publisher.events == [failed]
    assert failed.status == "Failed"
    assert "collecting shard 2 of 3 (images 3 to 4 of the manifest)" in failed.reason
    assert "the log of collect_batch" in failed.reason
    assert "upload batch.json again" in failed.reason
    record = record_of(store)
    assert (record.status, record.failure_reason, record.ended_at) == ("Failed", failed.reason, LATER)
    assert stopper.stopped == []  # the job had completed: nothing to stop


def test_a_dead_lettered_deadline_stops_the_running_job_and_says_so() -> None:
    store, _, _ = started("image-classification", FIVE)
    deadline = deadline_of(store)
    stopper = RecordingStopper({deadline.transform_job_name})

    batch = stuck_batch("collect_batch", json.loads(deadline.message()), CONFIG)
    assert batch is not None
    failed = fail_stuck_batch(batch, "m-1", store, RecordingPublisher(), stopper, LATER)

    assert failed is not None
    assert stopper.stopped == [deadline.transform_job_name]
    assert "stopping the batch at its max runtime" in failed.reason
    assert f"Its transform job {deadline.transform_job_name} was stopped." in failed.reason


def test_a_dead_lettered_start_fails_the_recorded_batch_and_stops_its_job() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    [job] = sagemaker.jobs
    stopper = RecordingStopper({job})

    batch = stuck_batch("start_batch", upload_event(store.bucket), CONFIG)
    assert batch is not None
    failed = fail_stuck_batch(batch, "m-1", store, RecordingPublisher(), stopper, LATER)

    assert failed is not None
    assert f"starting the batch from {KEY}" in failed.reason
    assert "the log of start_batch" in failed.reason
    assert (stopper.stopped, record_of(store).status) == ([job], "Failed")


def test_a_start_that_never_recorded_its_batch_still_says_batch_failed_and_stops_nothing() -> None:
    store, _, _ = started("image-classification", FIVE)
    # Another upload of batch.json (another ETag) whose start never got as far as its record.
    batch = stuck_batch("start_batch", upload_event(store.bucket, etag="e2"), CONFIG)
    assert batch is not None
    stopper = RecordingStopper({batch.transform_job_name})

    failed = fail_stuck_batch(batch, "m-1", store, RecordingPublisher(), stopper, LATER)

    assert failed is not None
    assert failed.batch_id == batch.batch_id
    assert stopper.stopped == []
    assert record_of(store).status == "InProgress"  # the earlier upload's batch is not touched


def test_one_batch_failed_however_many_of_its_messages_are_parked_or_redelivered() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)
    first, second, _ = queued_shards(store, sagemaker)
    publisher = RecordingPublisher()

    def park(body: dict[str, Any], message_id: str) -> BatchFailed | None:
        batch = stuck_batch("collect_batch", body, CONFIG)
        assert batch is not None
        return fail_stuck_batch(batch, message_id, store, publisher, RecordingStopper(set()), LATER)

    assert park(json.loads(first.message()), "m-1") is not None
    # Two shards parked together: the second finds the batch failed; the Stopped change too.
    assert park(json.loads(second.message()), "m-2") is None
    assert park(change_event(sagemaker, "Stopped"), "m-3") is None
    assert len(publisher.events) == 1


def test_a_copy_of_the_message_that_failed_the_batch_finishes_what_a_crash_left_undone() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)
    shard = queued_shards(store, sagemaker)[0]
    batch = stuck_batch("collect_batch", json.loads(shard.message()), CONFIG)
    assert batch is not None

    class DownBus:
        def publish(self, event: object) -> None:
            raise RuntimeError("EventBridge is down")

    with pytest.raises(RuntimeError):
        fail_stuck_batch(batch, "m-1", store, DownBus(), RecordingStopper(set()), LATER)
    publisher = RecordingPublisher()
    retried = fail_stuck_batch(batch, "m-1", store, publisher, RecordingStopper(set()), LATER)

    assert retried is not None
    assert publisher.events == [retried]
    assert retried.reason == record_of(store).failure_reason


def test_a_completed_batch_is_not_failed_by_a_late_parked_message() -> None:
    store, _, _ = started("image-classification", FIVE)
    deadline = deadline_of(store)
    record = record_of(store)
    store.objects[RECORD] = record.model_copy(update={"status": "Completed"}).model_dump_json().encode()

    batch = stuck_batch("collect_batch", json.loads(deadline.message()), CONFIG)
    assert batch is not None
    publisher = RecordingPublisher()

    assert fail_stuck_batch(batch, "m-1", store, publisher, RecordingStopper(set()), LATER) is None
    assert publisher.events == []


def test_messages_about_no_batch_of_this_stack_are_not_batch_messages() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    other = change_event(sagemaker, "Completed")
    other["detail"]["Tags"]["sagechain:stack"] = "another-stack"

    assert stuck_batch("collect_batch", other, CONFIG) is None
    assert stuck_batch("start_training", upload_event(store.bucket), CONFIG) is None
    assert stuck_batch("collect_batch", {"batch_shard": {"shard": "x"}}, CONFIG) is None
