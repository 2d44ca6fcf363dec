"""The long stages' SQS batches: each queued event handled alone, failures returned, junk dropped."""

import json
from typing import Any

from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from tests.aws import sample_event

QUEUE = "arn:aws:sqs:us-east-1:123456789012:sagechain-PrepareDatasetQueue-Ab12"


def batch(*bodies: str) -> dict[str, Any]:
    """Lambda's SQS event (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": "AQEB...",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1764547200000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE,
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def test_each_queued_event_is_handled_and_only_the_one_that_failed_returns() -> None:
    upload = sample_event("prepare_dataset", "folder_dataset")
    seen: list[dict[str, Any]] = []

    def handle(event: dict[str, Any]) -> None:
        seen.append(event)
        if len(seen) == 2:
            raise RuntimeError("S3 is down")

    answer = answer_batch(batch(json.dumps(upload), json.dumps(upload), json.dumps(upload)), handle)

    assert seen == [upload, upload, upload]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_a_body_that_is_not_an_event_is_dropped_not_retried() -> None:
    seen: list[dict[str, Any]] = []

    answer = answer_batch(batch("not json", "[1, 2]"), seen.append)

    assert (seen, answer) == ([], {"batchItemFailures": []})


def test_an_s3_notification_and_a_forged_batch_are_told_apart_from_an_sqs_batch() -> None:
    assert is_sqs_event(batch("{}"))
    assert not is_sqs_event(sample_event("prepare_dataset", "folder_dataset"))
    assert not is_sqs_event({"Records": [{"eventSource": "aws:s3"}]})
    assert not is_sqs_event({"Records": []})
    forged = {"Records": [{"eventSource": "aws:sqs"}]}
    assert answer_batch(forged, lambda _: None) == {"batchItemFailures": []}
