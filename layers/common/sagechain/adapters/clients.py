"""boto3 clients: created lazily, once per container, with explicit retries and timeouts."""

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client

# Standard retries back off on throttling; timeouts stay well inside a function's timeout.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
)


@cache
def s3_client() -> "S3Client":
    """The S3 client of this container."""
    return boto3.client("s3", config=CLIENT_CONFIG)


@cache
def events_client() -> "EventBridgeClient":
    """The EventBridge client of this container."""
    return boto3.client("events", config=CLIENT_CONFIG)
