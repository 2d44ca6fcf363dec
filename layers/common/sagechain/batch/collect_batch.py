"""A batch's transform job ended: its answers become predictions.jsonl and summary.json.

Completed: each image of the manifest has its answer at <output>/<relative key>.out; the lines are
mapped by predict's own mapping (batch/outputs.py) into batches/<model>/<name>/predictions.jsonl,
the counts into summary.json, and "Batch Completed" is published. Failed or Stopped: "Batch Failed"
with SageMaker's reason. The job is found by its tags (sagechain:stack must name this stack,
sagechain:batch names <model>/<name>); a change for a batch already ended is a duplicate: nothing.

A batch of more than `shard_images` images is collected in shards: the Completed change streams the
manifest once into one manifest per shard (<work>/shards/<nnnnn>.manifest: the prefix line, then
the shard's entries as they were) and sends one message per shard to collect_batch's own queue;
each shard reads only its own manifest and maps its slice into <work>/parts/<nnnnn>.jsonl, then
<nnnnn>.summary.json (written last: its presence says the part is whole). The shard that finds
every part's summary present claims the merge with a write-once object (<work>/merge.claim, S3
If-None-Match), concatenates the parts into predictions.jsonl and sums their summaries: one Batch
Completed however many shards finish at once or arrive twice.

Max runtime: the batch's deadline schedule (start_batch) sends BatchDeadline at created +
max_runtime_minutes; a job still running then is marked (<work>/deadline.reached) and stopped,
and its Stopped change fails the batch saying the max runtime was reached and how to raise it.
Any end of the job deletes its deadline schedule.
"""

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from pydantic import BaseModel, ConfigDict

from sagechain.batch.manifest import manifest_images
from sagechain.batch.outputs import OUTPUT_MAX_BYTES, BatchSummary, merged_summary, write_predictions
from sagechain.batch.start_batch import OUTPUT_DIR, TRANSFORM_MANIFEST, BatchDeadline
from sagechain.errors import RetryableError
from sagechain.event_sources.sagemaker import COMPLETED, FAILED, STOPPED, StateChange
from sagechain.event_sources.sqs import keyed_message
from sagechain.events import BatchCompleted, BatchFailed
from sagechain.layout import (
    MANIFEST_CONTENT_TYPE,
    batch_images_prefix,
    batch_key,
    batch_record_key,
    batch_work_prefix,
)
from sagechain.names import BATCH_TAG, STACK_TAG
from sagechain.ports import (
    BatchDeadlines,
    DeploymentStore,
    EventPublisher,
    MessageQueue,
    TransformStopper,
)
from sagechain.records import BatchRecord, read_record, write_record

PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILE = "summary.json"
JSON = "application/json"
PARTS_DIR = "parts/"
SHARDS_DIR = "shards/"
PART_SUMMARY_SUFFIX = ".summary.json"
MERGE_CLAIM = "merge.claim"
DEADLINE_REACHED = "deadline.reached"
# The key a shard message's body carries: no EventBridge event has it.
SHARD_MESSAGE_KEY = "batch_shard"
SUMMARY_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CollectConfig:
    """What the stack decides for collecting: whose jobs, the shard size, how many answers at once."""

    stack_name: str
    shard_images: int
    readers: int


class BatchShard(BaseModel):
    """One shard of a big batch's collection: images [shard x size, (shard + 1) x size) of its manifest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    batch_name: str
    batch_id: str
    transform_job_name: str
    shard: int
    shards: int
    shard_images: int

    @property
    def manifest_key(self) -> str:
        """The shard's own manifest: its slice of the transform manifest, written at fan-out."""
        work = batch_work_prefix(self.model, self.batch_name, self.batch_id)
        return f"{work}{SHARDS_DIR}{self.shard:05d}.manifest"

    @property
    def key(self) -> str:
        """The shard, named: the job and the shard's number (what the merge claim holds)."""
        return f"{self.transform_job_name}#{self.shard:05d}"

    def message(self) -> str:
        """The body of the shard's message to collect_batch's queue."""
        return json.dumps({SHARD_MESSAGE_KEY: self.model_dump(mode="json")})


def batch_shard_of(event: dict[str, Any]) -> BatchShard | None:
    """The shard a queued body asks for; None when the body is not a shard message."""
    return keyed_message(event, SHARD_MESSAGE_KEY, BatchShard)


def _batch_of(change: StateChange, stack_name: str) -> tuple[str, str] | None:
    if change.tags.get(STACK_TAG) != stack_name:
        return None
    model, slash, name = change.tags.get(BATCH_TAG, "").partition("/")
    return (model, name) if slash and model and name else None


