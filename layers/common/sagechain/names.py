"""The one place names are made: run ids and SageMaker resource names."""

import hashlib
import re

# SageMaker: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
SAGEMAKER_NAME_MAX = 63
TUNING_JOB_NAME_MAX = 32
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")
_DIGEST_CHARS = 8


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def slug(text: str, max_length: int) -> str:
    """Lowercase letters, digits and single hyphens, at most max_length long ('' if none)."""
    cleaned = _NOT_NAME_CHARS.sub("-", text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-")


def sagemaker_name(*parts: str, max_length: int = SAGEMAKER_NAME_MAX) -> str:
    """A valid, deterministic SageMaker name from parts; long ones keep a hash of the whole."""
    full = slug("-".join(parts), 10_000) or "x"
    if len(full) <= max_length:
        return full
    head = full[: max_length - _DIGEST_CHARS - 1].rstrip("-")
    return f"{head}-{_digest(full, _DIGEST_CHARS)}"


def run_id(dataset: str, bucket: str, key: str, version: str | None) -> str:
    """The run id of one upload: the same object delivered twice yields the same id.

    `version` is the object's version id where the bucket keeps versions, else its ETag,
    so re-uploading a dataset starts a new run while a redelivered event does not.
    """
    digest = _digest(f"{bucket}\n{key}\n{version or ''}", 12)
    return f"{slug(dataset, 24) or 'dataset'}-{digest}"


def batch_id(batch: str, bucket: str, key: str, version: str | None) -> str:
    """The id of one batch.json upload: the same object delivered twice yields the same id."""
    digest = _digest(f"{bucket}\n{key}\n{version or ''}", 12)
    return f"{slug(batch, 24) or 'batch'}-{digest}"


def transform_job_name(name_prefix: str, batch_id: str) -> str:
    """The transform job of a batch: <prefix>-batch-<batch id>, so one upload is one job."""
    return sagemaker_name(name_prefix, "batch", batch_id)


# Every SageMaker resource sagechain creates carries this tag, valued with its run id.
RUN_ID_TAG = "sagechain:run-id"
# ... and this one, valued with the name of the stack that created it: two stacks with the same
# prefix (or prefixes such as `ml` and `ml-vision`) tell their resources apart by it.
STACK_TAG = "sagechain:stack"


# ... and, from a run's second attempt (POST /runs/{run_id}/retry) on, this one, valued with the
# attempt: track_run places a job's events in the attempt they belong to.
ATTEMPT_TAG = "sagechain:attempt"


# ... and a transform job this one, valued with <model>/<name>: collect_batch finds its batch by it.
BATCH_TAG = "sagechain:batch"


def resource_tags(run_id: str, stack_name: str, attempt: int = 1) -> dict[str, str]:
    """The tags every SageMaker resource sagechain creates carries (and its attempt, after the first)."""
    tags = {RUN_ID_TAG: run_id, STACK_TAG: stack_name}
    if attempt > 1:
        tags[ATTEMPT_TAG] = str(attempt)
    return tags


def attempt_of(tags: dict[str, str]) -> int:
    """The run attempt a resource was created in: its ATTEMPT_TAG, else 1 (the first attempt)."""
    value = tags.get(ATTEMPT_TAG, "")
    return int(value) if value.isdigit() and int(value) >= 1 else 1


def attempt_parts(attempt: int) -> tuple[str, ...]:
    """The name part that tells a retried attempt's jobs from the first's: () for 1, ("a2",) for 2."""
    return () if attempt <= 1 else (f"a{attempt}",)


# An endpoint's rollback alarms (deployment/alarms.py) are named after it: whatever deletes the
# endpoint (DELETE /models, expiry, the stack's teardown) deletes these with it.
ROLLBACK_ALARM_SUFFIXES = ("rollback-5xx", "rollback-4xx", "rollback-latency-p99", "rollback-predict-errors")


def rollback_alarm_names(endpoint: str) -> list[str]:
    """Every rollback alarm an endpoint may have."""
    return [f"{endpoint}-{suffix}" for suffix in ROLLBACK_ALARM_SUFFIXES]


def expiry_schedule_name(endpoint: str) -> str:
    """The endpoint's expiry schedule (deployment.ttl_hours): its own name (SageMaker's 63 characters
    fit Scheduler's 64), so a later go-live replaces it and deleting the model deletes it."""
    return endpoint


def owned_run_id(tags: dict[str, str], stack_name: str) -> str | None:
    """The run a resource belongs to, or None unless this stack created it (STACK_TAG matches)."""
    if tags.get(STACK_TAG) != stack_name:
        return None
    return tags.get(RUN_ID_TAG) or None
