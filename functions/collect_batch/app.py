"""collect_batch: a batch's transform job ended; its answers become predictions.jsonl."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.clients import s3_pooled_client
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.queue import SqsQueue
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.adapters.transform import SageMakerTransform
from sagechain.batch.collect_batch import (
    BatchShard,
    batch_shard_of,
    collect_batch,
    collect_shard,
    stop_overdue_batch,
)
from sagechain.batch.settings import CollectBatchSettings
from sagechain.batch.start_batch import batch_deadline_of
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.observability import count, logger, metrics, tracer

settings = CollectBatchSettings.from_env()
config = settings.config
# Keyed on the job and its status: SageMaker may send one state change twice; a shard on the
# job and the shard's number: a shard message may be delivered twice.
idempotency, once = once_per("[name, status]", settings.idempotency_table, "change")
shard_idempotency, once_per_shard = once_per(
    "[transform_job_name, shard]", settings.idempotency_table, "shard"
)


def _store() -> S3ObjectStore:
    return S3ObjectStore(settings.data_bucket, s3_pooled_client(config.readers))


def _publisher() -> EventBridgePublisher:
    return EventBridgePublisher(settings.event_bus_name, settings.stack_id)


@once
def collect(change: StateChange) -> dict[str, Any]:
    """Collect one ended transform job (or queue its shards), once."""
    event = collect_batch(
        change,
        _store(),
        _publisher(),
        SqsQueue(settings.collect_batch_queue_url),
        config,
        datetime.now(UTC),
        EventBridgeSchedules(settings.collect_batch_queue_arn, None),
    )
    if event is None:
        logger.info("not one of this stack's batches, or handled already; ignored")
        return {"outcome": "ignored", "transform_job_name": change.name}
    if isinstance(event, list):
        count("Batch Sharded")
        return {"outcome": "sharded", "transform_job_name": change.name, "shards": len(event)}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


@once_per_shard
def collect_one_shard(shard: BatchShard) -> dict[str, Any]:
    """Map one shard of a big batch (and merge, when it completes the set), once."""
    event = collect_shard(shard, _store(), _publisher(), config, datetime.now(UTC))
    if event is None:
        return {"outcome": "part written or ignored", "shard": shard.key}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def collect_on(event: dict[str, Any]) -> dict[str, Any]:
    """SageMaker Transform Job State Change (Completed, Failed, Stopped), one of this function's
    shard messages, or a batch's deadline -> Batch Completed or Failed (or shards queued, a part
    written, the job stopped)."""
    deadline = batch_deadline_of(event)
    if deadline is not None:
        # Not once-only: a second stop of a stopped job is refused, and answered False.
        stopped = stop_overdue_batch(deadline, _store(), SageMakerTransform(), datetime.now(UTC))
        logger.info(
            "batch deadline", extra={"transform_job_name": deadline.transform_job_name, "stopped": stopped}
        )
        return {
            "outcome": "stopped" if stopped else "ended already",
            "transform_job_name": deadline.transform_job_name,
        }
    shard = batch_shard_of(event)
    if shard is not None:
        logger.append_keys(batch_shard=shard.key)
        return collect_one_shard(shard=shard)
    change = state_change(event, JobKind.TRANSFORM)
    if change is None:
        logger.info("not a transform job state change; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    logger.append_keys(transform_job_name=change.name, transform_status=change.status)
    return collect(change=change)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """CollectBatchQueue's SQS batch -> the messages to retry; one queued body itself (as a
    redrive invokes it) -> what the stage did."""
    idempotency.register_lambda_context(context)
    shard_idempotency.register_lambda_context(context)
    if is_sqs_event(event):
        return answer_batch(event, collect_on)
    return collect_on(event)