def _common(record: BatchRecord) -> dict[str, Any]:
    return {
        "run_id": record.scored_by.run_id,
        "dataset": record.scored_by.dataset,
        "attempt": record.scored_by.attempt,
        "batch_id": record.batch_id,
        "model": record.model,
        "batch_name": record.batch_name,
        "batch_uri": record.batch_uri,
        "transform_job_name": record.transform_job_name,
        "console_url": record.console_url,
    }


def _images(store: DeploymentStore, record: BatchRecord) -> Iterator[str]:
    work = batch_work_prefix(record.model, record.batch_name, record.batch_id)
    return manifest_images(store.iter_lines(work + TRANSFORM_MANIFEST))


def _map_answers(
    store: DeploymentStore, record: BatchRecord, images: Iterator[str], key: str, config: CollectConfig
) -> BatchSummary:
    work = batch_work_prefix(record.model, record.batch_name, record.batch_id)
    return write_predictions(
        record.scored_by,
        images,
        batch_images_prefix(record.model, record.batch_name),
        work + OUTPUT_DIR,
        lambda output: store.read_bytes(output, OUTPUT_MAX_BYTES),
        store.open_writer(key, MANIFEST_CONTENT_TYPE),
        k=record.k,
        threshold=record.threshold,
        readers=config.readers,
    )


def collect_batch(
    change: StateChange,
    store: DeploymentStore,
    publisher: EventPublisher,
    shards_queue: MessageQueue,
    config: CollectConfig,
    now: datetime,
    deadlines: BatchDeadlines,
) -> BatchCompleted | BatchFailed | list[BatchShard] | None:
    """Write a completed batch's predictions and summary (or queue its shards), or report its
    failure; None when the change is not about one of this stack's batches, not final, or already
    handled."""
    if change.status not in {COMPLETED, FAILED, STOPPED}:
        return None
    found = _batch_of(change, config.stack_name)
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
    # The job has ended: its deadline has nothing left to stop.
    deadlines.remove(record.transform_job_name)
    if change.status != COMPLETED:
        reason = change.failure_reason or f"the transform job was {change.status.lower()}"
        work = batch_work_prefix(model, name, record.batch_id)
        if change.status == STOPPED and store.exists(work + DEADLINE_REACHED):
            reason = max_runtime_reason(record.max_runtime_minutes)
        write_record(
            store,
            batch_record_key(model, name),
            record.model_copy(update={"status": change.status, "ended_at": now, "failure_reason": reason}),
        )
        failed = BatchFailed(**_common(record), reason=reason, status=change.status)
        publisher.publish(failed)
        return failed
    if record.images > config.shard_images:
        shards = [
            BatchShard(
                model=model,
                batch_name=name,
                batch_id=record.batch_id,
                transform_job_name=record.transform_job_name,
                shard=number,
                shards=math.ceil(record.images / config.shard_images),
                shard_images=config.shard_images,
            )
            for number in range(math.ceil(record.images / config.shard_images))
        ]
        write_shard_manifests(store, record, shards)
        # A crash after sending retries the change and sends them again: each shard runs once
        # (collect_batch's idempotency keys on BatchShard.key), and a late copy finds the batch ended.
        shards_queue.send_all([shard.message() for shard in shards])
        return shards
    summary = _map_answers(
        store, record, _images(store, record), batch_key(model, name, PREDICTIONS_FILE), config
    )
    return _complete(store, publisher, record, summary, now)


def write_shard_manifests(store: DeploymentStore, record: BatchRecord, shards: list[BatchShard]) -> None:
    """Split the transform manifest into one manifest per shard, streamed in one pass: a shard then
    reads its ~shard_images lines, not every line before its slice (1M images: ~2 GB across shards).
    A retried fan-out writes the same bytes again."""
    work = batch_work_prefix(record.model, record.batch_name, record.batch_id)
    lines = iter(store.iter_lines(work + TRANSFORM_MANIFEST))
    prefix = next(lines, b"") + b"\n"  # the {"prefix": ...} line, which manifest_images skips
    # Only lines with an entry count, as manifest_images counts them (a lone "]" is none).
    entries = (line for line in lines if line.strip().removesuffix(b"]").removesuffix(b","))
    for shard in shards:
        writer = store.open_writer(shard.manifest_key, MANIFEST_CONTENT_TYPE)
        writer.write(prefix)
        for line in islice(entries, shard.shard_images):
            writer.write(line + b"\n")
        writer.commit()


