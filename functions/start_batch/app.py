"""start_batch: batches/<model>/<name>/batch.json arrived; one transform job scores the batch."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.adapters.transform import SageMakerTransform
from sagechain.batch.settings import StartBatchSettings
from sagechain.batch.start_batch import start_batch
from sagechain.event_sources.s3 import ObjectRef, objects_created
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.observability import count, logger, metrics, tracer

settings = StartBatchSettings.from_env()
config = settings.config
# Keyed on the upload (bucket, key, version or ETag), not the event id: the same batch.json
# delivered twice is one transform job and one event.
idempotency, once = once_per("[bucket, key, version_id, etag]", settings.idempotency_table, "ref")


@once
def start(ref: ObjectRef) -> dict[str, Any]:
    """Start (or reject) one batch, once."""
    event = start_batch(
        ref,
        S3ObjectStore(settings.data_bucket),
        SageMakerTransform(),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        config,
        datetime.now(UTC),
        EventBridgeSchedules(
            settings.collect_batch_queue_arn,
            settings.deadline_role_arn,
            description="sagechain: stops the batch's transform job when max_runtime_minutes has passed",
        ),
    )
    if event is None:
        logger.info("no batch to start; ignored", extra={"key": ref.key})
        return {"outcome": "ignored", "key": ref.key}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def start_on(event: dict[str, Any]) -> dict[str, Any]:
    """Object Created batches/<model>/<name>/batch.json -> Batch Started, Rejected or Failed."""
    refs = [ref for ref in objects_created(event) if ref.bucket == settings.data_bucket]
    return {"batches": [start(ref=ref) for ref in refs]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """StartBatchQueue's SQS batch (its rule's events) -> the messages to retry; one of those
    events itself (as a redrive invokes it) -> what the stage did."""
    idempotency.register_lambda_context(context)
    if is_sqs_event(event):
        return answer_batch(event, start_on)
    return start_on(event)
