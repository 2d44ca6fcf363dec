"""notify: every sagechain event, and our jobs' and endpoints' failures, become one email each."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_status import SageMakerStatus
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.event_sources.drops import detail_type
from sagechain.observability import count, logger, metrics, tracer
from sagechain.observers.email import Email
from sagechain.observers.notify import compose_email
from sagechain.observers.settings import NotifySettings

settings = NotifySettings.from_env()
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
    """A sagechain event or a SageMaker state change -> at most one email."""
    idempotency.register_lambda_context(context)
    store = S3ObjectStore(settings.data_bucket)
    email = compose_email(
        event,
        SageMakerStatus(),
        store,
        settings.name_prefix,
        settings.stack_name,
        settings.stack_id,
        operator_api_url=settings.operator_api_url,
    )
    if email is None:
        logger.info("nothing to email", extra={"detail_type": detail_type(event)})
        return {"sent": None}
    logger.append_keys(email_key=email.key)
    return send(email=email)
