"""A run's attempts (the first, and one more per POST /runs/{run_id}/retry), and its stop.

    runs/<run_id>/attempts/<nnnn>.json   one per retry, written once (If-None-Match: *) by
                                         run_control: the attempt, the stage it starts at, who
                                         asked and when. Two requests for the same attempt: one
                                         writes it, the other reads what the first asked for.
    runs/<run_id>/stops/<nnnn>.json      written once by POST /runs/{run_id}/stop: attempt nnnn
                                         was stopped (a second stop of it is answered 409).

Neither key matches a stage's trigger (runs/*/input.manifest, runs/*/labeled.manifest).

Every stage asks `why_not_start` before it creates anything: an event of an attempt that a
later one replaced (a late "Completed" of attempt 1 after attempt 2 began), or of an attempt
that was stopped (a labeling job that completed just as its run was stopped), starts nothing.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sagechain.events import RetryStage, StoppableStage
from sagechain.layout import run_key
from sagechain.ports import ObjectStore
from sagechain.records import read_record

ATTEMPTS_DIR = "attempts/"
STOPS_DIR = "stops/"
MAX_ATTEMPTS = 20


class AttemptClaim(BaseModel):
    """One retry of a run: attempt `attempt` starts at `from_stage`."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    attempt: int = Field(ge=2)
    from_stage: RetryStage
    previous_status: str
    previous_stage: StoppableStage
    requested_by: str | None = None
    requested_at: datetime


class StopRecord(BaseModel):
    """A stop request: the attempt it stopped, and when."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    attempt: int = Field(ge=1)
    stopped_at: datetime
    requested_by: str | None = None


def attempts_prefix(run_id: str) -> str:
    """runs/<run_id>/attempts/"""
    return run_key(run_id, ATTEMPTS_DIR)


def attempt_key(run_id: str, attempt: int) -> str:
    """runs/<run_id>/attempts/<nnnn>.json: zero-padded, so the listing is in attempt order."""
    return f"{attempts_prefix(run_id)}{attempt:04d}.json"


def stopped_key(run_id: str, attempt: int = 1) -> str:
    """runs/<run_id>/stops/<nnnn>.json: the attempt was stopped."""
    return run_key(run_id, f"{STOPS_DIR}{attempt:04d}.json")


def latest_claim(store: ObjectStore, run_id: str) -> AttemptClaim | None:
    """The run's latest retry, or None while it is on its first attempt."""
    keys = [stored.key for stored in store.iter_objects(attempts_prefix(run_id))]
    for key in sorted(keys, reverse=True):
        claim = read_record(store, key, AttemptClaim)
        if claim is not None and claim.run_id == run_id:
            return claim
    return None


def current_attempt(store: ObjectStore, run_id: str) -> int:
    """The run's latest attempt: 1 until it is retried."""
    claim = latest_claim(store, run_id)
    return 1 if claim is None else claim.attempt


def why_not_start(store: ObjectStore, run_id: str, attempt: int) -> str | None:
    """Why an event of this attempt must start nothing (None: it may start its stage)."""
    current = current_attempt(store, run_id)
    if attempt < current:
        return f"attempt {attempt} of run {run_id} was replaced by attempt {current} (a retry)"
    stop = read_record(store, stopped_key(run_id, attempt), StopRecord)
    if stop is not None:
        return f"run {run_id} was stopped at {stop.stopped_at.isoformat()} (attempt {attempt})"
    return None
