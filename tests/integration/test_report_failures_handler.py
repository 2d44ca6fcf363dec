"""report_failures' handler on the sample messages, against moto: S3, SNS and DynamoDB (idempotency)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from local.outbox import published
from moto import mock_aws

from sagechain.batch.collect_batch import BatchShard
from sagechain.records import BatchRecord, ModelInfo
from tests.aws import (
    BUCKET,
    EventCapture,
    create_stack_resources,
    create_topic,
    iter_keys,
    load_handler,
    sample_event,
)
from tests.unit.test_start_batch import live_model

pytestmark = pytest.mark.integration


@pytest.fixture
def stack() -> Iterator[tuple[ModuleType, str]]:
    with mock_aws():
        create_stack_resources()
        topic = create_topic()
        yield load_handler("report_failures"), topic


def test_a_message_delivered_twice_is_saved_to_one_key_and_emailed_once(stack: Any) -> None:
    handler, topic = stack
    event = sample_event("report_failures", "async_failure")

    first = handler.handler(event, FakeLambdaContext())
    second = handler.handler(event, FakeLambdaContext())

    assert first == second == {"batchItemFailures": []}
    [key] = list(iter_keys("failures/"))
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(body) == sample_event("start_training", "labeling_job_completed")
    [(subject, message)] = published(topic)
    assert subject == "[sagechain] Training start failed"
    assert key in message


def test_malformed_messages_are_acknowledged_and_nothing_is_sent(stack: Any) -> None:
    handler, topic = stack

    response = handler.handler(sample_event("report_failures", "malformed"), FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert published(topic) == []
    assert list(iter_keys("failures/")) == []


COLLECT_DLQ = "arn:aws:sqs:us-east-1:123456789012:sagechain-CollectBatchDeadLetterQueue-Ab34"


def parked_shard(shard: int, message_id: str) -> dict[str, Any]:
    """An SQS batch of CollectBatchDeadLetterQueue: one shard message of a 3-shard batch, as queued."""
    body = BatchShard(
        model="sagechain-flowers",
        batch_name="tonight",
        batch_id="tonight-0123456789ab",
        transform_job_name="sagechain-batch-tonight-0123456789ab",
        shard=shard,
        shards=3,
        shard_images=2,
    ).message()
    record = {
        "messageId": message_id,
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764547200000"},
        "messageAttributes": {},
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": COLLECT_DLQ,
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def test_a_parked_shard_fails_its_batch_once_however_often_it_or_a_sibling_is_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGE_DEAD_LETTER_QUEUES", f"{COLLECT_DLQ}=sagechain-CollectBatchFunction-Cd56")
    with mock_aws():
        create_stack_resources()
        topic = create_topic()
        capture = EventCapture()
        info = ModelInfo.model_validate_json(live_model())
        record = BatchRecord(
            batch_id="tonight-0123456789ab",
            model="sagechain-flowers",
            batch_name="tonight",
            batch_uri=f"s3://{BUCKET}/batches/sagechain-flowers/tonight/",
            status="InProgress",
            transform_job_name="sagechain-batch-tonight-0123456789ab",
            scored_by=info,
            k=1,
            threshold=0.5,
            images=5,
            skipped={},
            content_type="image/png",
            instance_type="ml.m5.large",
            instance_count=1,
            max_runtime_minutes=60,
            console_url="https://console/transform-jobs/sagechain-batch-tonight-0123456789ab",
            created_at=datetime(2026, 3, 10, 2, tzinfo=UTC),
        )
        s3 = boto3.client("s3")
        key = "models/sagechain-flowers/batches/tonight.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=record.model_dump_json().encode())
        handler = load_handler("report_failures")

        # The same parked message twice (SQS delivers at least once), then its sibling shard's
        for event in (parked_shard(1, "m-1"), parked_shard(1, "m-1"), parked_shard(2, "m-2")):
            assert handler.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}

        failed = [e for e in capture.received() if e["detail-type"] == "Batch Failed"]
        assert len(failed) == 1
        assert "collecting shard 2 of 3 (images 3 to 4 of the manifest)" in failed[0]["detail"]["reason"]
        stored = BatchRecord.model_validate_json(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert (stored.status, stored.failure_reason) == ("Failed", failed[0]["detail"]["reason"])
        # Each parked message is still emailed for redrive, once.
        assert [s for s, _ in published(topic)] == ["[sagechain] Batch collection failed"] * 2
