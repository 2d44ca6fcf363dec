"""deploy_model: a finished training or tuning job becomes the model behind the run's endpoint."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.models.sagemaker_events import JobStateChange, job_state_change
from sagechain.observability import count, logger, metrics, tracer
from sagechain.services.deploy_model import DeployConfig, deploy_model
from sagechain.settings import DeployModelSettings

settings = DeployModelSettings.from_env()
config = DeployConfig(name_prefix=settings.name_prefix, role_arn=settings.sagemaker_role_arn)
# Keyed on what the event is about (the job and its status), not the event id: SageMaker
# may send one state change twice.
idempotency, once = once_per("[kind, job_name, status]", settings.idempotency_table, "change")


@once
def deploy(change: JobStateChange) -> dict[str, Any]:
    """Deploy (or reject) once per job state change."""
    hosting = SageMakerHosting()
    outcome = deploy_model(
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
    """SageMaker Training / HyperParameter Tuning Job State Change -> a deployment or a rejection."""
    idempotency.register_lambda_context(context)
    change = job_state_change(event)
    logger.append_keys(job_name=change.job_name, job_status=change.status)
    deployed: dict[str, Any] = deploy(change=change)  # once_per's decorator is typed Callable[..., Any]
    return deployed
