"""collect_batch: a batch's transform job ended; its answers become predictions.jsonl."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.batch.collect_batch import collect_batch
from sagechain.batch.settings import CollectBatchSettings
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.observability import count, logger, metrics, tracer

settings = CollectBatchSettings.from_env()
# Keyed on the job and its status: SageMaker may send one state change twice.
idempotency, once = once_per("[name, status]", settings.idempotency_table, "change")


@once
def collect(change: StateChange) -> dict[str, Any]:
    """Collect one ended transform job, once."""
    event = collect_batch(
        change,
        S3ObjectStore(settings.data_bucket),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        settings.stack_name,
        datetime.now(UTC),
    )
    if event is None:
        logger.info("not one of this stack's batches, or handled already; ignored")
        return {"outcome": "ignored", "transform_job_name": change.name}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker Transform Job State Change (Completed, Failed, Stopped) -> Batch Completed or Failed."""
    idempotency.register_lambda_context(context)
    change = state_change(event, JobKind.TRANSFORM)
    if change is None:
        logger.info("not a transform job state change; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    logger.append_keys(transform_job_name=change.name, transform_status=change.status)
    return collect(change=change)
