"""notify: every sagechain event, and our jobs' and endpoints' failures, become one email each."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.idempotency import persistence_layer
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_status import SageMakerStatus
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.observability import logger, metrics, tracer
from sagechain.services.notify import Email, compose_email
from sagechain.settings import NotifySettings

settings = NotifySettings.from_env()
# Keyed on what the email is about (event type and run, or job, name and status), not the
# event id: SageMaker may report one state change twice, and EventBridge may redeliver.
idempotency = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=7 * 24 * 3600)


@idempotent_function(
    data_keyword_argument="email",
    config=idempotency,
    persistence_store=persistence_layer(settings.idempotency_table),
)
def send(email: Email) -> dict[str, Any]:
    """Publish one email, once."""
    SnsEmailSender(settings.topic_arn).send(email.subject, email.body)
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
    return {"sent": email.key, "subject": email.subject}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A sagechain event or a SageMaker state change -> at most one email."""
    idempotency.register_lambda_context(context)
    email = compose_email(event, SageMakerStatus(), S3ObjectStore(settings.data_bucket), settings.name_prefix)
    if email is None:
        logger.info("nothing to email", extra={"detail_type": event.get("detail-type")})
        return {"sent": None}
    logger.append_keys(email_key=email.key)
    return send(email=email)
