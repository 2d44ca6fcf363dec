"""watch_runs: every hour, one email for each run that has stopped moving."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.idempotency import once_per
from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.observability import count, logger, metrics, tracer
from sagechain.observers.email import Email
from sagechain.observers.notify import stale_run_email
from sagechain.observers.settings import WatchRunsSettings
from sagechain.observers.stale_runs import stale_runs

settings = WatchRunsSettings.from_env()
# Keyed on the run and the time it last moved: one email per stall, whatever the schedule does.
idempotency, once = once_per("key", settings.idempotency_table, "email")


@once
def send(email: Email) -> dict[str, Any]:
    """Publish one email, once."""
    SnsEmailSender(settings.topic_arn).send(email.subject, email.body)
    count("StaleRunsReported")
    return {"sent": email.key}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A scheduled event -> an email for each run quiet for STALE_RUN_HOURS."""
    idempotency.register_lambda_context(context)
    now = datetime.now(UTC)
    reported = [
        send(email=stale_run_email(record, now, settings.stale_after_hours))["sent"]
        for record in stale_runs(
            DynamoRunStore(settings.runs_table), now, timedelta(hours=settings.stale_after_hours)
        )
    ]
    logger.info("stale runs reported", extra={"count": len(reported)})
    return {"reported": reported}
