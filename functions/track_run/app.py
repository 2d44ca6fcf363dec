"""track_run: every sagechain event and every state change of our jobs, in the run's history."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_status import SageMakerStatus
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.event_sources.drops import detail_type
from sagechain.observability import count, logger, metrics, tracer
from sagechain.observers.email_delivery import EmailDelivery
from sagechain.observers.settings import TrackRunSettings
from sagechain.observers.track_run import track_run

settings = TrackRunSettings.from_env()
# Asked at most every 5 minutes per container, and only when a run starts.
email = EmailDelivery(SnsEmailSender(settings.topic_arn))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Record one event; the writes are conditional, so duplicates and late events change nothing."""
    change = track_run(
        event,
        SageMakerStatus(),
        S3ObjectStore(settings.data_bucket),
        DynamoRunStore(settings.runs_table),
        settings.name_prefix,
        settings.stack_name,
        settings.stack_id,
        email,
    )
    if change is None:
        logger.info("not about one of our runs", extra={"detail_type": detail_type(event)})
        return {"run_id": None}
    count("RunEventsRecorded")
    logger.info("recorded", extra={"run_id": change.run_id, "event": change.history_key})
    return {"run_id": change.run_id, "stage": change.stage, "status": change.status}
