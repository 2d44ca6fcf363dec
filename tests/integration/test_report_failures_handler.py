"""report_failures' handler on the sample messages, against moto: S3, SNS and DynamoDB (idempotency)."""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from local.outbox import published
from moto import mock_aws

from tests.aws import BUCKET, create_stack_resources, create_topic, iter_keys, load_handler, sample_event

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
