"""start_labeling: a run's input manifest (Object Created), or a retry from labeling (Run Retried),
becomes one Ground Truth labeling job."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.labeling_jobs import SageMakerLabelingJobs
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.errors import StaleAttemptError
from sagechain.event_sources.drops import detail_type
from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.s3 import objects_created
from sagechain.events import EVENT_SOURCE, RunRetried
from sagechain.labeling.settings import StartLabelingSettings
from sagechain.labeling.start_labeling import (
    LabelingRequest,
    labeling_request,
    retried_labeling_request,
    start_labeling,
)
from sagechain.observability import count, logger, metrics, tracer

settings = StartLabelingSettings.from_env()
store = S3ObjectStore(settings.data_bucket)
jobs = SageMakerLabelingJobs()
publisher = EventBridgePublisher(settings.event_bus_name, settings.stack_id)
# Keyed on the job name (one per run and attempt), not the event id: a manifest event or a
# Run Retried delivered twice creates one job and emits one event.
idempotency, once = once_per("job_name", settings.idempotency_table, "request")


@once
def start(request: LabelingRequest) -> dict[str, Any]:
    """Start one run's labeling job, once."""
    event = start_labeling(request, store, jobs, publisher, settings.sagemaker_role_arn)
    if event is None:
        logger.info("no sagechain Ground Truth run beside this manifest; ignored")
        return {"outcome": "ignored", "run_id": request.run_id}
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def start_once(request: LabelingRequest) -> dict[str, Any]:
    """start, unless the request's attempt was replaced or stopped (then nothing is recorded)."""
    logger.append_keys(run_id=request.run_id, job_name=request.job_name, attempt=request.attempt)
    try:
        return start(request=request)
    except StaleAttemptError as err:
        logger.info("attempt replaced or stopped; ignored", extra={"reason": err.reason})
        return {"outcome": "ignored", "run_id": request.run_id, "reason": err.reason}


def retried(event: dict[str, Any]) -> list[dict[str, Any]]:
    """This stack's Run Retried from labeling -> its attempt's labeling job."""
    delivery = parse_bus_event(event, settings.stack_id)
    if not isinstance(delivery, SagechainDelivery) or not isinstance(delivery.event, RunRetried):
        logger.info("not this stack's Run Retried; ignored", extra={"detail_type": detail_type(event)})
        return []
    request = retried_labeling_request(
        delivery.event, settings.data_bucket, settings.name_prefix, settings.stack_name
    )
    if request is None:
        logger.info("a retry of another stage; ignored", extra={"from_stage": delivery.event.from_stage})
        return []
    return [start_once(request)]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Object Created runs/<run_id>/input.manifest, or Run Retried from labeling -> Labeling Started
    (or the reason it did not)."""
    idempotency.register_lambda_context(context)
    if isinstance(event, dict) and event.get("source") == EVENT_SOURCE:
        return {"jobs": retried(event)}
    started = []
    for ref in objects_created(event):
        request = labeling_request(ref, settings.name_prefix, settings.stack_name)
        if request is None or ref.bucket != settings.data_bucket:
            logger.info("not a run's input manifest; ignored", extra={"bucket": ref.bucket, "key": ref.key})
            continue
        started.append(start_once(request))
    return {"jobs": started}
