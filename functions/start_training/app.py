"""start_training: a completed labeling job, a provided labeled manifest, or a retry from training
(Run Retried) becomes training."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.training import SageMakerTraining
from sagechain.errors import StaleAttemptError
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.events import EVENT_SOURCE, RunRetried
from sagechain.observability import count, logger, metrics, tracer
from sagechain.training.settings import StartTrainingSettings
from sagechain.training.start_training import (
    TrainingTrigger,
    retried_training_trigger,
    start_training,
    training_trigger,
)

settings = StartTrainingSettings.from_env()
# Keyed on what the event is about (labeling job + status, the run of a labeled manifest, or
# the run and attempt of a retry), not the event id: SageMaker may send one state change
# several times, and a Run Retried may arrive twice.
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


def trigger_of(event: object) -> TrainingTrigger | None:
    """The training an event asks for: SageMaker's, S3's, or this stack's Run Retried."""
    # Lambda hands over whatever JSON was invoked with; the triggers read a JSON object.
    if not isinstance(event, dict):
        return None
    if event.get("source") != EVENT_SOURCE:
        return training_trigger(event, settings.data_bucket)
    delivery = parse_bus_event(event, settings.stack_id)
    if isinstance(delivery, SagechainDelivery) and isinstance(delivery.event, RunRetried):
        return retried_training_trigger(delivery.event)
    return None


def train_on(event: dict[str, Any]) -> dict[str, Any]:
    """Labeling Job State Change (Completed), Object Created runs/<run_id>/labeled.manifest, or
    Run Retried from training."""
    trigger = trigger_of(event)
    if trigger is None:
        logger.info("nothing to train; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    logger.append_keys(trigger=trigger.key)
    try:
        return train(trigger=trigger)
    except StaleAttemptError as err:
        # Not retried and not recorded: nothing may start for this attempt.
        logger.info("attempt replaced or stopped; ignored", extra={"reason": err.reason})
        return {"outcome": "ignored", "trigger": trigger.key, "reason": err.reason}


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
