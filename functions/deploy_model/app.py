"""deploy_model: a finished training or tuning job becomes the model behind the run's endpoint."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.deploy_model import DeployConfig, deploy_model, ended_before_started
from sagechain.deployment.settings import DeployModelSettings
from sagechain.errors import RunNotReadyError
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.events import TrainingStarted
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
        alarms=CloudWatchAlarms(),
    )
    logger.info(outcome.outcome, extra={"reason": outcome.reason})
    count(outcome.outcome)
    return outcome.summary()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker Training / HyperParameter Tuning Job State Change -> a deployment or a rejection;
    this stack's Training Started -> the same, for its jobs that had already ended."""
    idempotency.register_lambda_context(context)
    if isinstance(event, dict) and event.get("source") == "sagechain":
        return started(event)
    change = state_change(event, JobKind.TRAINING, JobKind.TUNING)
    if change is None:
        logger.info(
            "not a training or tuning job state change; ignored",
            extra={"detail_type": detail_type(event)},
        )
        return {"outcome": "ignored"}
    logger.append_keys(job_name=change.name, job_status=change.status)
    try:
        return deploy(change=change)
    except RunNotReadyError as err:
        # Not retried: the run's Training Started will hand this change over again.
        logger.info("run not ready; its Training Started deploys it", extra={"reason": str(err)})
        return {"outcome": "waiting", "reason": str(err)}


def started(event: dict[str, Any]) -> dict[str, Any]:
    """A run's Training Started: deploy for each of its jobs that ended before it was published."""
    delivery = parse_bus_event(event, settings.stack_id)
    if not isinstance(delivery, SagechainDelivery) or not isinstance(delivery.event, TrainingStarted):
        logger.info("not this stack's Training Started; ignored", extra={"detail_type": detail_type(event)})
        return {"outcome": "ignored"}
    changes = ended_before_started(delivery.event, SageMakerHosting(), delivery.at)
    logger.info(
        "training started; jobs already ended", extra={"run_id": delivery.event.run_id, "ended": len(changes)}
    )
    # The run recorded its training before publishing this event, so RunNotReadyError cannot
    # arise here: if it did, raising lets Lambda retry.
    return {"outcome": "started", "deployments": [deploy(change=change) for change in changes]}
