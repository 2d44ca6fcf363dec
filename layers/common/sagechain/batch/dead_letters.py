"""A batch message that failed every delivery ends its batch: Failed, said once, its job stopped.

StartBatchQueue and CollectBatchQueue move a message received five times in vain to their dead
letter queues, which report_failures reads. A batch whose start, collection, shard or deadline
message was parked can never end by itself, so report_failures hands each such message here: the
batch's record becomes Failed with the step that stopped it (which shard, which step), its
transform job is stopped if still running, and "Batch Failed" says what to do (the log names the
error; a new upload of batch.json starts the batch again, as a new batch).

Once per batch: a write-once claim (<work>/failed.claim, S3 If-None-Match) holds the id of the
parked message that failed it. A copy of that message (SQS delivers at least once) finds the claim
its own and finishes what a crash left undone; any other parked message of the same batch (two
shards dead-lettered together, the Stopped change of the job stopped here) finds it taken.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagechain.batch.collect_batch import batch_shard_of
from sagechain.batch.start_batch import batch_deadline_of
from sagechain.errors import ObjectNotFoundError
from sagechain.event_sources.s3 import objects_created
from sagechain.event_sources.sagemaker import JobKind, state_change
from sagechain.events import BatchFailed
from sagechain.layout import batch_key, batch_record_key, batch_work_prefix, uploaded_batch
from sagechain.names import BATCH_TAG, STACK_TAG, batch_id, transform_job_name
from sagechain.ports import DeploymentStore, EventPublisher, TransformStopper
from sagechain.records import BatchRecord, read_record, write_record

FAILED_CLAIM = "failed.claim"
CLAIM_MAX_BYTES = 1024
JSON = "application/json"
# The stages whose parked messages are about a batch (observers.failures names them so).
START_STAGE, COLLECT_STAGE = "start_batch", "collect_batch"


@dataclass(frozen=True)
class BatchFailureConfig:
    """What the stack decides: its jobs' name prefix and its name (the sagechain:stack tag)."""

    name_prefix: str
    stack_name: str


@dataclass(frozen=True)
class StuckBatch:
    """The batch a parked message was about, and the step it was for, in a person's words."""

    model: str
    batch_name: str
    batch_id: str
    transform_job_name: str
    step: str
    stage: str
    # A shard or a state change comes after the job ended: only a start or a deadline may find it running.
    job_may_run: bool = False


def stuck_batch(stage: str, event: Any, config: BatchFailureConfig) -> StuckBatch | None:
    """The batch a parked start_batch or collect_batch message names; None for any other."""
    if not isinstance(event, Mapping):
        return None
    if stage == START_STAGE:
        return _started_batch(dict(event), config)
    if stage == COLLECT_STAGE:
        return _collected_batch(dict(event), config)
    return None


def _started_batch(event: dict[str, Any], config: BatchFailureConfig) -> StuckBatch | None:
    for ref in objects_created(event):
        found = uploaded_batch(ref.key)
        if found is not None:
            model, name = found
            upload = batch_id(name, ref.bucket, ref.key, ref.version)
            job = transform_job_name(config.name_prefix, upload)
            step = f"starting the batch from {ref.key}"
            return StuckBatch(model, name, upload, job, step, START_STAGE, job_may_run=True)
    return None


def _collected_batch(event: dict[str, Any], config: BatchFailureConfig) -> StuckBatch | None:
    shard = batch_shard_of(event)
    if shard is not None:
        first = shard.shard * shard.shard_images + 1
        step = (
            f"collecting shard {shard.shard + 1} of {shard.shards} "
            f"(images {first:,} to {first + shard.shard_images - 1:,} of the manifest)"
        )
        return StuckBatch(
            shard.model, shard.batch_name, shard.batch_id, shard.transform_job_name, step, COLLECT_STAGE
        )
    deadline = batch_deadline_of(event)
    if deadline is not None:
        step = f"stopping the batch at its max runtime of {deadline.max_runtime_minutes} minutes"
        return StuckBatch(
            deadline.model,
            deadline.batch_name,
            deadline.batch_id,
            deadline.transform_job_name,
            step,
            COLLECT_STAGE,
            job_may_run=True,
        )
    change = state_change(event, JobKind.TRANSFORM)
    if change is None or change.tags.get(STACK_TAG) != config.stack_name:
        return None
    model, slash, name = change.tags.get(BATCH_TAG, "").partition("/")
    if not (slash and model and name):
        return None
    step = f"collecting transform job {change.name}, which ended {change.status}"
    # The batch id is the record's: a state change does not carry it.
    return StuckBatch(model, name, "", change.name, step, COLLECT_STAGE)


def _claimed_by(store: DeploymentStore, key: str) -> bytes | None:
    try:
        return store.read_bytes(key, CLAIM_MAX_BYTES)
    except ObjectNotFoundError:
        return None


def batch_failed_reason(batch: StuckBatch, stopped: bool) -> str:
    """Where the batch stopped, why nothing more happens, and how to start it again."""
    job = f" Its transform job {batch.transform_job_name} was stopped." if stopped else ""
    return (
        f"{batch.step} failed on every delivery from its queue (5 tries, then its dead letter "
        f"queue); the log of {batch.stage} says why.{job} Nothing more runs for this batch: fix "
        "the cause, then upload batch.json again, which starts the batch again as a new batch."
    )


def fail_stuck_batch(
    batch: StuckBatch,
    message_id: str,
    store: DeploymentStore,
    publisher: EventPublisher,
    sagemaker: TransformStopper,
    now: datetime,
) -> BatchFailed | None:
    """Fail the batch a parked message was about, once; None when it ended already (completed,
    or failed by another message) or is not this upload's."""
    record = read_record(store, batch_record_key(batch.model, batch.batch_name), BatchRecord)
    ours = (
        record is not None
        and record.transform_job_name == batch.transform_job_name
        and batch.batch_id in {"", record.batch_id}
    )
    known = record if ours else None
    upload = known.batch_id if known is not None else batch.batch_id
    if not upload:
        return None  # a state change of a job the record does not know: another upload's
    claim = batch_work_prefix(batch.model, batch.batch_name, upload) + FAILED_CLAIM
    mine = message_id.encode()
    if known is not None and known.status != "InProgress" and _claimed_by(store, claim) != mine:
        return None
    if not store.put_bytes_if_absent(claim, mine, JSON) and _claimed_by(store, claim) != mine:
        return None
    # Only a recorded job is stopped: with no record, start_batch may never have created it, and
    # the stop's tag condition refuses a job that does not exist.
    stopped = (
        batch.job_may_run
        and known is not None
        and known.status == "InProgress"
        and sagemaker.stop_transform_job(known.transform_job_name)
    )
    reason = batch_failed_reason(batch, stopped)
    if known is not None and known.status == "InProgress":
        write_record(
            store,
            batch_record_key(batch.model, batch.batch_name),
            known.model_copy(update={"status": "Failed", "ended_at": now, "failure_reason": reason}),
        )
    elif known is not None and known.failure_reason:
        reason = known.failure_reason  # a retry after the record was written: the same words
    failed = BatchFailed(
        run_id=known.scored_by.run_id if known else upload,
        dataset=known.scored_by.dataset if known else batch.model,
        attempt=known.scored_by.attempt if known else 1,
        batch_id=upload,
        model=batch.model,
        batch_name=batch.batch_name,
        batch_uri=known.batch_uri if known else store.uri(batch_key(batch.model, batch.batch_name, "")),
        transform_job_name=batch.transform_job_name,
        reason=reason,
        status="Failed",
        console_url=known.console_url if known else None,
    )
    publisher.publish(failed)
    return failed
