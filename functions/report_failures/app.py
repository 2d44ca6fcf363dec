"""report_failures: each event a failure queue parked is saved under failures/ and emailed, once."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.observability import logger, metrics, tracer
from sagechain.observers.failures import ParkedFailure, report_batch, report_failure
from sagechain.observers.settings import ReportFailuresSettings

settings = ReportFailuresSettings.from_env()
# Keyed on the SQS message id: a message delivered twice is saved to the same key and emailed once.
idempotency, once = once_per("message_id", settings.idempotency_table, "failure")


@once
def report(failure: ParkedFailure) -> dict[str, Any]:
    """Save and email one parked failure, once."""
    email = report_failure(failure, S3ObjectStore(settings.data_bucket), SnsEmailSender(settings.topic_arn))
    return {"saved": failure.saved_key, "subject": email.subject}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An SQS batch from a failure queue (RulesDeadLetterQueue, AsyncFailureQueue, a stage's
    dead letter queue) -> the messages to retry."""
    idempotency.register_lambda_context(context)
    return report_batch(event, lambda failure: report(failure=failure), settings.stage_dead_letter_queues)
