"""start_training: a completed labeling job or a provided labeled manifest becomes training."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.training import SageMakerTraining
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.observability import count, logger, metrics, tracer
from sagechain.training.settings import StartTrainingSettings
from sagechain.training.start_training import TrainingTrigger, start_training, training_trigger

settings = StartTrainingSettings.from_env()
# Keyed on what the event is about (labeling job + status, or the run of a labeled
# manifest), not the event id: SageMaker may send one state change several times.
idempotency, once = once_per("key", settings.idempotency_table, "trigger")


@once
def train(trigger: TrainingTrigger) -> dict[str, Any]:
    """Start (or skip) one run's training, once."""
    store, publisher = (
        S3ObjectStore(settings.data_bucket),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
    )
    event = start_training(trigger, store, SageMakerTraining(), publisher, settings.training)
    if event is None:
        logger.info("not a sagechain run; ignored", extra={"trigger": trigger.key})
        return {"outcome": "ignored", "trigger": trigger.key}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def train_on(event: dict[str, Any]) -> dict[str, Any]:
    """Labeling Job State Change (Completed) or Object Created runs/<run_id>/labeled.manifest."""
    # Lambda hands over whatever JSON was invoked with; training_trigger reads a JSON object.
    trigger = training_trigger(event, settings.data_bucket) if isinstance(event, dict) else None
    if trigger is None:
        logger.info("nothing to train; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    logger.append_keys(trigger=trigger.key)
    return train(trigger=trigger)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """StartTrainingQueue's SQS batch (its rules' events) -> the messages to retry; one of
    those events itself (as a redrive invokes it) -> what the stage did."""
    idempotency.register_lambda_context(context)
    if is_sqs_event(event):
        return answer_batch(event, train_on)
    return train_on(event)
