"""start_labeling: a run's input manifest (Object Created) becomes one Ground Truth labeling job."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.labeling_jobs import SageMakerLabelingJobs
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.event_sources.s3 import objects_created
from sagechain.labeling.settings import StartLabelingSettings
from sagechain.labeling.start_labeling import LabelingRequest, labeling_request, start_labeling
from sagechain.observability import count, logger, metrics, tracer

settings = StartLabelingSettings.from_env()
store = S3ObjectStore(settings.data_bucket)
jobs = SageMakerLabelingJobs()
publisher = EventBridgePublisher(settings.event_bus_name, settings.stack_id)
# Keyed on the job name (one per run), not the event id: a manifest event delivered twice
# creates one job and emits one event.
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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Object Created runs/<run_id>/input.manifest -> Labeling Started (or the reason it did not)."""
    idempotency.register_lambda_context(context)
    started = []
    for ref in objects_created(event):
        request = labeling_request(ref, settings.name_prefix, settings.stack_name)
        if request is None or ref.bucket != settings.data_bucket:
            logger.info("not a run's input manifest; ignored", extra={"bucket": ref.bucket, "key": ref.key})
            continue
        logger.append_keys(run_id=request.run_id, job_name=request.job_name)
        started.append(start(request=request))
    return {"jobs": started}
