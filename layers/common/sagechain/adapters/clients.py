"""boto3 clients: created lazily, once per container, with explicit retries and timeouts."""

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Standard retries back off on throttling; timeouts stay well inside a function's timeout.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
)


# A listing's workers (adapters/s3.py, LIST_WORKERS) each hold a connection of the listing client,
# and a few to spare (botocore's default pool holds 10).
S3_CONNECTIONS = 24


@cache
def s3_client() -> "S3Client":
    """The S3 client of this container."""
    return boto3.client("s3", config=CLIENT_CONFIG)


def iso_timestamp(value: Any) -> datetime:
    """A timestamp of an S3 answer: ISO 8601 (what ListObjectsV2 writes) by datetime's own parser,
    anything else by botocore's."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)


def listing_session() -> boto3.session.Session:
    """A session of its own for listing: ListObjectsV2 answers read by listing_parser (botocore's
    generic XML walk, and its second parse of every page, were most of a listing's CPU), and
    timestamps by iso_timestamp (botocore reads them with dateutil by default, which alone took 2
    to 3 times the rest of botocore's parsing; bench/manifest_build.py)."""
    from sagechain.adapters import listing_parser  # noqa: PLC0415 - only a listing function needs it

    session = botocore.session.get_session()
    listing_parser.install(session, timestamp_parser=iso_timestamp)
    return boto3.session.Session(botocore_session=session)


@cache
def s3_listing_client() -> "S3Client":
    """The S3 client that lists the data bucket (ListObjectsV2 only): its answers read fast (a
    10,000,000-key listing parses 10,000 pages of 1,000 keys), a connection per listing worker."""
    config = CLIENT_CONFIG.merge(Config(max_pool_connections=S3_CONNECTIONS))
    return listing_session().client("s3", config=config)


@cache
def s3_pooled_client(connections: int) -> "S3Client":
    """An S3 client for `connections` threads at once: its pool holds that many connections
    (botocore's default is 10; a thread beyond it waits for one). boto3 clients are thread-safe."""
    return boto3.client("s3", config=CLIENT_CONFIG.merge(Config(max_pool_connections=connections)))


@cache
def sqs_client() -> "SQSClient":
    """The SQS client of this container."""
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def s3_signing_client() -> "S3Client":
    """The S3 client that presigns downloads: Signature Version 4 (what every region accepts, and
    the only version newer regions do), on the regional endpoint."""
    return boto3.client("s3", config=CLIENT_CONFIG.merge(Config(signature_version="s3v4")))


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


@cache
def scheduler_client() -> "BaseClient":
    """The EventBridge Scheduler client of this container (typed loosely: the pinned boto3-stubs
    extras do not include scheduler)."""
    client: BaseClient = boto3.client("scheduler", config=CLIENT_CONFIG)
    return client


@cache
def cloudwatch_client() -> "BaseClient":
    """The CloudWatch client of this container (typed loosely: the pinned boto3-stubs extras do not
    include cloudwatch)."""
    client: BaseClient = boto3.client("cloudwatch", config=CLIENT_CONFIG)
    return client


def clear_client_cache() -> None:
    """Forget every client (tests and the offline stack start each function cold)."""
    for factory in (
        s3_client,
        s3_pooled_client,
        sqs_client,
        s3_listing_client,
        s3_signing_client,
        events_client,
        sagemaker_client,
        autoscaling_client,
        sns_client,
        dynamodb_client,
        scheduler_client,
        cloudwatch_client,
        sagemaker_runtime_client,
        api_s3_client,
        teardown_client,
    ):
        factory.cache_clear()


# InvokeEndpoint: no botocore retries (the predict service's jittered backoff is the only
# one) and a read timeout chosen per call, so the answer fits in what API Gateway's 29 s
# leave. One client per whole-second timeout; a warm container keeps reusing one.
RUNTIME_CONNECT_TIMEOUT = 2


@cache
def sagemaker_runtime_client(read_timeout_seconds: int) -> "SageMakerRuntimeClient":
    """The SageMaker Runtime client of this container for one read timeout."""
    return boto3.client(
        "sagemaker-runtime",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=RUNTIME_CONNECT_TIMEOUT,
            read_timeout=read_timeout_seconds,
            tcp_keepalive=True,
        ),
    )


# S3 reads on an API request's path: short timeouts, one retry, well inside 29 s.
API_S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=3)


@cache
def api_s3_client() -> "S3Client":
    """The S3 client of this container for reads that an API caller waits for."""
    return boto3.client("s3", config=API_S3_CONFIG)


# Teardown must answer CloudFormation before its function times out, so no one call may take
# long: fewer attempts and shorter reads than CLIENT_CONFIG.
TEARDOWN_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)
# The longest one call can take with it: every attempt timing out, and standard mode's backoff
# between them (at most 20 s each, botocore's retries guide).
TEARDOWN_CALL_MAX_SECONDS = 3 * (5 + 20) + 2 * 20


@cache
def teardown_client(
    service: Literal["sagemaker", "application-autoscaling", "scheduler", "cloudwatch"],
) -> Any:
    """A client of this container for the stack's teardown (typed loosely: four services)."""
    return boto3.client(service, config=TEARDOWN_CONFIG)
