"""A batch's transform job ended: its answers become predictions.jsonl and summary.json.

Completed: each image of the manifest has its answer at <output>/<relative key>.out; the lines are
mapped by predict's own mapping (batch/outputs.py) into batches/<model>/<name>/predictions.jsonl,
the counts into summary.json, and "Batch Completed" is published. Failed or Stopped: "Batch Failed"
with SageMaker's reason. The job is found by its tags (sagechain:stack must name this stack,
sagechain:batch names <model>/<name>); a change for a batch already ended is a duplicate: nothing.
"""

from datetime import datetime

from sagechain.batch.manifest import manifest_images
from sagechain.batch.outputs import OUTPUT_MAX_BYTES, write_predictions
from sagechain.batch.start_batch import OUTPUT_DIR, TRANSFORM_MANIFEST
from sagechain.errors import RetryableError
from sagechain.event_sources.sagemaker import COMPLETED, FAILED, STOPPED, StateChange
from sagechain.events import BatchCompleted, BatchFailed
from sagechain.layout import (
    MANIFEST_CONTENT_TYPE,
    batch_images_prefix,
    batch_key,
    batch_record_key,
    batch_work_prefix,
)
from sagechain.names import BATCH_TAG, STACK_TAG
from sagechain.ports import EventPublisher, ObjectStore
from sagechain.records import BatchRecord, read_record, write_record

PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILE = "summary.json"
JSON = "application/json"


def _batch_of(change: StateChange, stack_name: str) -> tuple[str, str] | None:
    if change.tags.get(STACK_TAG) != stack_name:
        return None
    model, slash, name = change.tags.get(BATCH_TAG, "").partition("/")
    return (model, name) if slash and model and name else None


def collect_batch(
    change: StateChange, store: ObjectStore, publisher: EventPublisher, stack_name: str, now: datetime
) -> BatchCompleted | BatchFailed | None:
    """Write a completed batch's predictions and summary, or report its failure; None when the change
    is not about one of this stack's batches, not final, or already handled."""
    if change.status not in {COMPLETED, FAILED, STOPPED}:
        return None
    found = _batch_of(change, stack_name)
    if found is None:
        return None
    model, name = found
    record = read_record(store, batch_record_key(model, name), BatchRecord)
    if record is None:
        # start_batch creates the job before it writes the record: a crash between them is retried.
        raise RetryableError(f"transform job {change.name} ended before batch {model}/{name} recorded it")
    # Another job: an earlier upload of the same batch name, which a later one replaced.
    if record.transform_job_name != change.name or record.status != "InProgress":
        return None
    common = {
        "run_id": record.scored_by.run_id,
        "dataset": record.scored_by.dataset,
        "attempt": record.scored_by.attempt,
        "batch_id": record.batch_id,
        "model": model,
        "batch_name": name,
        "batch_uri": record.batch_uri,
        "transform_job_name": change.name,
        "console_url": record.console_url,
    }
    if change.status != COMPLETED:
        reason = change.failure_reason or f"the transform job was {change.status.lower()}"
        write_record(
            store,
            batch_record_key(model, name),
            record.model_copy(update={"status": change.status, "ended_at": now, "failure_reason": reason}),
        )
        failed = BatchFailed(**common, reason=reason, status=change.status)
        publisher.publish(failed)
        return failed
    work = batch_work_prefix(model, name, record.batch_id)
    predictions_key, summary_key = (
        batch_key(model, name, PREDICTIONS_FILE),
        batch_key(model, name, SUMMARY_FILE),
    )
    summary = write_predictions(
        record.scored_by,
        manifest_images(store.iter_lines(work + TRANSFORM_MANIFEST)),
        batch_images_prefix(model, name),
        work + OUTPUT_DIR,
        lambda key: store.read_bytes(key, OUTPUT_MAX_BYTES),
        store.open_writer(predictions_key, MANIFEST_CONTENT_TYPE),
        k=record.k,
        threshold=record.threshold,
    )
    summary.skipped = record.skipped
    store.put_bytes(summary_key, summary.model_dump_json(indent=2).encode(), JSON)
    write_record(
        store,
        batch_record_key(model, name),
        record.model_copy(
            update={
                "status": COMPLETED,
                "ended_at": now,
                "scored": summary.scored,
                "failed": summary.failed,
                "label_counts": summary.label_counts,
                "predictions_uri": store.uri(predictions_key),
                "summary_uri": store.uri(summary_key),
            }
        ),
    )
    completed = BatchCompleted(
        **common,
        images=summary.images,
        scored=summary.scored,
        failed=summary.failed,
        label_counts=summary.label_counts,
        predictions_uri=store.uri(predictions_key),
        summary_uri=store.uri(summary_key),
    )
    publisher.publish(completed)
    return completed
