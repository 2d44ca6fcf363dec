"""batches/<model>/<name>/batch.json arrived: one SageMaker transform job scores the batch's images.

The model is the endpoint's live one (models/<model>/model.json), or the live one's or the previous
one's training job when batch.json names it and its SageMaker model still exists. No endpoint is
needed or touched. The job is named after the upload (names.batch_id): a duplicate delivery finds
its name taken, which is success. Anything that cannot start is "Batch Rejected": nothing started,
the upload kept.

Request (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html):
- ManifestFile input listing the images (batch/manifest.py), SplitType None: an image is not split;
- BatchStrategy SingleRecord: one image per request, the only form the built-in image algorithms
  read (MultiRecord would concatenate images into one payload);
- MaxPayloadInMB 6: the built-in algorithms' request limit; larger images are skipped and counted;
- Accept application/json, so each answer is the JSON predict maps (sagechain.prediction).

A transform job has no stopping condition (API_CreateTransformJob.html has no StoppingCondition,
unlike CreateTrainingJob), so batch.json's max_runtime_minutes is a one-time EventBridge Scheduler
schedule named after the job, at created + max_runtime_minutes, whose target sends BatchDeadline
to collect_batch's queue; collect_batch stops the job if it is still running, and deletes the
schedule when the job ends (ActionAfterCompletion DELETE removes it once it has fired).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from sagechain.batch.manifest import MAX_IMAGE_MB, write_transform_manifest
from sagechain.batch.spec import (
    BATCH_JSON_MAX_BYTES,
    BatchBounds,
    BatchSpec,
    instance_type_of,
    parse_batch_spec,
)
from sagechain.errors import BatchRejectedError, ObjectTooLargeError, RequestRefusedError
from sagechain.event_sources.s3 import ObjectRef
from sagechain.event_sources.sqs import keyed_message
from sagechain.events import BatchFailed, BatchRejected, BatchStarted
from sagechain.layout import (
    BATCH_OUTPUT_DIR,
    MANIFEST_CONTENT_TYPE,
    batch_images_prefix,
    batch_key,
    batch_record_key,
    batch_work_prefix,
    model_key,
    uploaded_batch,
)
from sagechain.names import BATCH_TAG, batch_id, resource_tags, transform_job_name
from sagechain.ports import BatchDeadlines, EventPublisher, ObjectStore, TransformJobs
from sagechain.pricing import batch_cost_estimate
from sagechain.records import BatchRecord, ModelInfo, read_record, write_record

TRANSFORM_MANIFEST = "transform.manifest"
OUTPUT_DIR = BATCH_OUTPUT_DIR
BUILTIN_ACCEPT = "application/json"
# The key a deadline message's body carries: no EventBridge event has it.
DEADLINE_MESSAGE_KEY = "batch_deadline"


class BatchDeadline(BaseModel):
    """The message a batch's deadline schedule sends collect_batch: stop this job if still running."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    batch_name: str
    batch_id: str
    transform_job_name: str
    max_runtime_minutes: int

    def message(self) -> str:
        """The schedule's Input: the body of the message its target (collect_batch's queue) gets."""
        return json.dumps({DEADLINE_MESSAGE_KEY: self.model_dump(mode="json")})


def batch_deadline_of(event: dict[str, Any]) -> BatchDeadline | None:
    """The deadline a queued body carries; None when the body is not a deadline message."""
    return keyed_message(event, DEADLINE_MESSAGE_KEY, BatchDeadline)


@dataclass(frozen=True)
class BatchConfig:
    """What the stack decides for every batch: names, tags, bounds and prices."""

    name_prefix: str
    stack_name: str
    bounds: BatchBounds
    price_overrides: dict[str, Decimal]


@dataclass(frozen=True)
class _Batch:
    model: str
    name: str
    batch_id: str
    uri: str


def _scoring_model(store: ObjectStore, sagemaker: TransformJobs, model: str, spec: BatchSpec) -> ModelInfo:
    live = read_record(store, model_key(model), ModelInfo)
    if live is None:
        raise BatchRejectedError(
            f"there is no model {model!r} (no models/{model}/model.json): name a live model's endpoint, "
            "as GET /models lists them, in batches/<model>/<name>/"
        )
    if live.deleted_at is not None or live.expired_at is not None:
        gone = "deleted" if live.deleted_at is not None else "expired"
        raise BatchRejectedError(f"model {model!r} was {gone}; deploy it again, then upload batch.json again")
    chosen = live
    if spec.training_job_name is not None and spec.training_job_name != live.training_job_name:
        previous = live.previous
        if previous is None or previous.training_job_name != spec.training_job_name:
            raise BatchRejectedError(
                f"training_job_name {spec.training_job_name!r} is neither the live model's "
                f"({live.training_job_name}) nor the one kept for a rollback; "
                "leave it out to use the live model"
            )
        chosen = previous
    if chosen.algorithm != "builtin":
        raise BatchRejectedError(
            f"model {chosen.model_name} runs a custom container; "
            "batches map the built-in algorithms' answers only"
        )
    if not sagemaker.model_exists(chosen.model_name):
        raise BatchRejectedError(
            f"SageMaker model {chosen.model_name} no longer exists; name another training job"
        )
    return chosen


def transform_request(
    job_name: str,
    info: ModelInfo,
    manifest_uri: str,
    output_uri: str,
    content_type: str,
    spec: BatchSpec,
    config: BatchConfig,
    tags: dict[str, str],
) -> dict[str, Any]:
    """The CreateTransformJob request of a batch."""
    return {
        "TransformJobName": job_name,
        "ModelName": info.model_name,
        "BatchStrategy": "SingleRecord",
        "MaxPayloadInMB": MAX_IMAGE_MB,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": manifest_uri}},
            "ContentType": content_type,
            "CompressionType": "None",
            "SplitType": "None",
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": BUILTIN_ACCEPT, "AssembleWith": "None"},
        "TransformResources": {
            "InstanceType": instance_type_of(spec, config.bounds),
            "InstanceCount": spec.instance_count,
        },
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }


def start_batch(
    ref: ObjectRef,
    store: ObjectStore,
    sagemaker: TransformJobs,
    publisher: EventPublisher,
    config: BatchConfig,
    now: datetime,
    deadlines: BatchDeadlines,
) -> BatchStarted | BatchRejected | BatchFailed | None:
    """Start the batch an upload seals (or reject it); None when the key seals no batch or the
    batch was started already."""
    found = uploaded_batch(ref.key)
    if found is None:
        return None
    model, name = found
    batch = _Batch(
        model, name, batch_id(name, ref.bucket, ref.key, ref.version), store.uri(batch_key(model, name, ""))
    )
    existing = read_record(store, batch_record_key(model, name), BatchRecord)
    if existing is not None and existing.batch_id == batch.batch_id:
        return None
    info: ModelInfo | None = None
    try:
        try:
            raw = store.read_bytes(ref.key, BATCH_JSON_MAX_BYTES, ref.version_id)
        except ObjectTooLargeError as err:
            raise BatchRejectedError(f"batch.json is {err.size:,} bytes; at most {err.limit:,}") from None
        spec = parse_batch_spec(raw, config.bounds)
        info = _scoring_model(store, sagemaker, model, spec)
        return _start(batch, spec, info, store, sagemaker, publisher, config, now, deadlines)
    except BatchRejectedError as err:
        rejected = BatchRejected(
            run_id=info.run_id if info else batch.batch_id,
            dataset=info.dataset if info else model,
            attempt=info.attempt if info else 1,
            batch_id=batch.batch_id,
            model=model,
            batch_name=name,
            batch_uri=batch.uri,
            reason=err.reason,
            skipped=err.skipped,
        )
        publisher.publish(rejected)
        return rejected


def _start(
    batch: _Batch,
    spec: BatchSpec,
    info: ModelInfo,
    store: ObjectStore,
    sagemaker: TransformJobs,
    publisher: EventPublisher,
    config: BatchConfig,
    now: datetime,
    deadlines: BatchDeadlines,
) -> BatchStarted | BatchFailed:
    images_prefix = batch_images_prefix(batch.model, batch.name)
    work = batch_work_prefix(batch.model, batch.name, batch.batch_id)
    manifest_key = work + TRANSFORM_MANIFEST
    stats = write_transform_manifest(
        store.iter_objects(images_prefix),
        images_prefix,
        store.uri(images_prefix),
        store.open_writer(manifest_key, MANIFEST_CONTENT_TYPE),
        info.task,
    )
    content_type = stats.content_type(info.task)
    job_name = transform_job_name(config.name_prefix, batch.batch_id)
    tags = {
        **resource_tags(info.run_id, config.stack_name, info.attempt),
        BATCH_TAG: f"{batch.model}/{batch.name}",
    }
    instance_type = instance_type_of(spec, config.bounds)
    request = transform_request(
        job_name,
        info,
        store.uri(manifest_key),
        store.uri(work + OUTPUT_DIR),
        content_type,
        spec,
        config,
        tags,
    )
    common = {
        "run_id": info.run_id,
        "dataset": info.dataset,
        "attempt": info.attempt,
        "batch_id": batch.batch_id,
        "model": batch.model,
        "batch_name": batch.name,
        "batch_uri": batch.uri,
    }
    console = sagemaker.console_url(job_name)
    try:
        sagemaker.create_transform_job(request)  # False: a duplicate delivery created it already
    except RequestRefusedError as err:
        explained = err.explain(region=sagemaker.region, instance_type=instance_type)
        failed = BatchFailed(
            **common,
            transform_job_name=job_name,
            reason=f"{explained.cause} {explained.fix}",
            status="Refused",
            console_url=None,
        )
        publisher.publish(failed)
        return failed
    # Before the record: a crash here retries the delivery, which finds no record and puts it again.
    deadline_at = now + timedelta(minutes=spec.max_runtime_minutes)
    deadline = BatchDeadline(
        model=batch.model,
        batch_name=batch.name,
        batch_id=batch.batch_id,
        transform_job_name=job_name,
        max_runtime_minutes=spec.max_runtime_minutes,
    )
    deadlines.put(job_name, deadline_at, deadline.message())
    cost = batch_cost_estimate(
        sagemaker.region, instance_type, spec.instance_count, spec.max_runtime_minutes, config.price_overrides
    )
    skipped = dict(stats.skipped)
    write_record(
        store,
        batch_record_key(batch.model, batch.name),
        BatchRecord(
            batch_id=batch.batch_id,
            model=batch.model,
            batch_name=batch.name,
            batch_uri=batch.uri,
            status="InProgress",
            transform_job_name=job_name,
            scored_by=info,
            k=spec.k,
            threshold=spec.threshold,
            images=stats.images,
            skipped=skipped,
            content_type=content_type,
            instance_type=instance_type,
            instance_count=spec.instance_count,
            max_runtime_minutes=spec.max_runtime_minutes,
            deadline_at=deadline_at,
            cost_estimate=cost,
            console_url=console,
            created_at=now,
        ),
    )
    started = BatchStarted(
        **common,
        transform_job_name=job_name,
        model_name=info.model_name,
        training_job_name=info.training_job_name,
        task=info.task,
        images=stats.images,
        skipped=skipped,
        content_type=content_type,
        instance_type=instance_type,
        instance_count=spec.instance_count,
        cost_estimate=cost,
        console_url=console,
    )
    publisher.publish(started)
    return started
