"""moto-backed resources shaped like template.yaml's, and handlers loaded the way Lambda loads them."""

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from local.template import Template

from sagechain.adapters import clients

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "sagechain-data-example"
IDEMPOTENCY_TABLE = "sagechain-idempotency"


def load_handler(function: str) -> ModuleType:
    """functions/<function>/app.py as a fresh module, so its cold-start code runs under moto."""
    clients.clear_client_cache()
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{function}_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_event(function: str, case: str) -> dict[str, Any]:
    """events/<function>/<case>.json, the same file `sam local invoke -e` takes."""
    return json.loads((ROOT / "events" / function / f"{case}.json").read_text())


def create_stack_resources() -> None:
    """The bucket (versioned, as in the template) and the idempotency table."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb").create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class EventCapture:
    """A rule on the default bus that sends every `sagechain` event to an SQS queue."""

    def __init__(self) -> None:
        self._sqs = boto3.client("sqs")
        self._url = self._sqs.create_queue(QueueName="sagechain-events")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events")
        events.put_rule(Name="capture", EventPattern=json.dumps({"source": ["sagechain"]}))
        events.put_targets(Rule="capture", Targets=[{"Id": "queue", "Arn": arn}])

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered so far, oldest first."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


def iter_keys(prefix: str) -> Iterator[str]:
    """Every key under prefix in the test bucket."""
    for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


RUNS_TABLE = "sagechain-runs"
TOPIC_NAME = "sagechain-notifications"
ACCOUNT = "123456789012"


def create_runs_table() -> None:
    """The runs table with the keys and index template.yaml declares."""
    boto3.client("dynamodb").create_table(**Template({}, {}).table("RunsTable", RUNS_TABLE))


def create_topic() -> str:
    """The notification topic; its ARN."""
    return str(boto3.client("sns").create_topic(Name=TOPIC_NAME)["TopicArn"])
