"""prepare_dataset: a dataset upload (folder spec or zip) becomes a run and its manifest."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.idempotency import once_per
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.event_sources.s3 import objects_created
from sagechain.event_sources.sqs import answer_batch, is_sqs_event
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import PrepareDatasetSettings
from sagechain.ingest.upload import DatasetUpload, dataset_upload
from sagechain.observability import count, logger, metrics, tracer

settings = PrepareDatasetSettings.from_env()
# Keyed on the run id (derived from bucket, key and version), not the event id: the same
# upload delivered twice is one run, one manifest, one event.
idempotency, once = once_per("run_id", settings.idempotency_table, "upload")


@once
def prepare(upload: DatasetUpload) -> dict[str, Any]:
    """Prepare one run, once."""
    store, publisher = (
        S3ObjectStore(settings.data_bucket),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
    )
    event = prepare_dataset(
        upload, store, publisher, settings.spec_defaults, settings.zip_limits, settings.guardrails
    )
    count(event.DETAIL_TYPE)
    return {"outcome": event.DETAIL_TYPE, **event.model_dump(mode="json")}


def prepare_all(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dataset upload an Object Created event names, prepared once each."""
    runs = []
    for ref in objects_created(event):
        upload = dataset_upload(ref)
        if upload is None or ref.bucket != settings.data_bucket:
            logger.info("not a dataset upload; ignored", extra={"bucket": ref.bucket, "key": ref.key})
            continue
        logger.append_keys(run_id=upload.run_id, dataset=upload.dataset)
        runs.append(prepare(upload=upload))
    return runs


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """PrepareDatasetQueue's SQS batch (its rule's Object Created events) -> the messages to
    retry; an Object Created event itself (EventBridge or classic S3 notification, as a redrive
    invokes it) -> the prepared or rejected runs."""
    idempotency.register_lambda_context(context)
    if is_sqs_event(event):
        return answer_batch(event, prepare_all)
    return {"runs": prepare_all(event)}