def max_runtime_reason(minutes: int) -> str:
    """Why a batch stopped at its deadline failed, and how to give it longer."""
    return (
        f"the batch reached its max runtime of {minutes} minutes and was stopped before it finished; "
        "raise max_runtime_minutes in batch.json (at most the stack's MaxBatchHours x 60), or split "
        "the images into smaller batches, then upload batch.json again"
    )


def stop_overdue_batch(
    deadline: BatchDeadline, store: DeploymentStore, sagemaker: TransformStopper, now: datetime
) -> bool:
    """The batch's max runtime has passed: stop its job if it still runs; whether it was stopped."""
    record = read_record(store, batch_record_key(deadline.model, deadline.batch_name), BatchRecord)
    if (
        record is None
        or record.transform_job_name != deadline.transform_job_name
        or record.status != "InProgress"
    ):
        return False
    # Marked first: the Stopped change may come before this invocation ends.
    marker = batch_work_prefix(deadline.model, deadline.batch_name, deadline.batch_id) + DEADLINE_REACHED
    store.put_bytes(marker, now.isoformat().encode(), JSON)
    return sagemaker.stop_transform_job(deadline.transform_job_name)


def collect_shard(
    shard: BatchShard,
    store: DeploymentStore,
    publisher: EventPublisher,
    config: CollectConfig,
    now: datetime,
) -> BatchCompleted | None:
    """Map one shard's answers into its part; the shard that completes the set merges them and
    ends the batch. None when the batch is not (or no longer) waiting for this shard, or when
    other parts are still missing, or another shard merges."""
    record = read_record(store, batch_record_key(shard.model, shard.batch_name), BatchRecord)
    if (
        record is None
        or record.transform_job_name != shard.transform_job_name
        or record.batch_id != shard.batch_id
        or record.status != "InProgress"
    ):
        return None
    parts = batch_work_prefix(shard.model, shard.batch_name, shard.batch_id) + PARTS_DIR
    images = manifest_images(store.iter_lines(shard.manifest_key))
    summary = _map_answers(store, record, images, f"{parts}{shard.shard:05d}.jsonl", config)
    part_summary = f"{parts}{shard.shard:05d}{PART_SUMMARY_SUFFIX}"
    store.put_bytes(part_summary, summary.model_dump_json().encode(), JSON)
    # Listed after writing its own: of shards finishing together, the last writer sees every part.
    present = sum(1 for item in store.iter_objects(parts) if item.key.endswith(PART_SUMMARY_SUFFIX))
    if present < shard.shards:
        return None
    claim = batch_work_prefix(shard.model, shard.batch_name, shard.batch_id) + MERGE_CLAIM
    # Taken: another finisher merges, unless it was this very shard, crashed mid-merge and retried.
    if (
        not store.put_bytes_if_absent(claim, shard.key.encode(), JSON)
        and store.read_bytes(claim, SUMMARY_MAX_BYTES) != shard.key.encode()
    ):
        return None
    return _merge(store, publisher, record, shard, parts, now)


def _merge(
    store: DeploymentStore,
    publisher: EventPublisher,
    record: BatchRecord,
    shard: BatchShard,
    parts: str,
    now: datetime,
) -> BatchCompleted:
    predictions = batch_key(shard.model, shard.batch_name, PREDICTIONS_FILE)
    writer = store.open_writer(predictions, MANIFEST_CONTENT_TYPE)
    summaries = []
    for number in range(shard.shards):
        # Streamed, a part at a time: memory holds one 64 KiB chunk, not the batch.
        for line in store.iter_lines(f"{parts}{number:05d}.jsonl"):
            if line:
                writer.write(line + b"\n")
        raw = store.read_bytes(f"{parts}{number:05d}{PART_SUMMARY_SUFFIX}", SUMMARY_MAX_BYTES)
        summaries.append(BatchSummary.model_validate_json(raw))
    writer.commit()
    return _complete(store, publisher, record, merged_summary(summaries), now)


def _complete(
    store: DeploymentStore,
    publisher: EventPublisher,
    record: BatchRecord,
    summary: BatchSummary,
    now: datetime,
) -> BatchCompleted:
    model, name = record.model, record.batch_name
    predictions_key = batch_key(model, name, PREDICTIONS_FILE)
    summary_key = batch_key(model, name, SUMMARY_FILE)
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
        **_common(record),
        images=summary.images,
        scored=summary.scored,
        failed=summary.failed,
        label_counts=summary.label_counts,
        predictions_uri=store.uri(predictions_key),
        summary_uri=store.uri(summary_key),
    )
    publisher.publish(completed)
    return completed
