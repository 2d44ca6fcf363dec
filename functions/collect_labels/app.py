"""collect_labels: annotations, a done marker or an export from the team's own labeling tool arrive
under a run (Object Created) and become its labeled manifest."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.label_counts import DynamoDBLabelCounters
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.event_sources.s3 import objects_created
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.labeling.collect_labels import LabelsArrival, collect_labels, labels_arrival
from sagechain.labeling.settings import CollectLabelsSettings
from sagechain.observability import count, logger, metrics, tracer

settings = CollectLabelsSettings.from_env()
store = S3ObjectStore(settings.data_bucket)
publisher = EventBridgePublisher(settings.event_bus_name, settings.stack_id)
counters = DynamoDBLabelCounters(settings.idempotency_table)
# Keyed on the object and its version: a delivery twice is one arrival, a re-upload is another.
idempotency, once = once_per("[key, version]", settings.idempotency_table, "arrival")


@once
def collect(arrival: LabelsArrival) -> dict[str, Any]:
    """Take one uploaded object's labels, once."""
    logger.append_keys(run_id=arrival.run_id, key=arrival.key)
    event = collect_labels(arrival, store, publisher, counters)
    if event is None:
        logger.info("no own-tool run waiting for labels here, or the object is gone; ignored")
        return {"outcome": "ignored", "run_id": arrival.run_id}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def collect_all(event: dict[str, Any]) -> dict[str, Any]:
    """Object Created under runs/<run_id>/label-studio/annotations/, .../label-studio/done or
    runs/<run_id>/labels/ -> Labeling Progress, Labeling Completed or Labels Rejected."""
    results = []
    for ref in objects_created(event):
        arrival = labels_arrival(ref)
        if arrival is None or ref.bucket != settings.data_bucket:
            logger.info("not a run's labels; ignored", extra={"bucket": ref.bucket, "key": ref.key})
            continue
        results.append(collect(arrival=arrival))
    return {"arrivals": results}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """CollectLabelsQueue's SQS batch (its rule's events) -> the messages to retry; one of those
    events itself (as a redrive invokes it) -> what the stage did."""
    idempotency.register_lambda_context(context)
    if is_sqs_event(event):
        return answer_batch(event, collect_all)
    return collect_all(event)
