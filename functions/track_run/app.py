"""track_run: every event in the run's history, then the email a person must get (stages 6 and 7).

One function observes for both: recording first, so an email never tells of a step the run's
history lacks; a failure after the record retries the whole event, and both sides are idempotent
(conditional writes; one email per key)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.idempotency import once_per
from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_status import SageMakerStatus
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.event_sources.drops import detail_type
from sagechain.observability import count, logger, metrics, tracer
from sagechain.observers.email import Email
from sagechain.observers.email_delivery import EmailDelivery
from sagechain.observers.notify import compose_email
from sagechain.observers.settings import TrackRunSettings
from sagechain.observers.track_run import track_run

settings = TrackRunSettings.from_env()
# Asked at most every 5 minutes per container, and only when a run starts.
email_delivery = EmailDelivery(SnsEmailSender(settings.topic_arn))
# Keyed on what the email is about (event type and run, or job, name and status), not the
# event id: SageMaker may report one state change twice, and EventBridge may redeliver.
idempotency, once = once_per("key", settings.idempotency_table, "email")


@once
def send(email: Email) -> dict[str, Any]:
    """Publish one email, once."""
    SnsEmailSender(settings.topic_arn).send(email.subject, email.body)
    count("EmailsSent")
    return {"sent": email.key, "subject": email.subject}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Record one event (conditional writes: duplicates and late events change nothing), then
    email it when it deserves one."""
    idempotency.register_lambda_context(context)
    # One event: recording and emailing it ask SageMaker the same questions, answered once.
    lookup, store = SageMakerStatus(remember=True), S3ObjectStore(settings.data_bucket)
    change = track_run(
        event,
        lookup,
        store,
        DynamoRunStore(settings.runs_table),
        settings.name_prefix,
        settings.stack_name,
        settings.stack_id,
        email_delivery,
    )
    if change is None:
        logger.info("not about one of our runs", extra={"detail_type": detail_type(event)})
        return {"run_id": None, "sent": None}
    count("RunEventsRecorded")
    logger.info("recorded", extra={"run_id": change.run_id, "event": change.history_key})
    recorded = {"run_id": change.run_id, "stage": change.stage, "status": change.status}
    email = compose_email(
        event,
        lookup,
        store,
        settings.name_prefix,
        settings.stack_name,
        settings.stack_id,
        operator_api_url=settings.operator_api_url,
    )
    if email is None:
        return {**recorded, "sent": None}
    logger.append_keys(email_key=email.key)
    return {**recorded, **send(email=email)}
