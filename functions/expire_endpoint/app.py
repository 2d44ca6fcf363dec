"""expire_endpoint: an endpoint's expiry schedule fired; it, its configurations and models go."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.expiry import ExpiryDue, expire_endpoint
from sagechain.deployment.settings import ExpireEndpointSettings
from sagechain.event_sources.drops import drop, invalid
from sagechain.names import STACK_TAG
from sagechain.observability import count, logger, metrics, tracer

settings = ExpireEndpointSettings.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The schedule's input (ExpiryDue) -> the endpoint deleted and Model Expired, or nothing."""
    try:
        due = ExpiryDue.model_validate(event)
    except ValidationError as err:
        drop(event, invalid(err))  # not our schedule's input: retrying cannot help
        return {"outcome": "dropped"}
    logger.append_keys(endpoint_name=due.endpoint_name)
    hosting = SageMakerHosting()
    outcome = expire_endpoint(
        due,
        sagemaker=hosting,
        autoscaler=ApplicationAutoScaling(tags={STACK_TAG: settings.stack_name}),
        store=S3ObjectStore(settings.data_bucket),
        publisher=EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        region=hosting.region,
        now=datetime.now(UTC),
        alarms=CloudWatchAlarms(),
    )
    logger.info(outcome.outcome, extra={"reason": outcome.reason})
    count(outcome.outcome)
    return outcome.summary()
