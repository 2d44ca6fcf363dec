"""deploy_model: a finished training or tuning job, or a retry from deployment (Run Retried),
becomes the model behind the run's endpoint."""

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.bookkeeping import Outcome
from sagechain.deployment.deploy_model import (
    DeployConfig,
    ReusedJobChange,
    deploy_model,
    deploy_retry,
    ended_before_started,
)
from sagechain.deployment.settings import DeployModelSettings
from sagechain.errors import RunNotReadyError
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.events import RunRetried, TrainingStarted
from sagechain.names import STACK_TAG
from sagechain.observability import count, logger, metrics, tracer

settings = DeployModelSettings.from_env()
config = DeployConfig.from_settings(settings)
# Keyed on what the event is about (the job and its status), not the event id: SageMaker
# may send one state change twice.
idempotency, once = once_per("[kind, name, status]", settings.idempotency_table, "change")
# A retry's Training Started hands over siblings an earlier attempt reused: their change was
# handled for that attempt under the key above, so each attempt handles it once under its own.
reused_idempotency, once_per_attempt = once_per(
    "[change.kind, change.name, change.status, attempt]", settings.idempotency_table, "reused"
)
# A retry from deployment deploys once per run and attempt, however often Run Retried arrives.
retry_idempotency, once_per_retry = once_per("[run_id, attempt]", settings.idempotency_table, "retried")


def _stage() -> dict[str, Any]:
    hosting = SageMakerHosting()
    return {
        "jobs": hosting,
        "host": hosting,
        "autoscaler": ApplicationAutoScaling(tags={STACK_TAG: settings.stack_name}),
        "store": S3ObjectStore(settings.data_bucket),
        "publisher": EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        "config": config,
        "alarms": CloudWatchAlarms(),
    }


def _answer(outcome: Outcome) -> dict[str, Any]:
    logger.info(outcome.outcome, extra={"reason": outcome.reason})
    count(outcome.outcome)
    return outcome.summary()


@once
def deploy(change: StateChange) -> dict[str, Any]:
    """Deploy (or reject) once per job state change."""
    return _answer(deploy_model(change, **_stage()))


@once_per_attempt
def deploy_reused(reused: ReusedJobChange) -> dict[str, Any]:
    """Deploy (or reject) once per attempt for a sibling job an earlier attempt trained."""
    return _answer(deploy_model(reused.change, **_stage()))


@once_per_retry
def redeploy(retried: RunRetried) -> dict[str, Any]:
    """Deploy a run's chosen model again, once per retry from deployment."""
    return _answer(deploy_retry(retried, **_stage()))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker Training / HyperParameter Tuning Job State Change -> a deployment or a rejection;
    this stack's Training Started -> the same, for its jobs that had already ended; its Run
    Retried from deployment -> the run's chosen model deployed again."""
    for registered in (idempotency, reused_idempotency, retry_idempotency):
        registered.register_lambda_context(context)
    if isinstance(event, dict) and event.get("source") == "sagechain":
        return sagechain_event(event)
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


def sagechain_event(event: dict[str, Any]) -> dict[str, Any]:
    """This stack's Training Started, or Run Retried from deployment."""
    delivery = parse_bus_event(event, settings.stack_id)
    if isinstance(delivery, SagechainDelivery) and isinstance(delivery.event, RunRetried):
        logger.append_keys(run_id=delivery.event.run_id, attempt=delivery.event.attempt)
        return redeploy(retried=delivery.event)
    if isinstance(delivery, SagechainDelivery) and isinstance(delivery.event, TrainingStarted):
        return started(delivery.event, delivery.at)
    logger.info(
        "not this stack's Training Started or Run Retried; ignored", extra={"detail_type": detail_type(event)}
    )
    return {"outcome": "ignored"}


def started(training: TrainingStarted, at: datetime) -> dict[str, Any]:
    """A run's Training Started: deploy for each of its jobs that ended before it was published."""
    changes = ended_before_started(training, SageMakerHosting(), at)
    logger.info(
        "training started; jobs already ended", extra={"run_id": training.run_id, "ended": len(changes)}
    )
    # The run recorded its training before publishing this event, so RunNotReadyError cannot
    # arise here: if it did, raising lets Lambda retry.
    deployments = [
        deploy_reused(reused=ReusedJobChange(change=change, attempt=training.attempt))
        if change.name in training.reused_jobs
        else deploy(change=change)
        for change in changes
    ]
    return {"outcome": "started", "deployments": deployments}
