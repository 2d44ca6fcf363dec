"""Runs that stopped moving: in progress, yet no event has changed them for too long.

A schedule (template.yaml, WatchRunsFunction) asks every hour. Each quiet run is reported
once: only runs that went quiet within the last reporting window are looked at, and the
email's key names the run and the time it last moved, so a duplicate invocation sends nothing
new (the handler's idempotency) and a run that moves and stalls again is reported again.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta

from sagechain.ports import RunStore
from sagechain.run_history import RunRecord

# How far back runs are looked at: a run older than this that is still "in progress" was
# reported when it went quiet (or predates the watcher); the listing index stays cheap.
LOOKBACK = timedelta(days=30)
# Each quiet run is reported in the first window after it went quiet; the idempotency
# records outlive it (adapters/idempotency.py: 7 days), so it is reported once.
REPORTING_WINDOW = timedelta(days=6)


def stale_runs(runs: RunStore, now: datetime, stale_after: timedelta) -> Iterator[RunRecord]:
    """In-progress runs that have not moved for stale_after, with their jobs and history."""
    for item in runs.runs_in_progress(now - LOOKBACK):
        quiet_since = item.updated_at or item.created_at
        if not stale_after <= now - quiet_since < stale_after + REPORTING_WINDOW:
            continue
        record = runs.get_run(item.run_id)
        if record is not None:
            yield record
