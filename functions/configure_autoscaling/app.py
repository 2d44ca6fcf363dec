"""configure_autoscaling: an endpoint in service gets autoscaling and its model goes live."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.deployment.alarms import AlarmThresholds
from sagechain.deployment.configure_autoscaling import AutoscalingConfig, configure_autoscaling
from sagechain.deployment.settings import ConfigureAutoscalingSettings
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.names import STACK_TAG
from sagechain.observability import count, logger, metrics, tracer

settings = ConfigureAutoscalingSettings.from_env()
config = AutoscalingConfig(
    settings.name_prefix,
    settings.predict_url_template,
    settings.stack_name,
    price_overrides=settings.instance_price_overrides,
    alarm_thresholds=AlarmThresholds(settings.rollback_error_rate_percent, settings.predict_function_name),
)
# Keyed on what the event is about: the endpoint, the configuration it runs, the status, and when
# the endpoint changed (and why). An update SageMaker rolls back returns the endpoint to service on
# the configuration it ran before, whose InService was handled already: its LastModifiedTime (and
# FailureReason) make the return a new fact, while the same change sent twice stays one.
idempotency, once = once_per(
    "[name, config_name, status, failure_reason, modified_at]", settings.idempotency_table, "change"
)


@once
def configure(change: StateChange) -> dict[str, Any]:
    """Act once per endpoint state change."""
    hosting = SageMakerHosting()
    outcome = configure_autoscaling(
        change,
        jobs=hosting,
        host=hosting,
        autoscaler=ApplicationAutoScaling(tags={STACK_TAG: settings.stack_name}),
        store=S3ObjectStore(settings.data_bucket),
        publisher=EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        config=config,
        schedules=EventBridgeSchedules(settings.expiry_function_arn, settings.expiry_role_arn),
        alarms=CloudWatchAlarms(),
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
    change = state_change(event, JobKind.ENDPOINT)
    if change is None:
        logger.info("not an endpoint state change; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    logger.append_keys(endpoint_name=change.name, endpoint_status=change.status)
    return configure(change=change)
