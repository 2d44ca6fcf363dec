"""boto3 clients: created lazily, once per container, with explicit retries and timeouts."""

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient

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


@cache
def sagemaker_client() -> "SageMakerClient":
    """The SageMaker client of this container."""
    return boto3.client("sagemaker", config=CLIENT_CONFIG)


@cache
def autoscaling_client() -> "ApplicationAutoScalingClient":
    """The Application Auto Scaling client of this container."""
    return boto3.client("application-autoscaling", config=CLIENT_CONFIG)


@cache
def sns_client() -> "SNSClient":
    """The SNS client of this container."""
    return boto3.client("sns", config=CLIENT_CONFIG)


@cache
def dynamodb_client() -> "DynamoDBClient":
    """The DynamoDB client of this container."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


def clear_client_cache() -> None:
    """Forget every client (tests and the offline stack start each function cold)."""
    for factory in (
        s3_client,
        events_client,
        sagemaker_client,
        autoscaling_client,
        sns_client,
        dynamodb_client,
    ):
        factory.cache_clear()
