"""configure_autoscaling: an endpoint in service gets autoscaling and its model goes live."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.models.sagemaker_events import EndpointStateChange, endpoint_state_change
from sagechain.observability import count, logger, metrics, tracer
from sagechain.services.configure_autoscaling import AutoscalingConfig, configure_autoscaling
from sagechain.settings import ConfigureAutoscalingSettings

settings = ConfigureAutoscalingSettings.from_env()
config = AutoscalingConfig(settings.name_prefix, settings.predict_url_template)
# Keyed on what the event is about: the endpoint, the configuration it runs, the status.
idempotency, once = once_per("[endpoint_name, config_name, status]", settings.idempotency_table, "change")


@once
def configure(change: EndpointStateChange) -> dict[str, Any]:
    """Act once per endpoint state change."""
    hosting = SageMakerHosting()
    outcome = configure_autoscaling(
        change,
        jobs=hosting,
        host=hosting,
        autoscaler=ApplicationAutoScaling(),
        store=S3ObjectStore(settings.data_bucket),
        publisher=EventBridgePublisher(settings.event_bus_name),
        config=config,
    )
    logger.info(outcome.outcome, extra={"reason": outcome.reason})
    count(outcome.outcome)
    return outcome.summary()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker Endpoint State Change -> autoscaling and Model Live, or Deployment Failed."""
    idempotency.register_lambda_context(context)
    change = endpoint_state_change(event)
    logger.append_keys(endpoint_name=change.endpoint_name, endpoint_status=change.status)
    configured: dict[str, Any] = configure(change=change)  # once_per's decorator is typed Callable[..., Any]
    return configured
