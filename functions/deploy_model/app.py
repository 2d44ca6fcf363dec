"""deploy_model: a finished training or tuning job becomes the model behind the run's endpoint."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.deploy_model import DeployConfig, deploy_model
from sagechain.deployment.settings import DeployModelSettings
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.names import STACK_TAG
from sagechain.observability import count, logger, metrics, tracer

settings = DeployModelSettings.from_env()
config = DeployConfig.from_settings(settings)
# Keyed on what the event is about (the job and its status), not the event id: SageMaker
# may send one state change twice.
idempotency, once = once_per("[kind, name, status]", settings.idempotency_table, "change")


@once
def deploy(change: StateChange) -> dict[str, Any]:
    """Deploy (or reject) once per job state change."""
    hosting = SageMakerHosting()
    outcome = deploy_model(
        change,
        jobs=hosting,
        host=hosting,
        autoscaler=ApplicationAutoScaling(tags={STACK_TAG: settings.stack_name}),
        store=S3ObjectStore(settings.data_bucket),
        publisher=EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        config=config,
    )
    logger.info(outcome.outcome, extra={"reason": outcome.reason})
    count(outcome.outcome)
    return outcome.summary()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker Training / HyperParameter Tuning Job State Change -> a deployment or a rejection."""
    idempotency.register_lambda_context(context)
    change = state_change(event, JobKind.TRAINING, JobKind.TUNING)
    if change is None:
        logger.info(
            "not a training or tuning job state change; ignored",
            extra={"detail_type": detail_type(event)},
        )
        return {"outcome": "ignored"}
    logger.append_keys(job_name=change.name, job_status=change.status)
    return deploy(change=change)
