"""watch_runs offline: the hourly check finds a run stuck in the chain and emails once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local.outbox import published
from local.stack import PHYSICAL, LocalStack

from tests.aws import sample_event
from tests.e2e.test_full_chain import kinds, upload_flowers

pytestmark = pytest.mark.e2e


def test_a_run_whose_labeling_job_never_ends_is_emailed_by_the_hourly_check(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run waiting on a labeling job that never moves
    monkeypatch.setattr(stack.sagemaker, "advance", lambda: False)
    upload_flowers(stack)
    stack.run_until_quiet()
    assert kinds(stack) == ["Dataset Prepared", "Labeling Started"]

    # When the hourly schedule fires two days later
    later = datetime.now(UTC) + timedelta(days=2)

    class TwoDaysLater(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "TwoDaysLater":
            return cls.fromtimestamp(later.timestamp(), tz)

    stack.invoke("WatchRunsFunction", sample_event("watch_runs", "scheduled"))  # cold start
    module = stack.functions["WatchRunsFunction"].module
    monkeypatch.setattr(module, "datetime", TwoDaysLater)
    answer = stack.invoke("WatchRunsFunction", sample_event("watch_runs", "scheduled"))

    # Then the run is reported in one email
    assert len(answer["reported"]) == 1
    stale = [s for s, _ in published(PHYSICAL["NotificationTopic"]) if "No progress" in (s or "")]
    assert len(stale) == 1
