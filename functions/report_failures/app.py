"""report_failures: each event a failure queue parked is saved under failures/ and emailed, once;
a parked batch message also fails its batch ("Batch Failed", its job stopped), and a parked event of
a run's stage ends the run failed there ("Stage Failed")."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.adapters.transform import SageMakerTransform
from sagechain.batch.dead_letters import BatchFailureConfig, fail_stuck_batch, stuck_batch
from sagechain.observability import logger, metrics, tracer
from sagechain.observers.failures import ParkedFailure, report_batch, report_failure, stage_failed
from sagechain.observers.settings import ReportFailuresSettings
from sagechain.observers.timeline import dataset_of

settings = ReportFailuresSettings.from_env()
# Keyed on the SQS message id: a message delivered twice is saved to the same key and emailed once.
idempotency, once = once_per("message_id", settings.idempotency_table, "failure")
batches = BatchFailureConfig(settings.name_prefix, settings.stack_name)


@once
def report(failure: ParkedFailure) -> dict[str, Any]:
    """Fail the batch a parked batch message was about, then save and email the failure, once."""
    store = S3ObjectStore(settings.data_bucket)
    # Only a stage queue's message is the stage's own: a rule's or a destination's wraps the event.
    batch = stuck_batch(failure.stage, failure.event, batches) if failure.kind == "redelivered" else None
    publisher = EventBridgePublisher(settings.event_bus_name, settings.stack_id)
    failed = None
    if batch is not None:
        failed = fail_stuck_batch(
            batch, failure.message_id, store, publisher, SageMakerTransform(), datetime.now(UTC)
        )
    # Before the email, as a batch's: a retry after a failed publish must not email twice.
    run_failed = stage_failed(failure, store.bucket, lambda run_id: dataset_of(run_id, store))
    if run_failed is not None:
        publisher.publish(run_failed)
    email = report_failure(failure, store, SnsEmailSender(settings.topic_arn))
    return {
        "saved": failure.saved_key,
        "subject": email.subject,
        "batch_failed": failed is not None,
        "run_failed": run_failed is not None,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An SQS batch from a failure queue (RulesDeadLetterQueue, AsyncFailureQueue, a stage's
    dead letter queue) -> the messages to retry."""
    idempotency.register_lambda_context(context)
    return report_batch(
        event,
        lambda failure: report(failure=failure),
        settings.stage_dead_letter_queues,
        lambda email: SnsEmailSender(settings.topic_arn).send(email.subject, email.body),
    )
