"""watch_runs against the runs table on moto: a run that stops moving is reported once."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local.lambda_context import FakeLambdaContext
from local.outbox import published
from moto import mock_aws

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.observers.notify import stale_run_email
from sagechain.observers.stale_runs import stale_runs
from sagechain.observers.track_run import track_run
from tests.aws import (
    RUNS_TABLE,
    create_runs_table,
    create_stack_resources,
    create_topic,
    load_handler,
    sample_event,
)
from tests.fakes import FakeSageMaker, MemoryStore
from tests.runs import STACK_ID, STACK_NAME
from tests.unit.test_notify import LABELING, RUN, arn, run_json

pytestmark = pytest.mark.integration

DAY = timedelta(hours=24)


@pytest.fixture
def runs() -> Iterator[DynamoRunStore]:
    with mock_aws():
        create_stack_resources()
        create_runs_table()
        yield DynamoRunStore(RUNS_TABLE)


def record(runs: DynamoRunStore, cases: list[str], at: datetime | None = None) -> None:
    """The sample events through track_run, stamped `at` when given."""
    tags = {"sagechain:run-id": RUN, "sagechain:stack": STACK_NAME}
    sagemaker = FakeSageMaker(tags={arn("labeling-job", LABELING): tags})
    store = MemoryStore("sagechain-data-example", {f"runs/{RUN}/run.json": run_json()})
    for case in cases:
        event = sample_event("track_run", case)
        if at is not None:
            event["time"] = at.isoformat().replace("+00:00", "Z")
        track_run(event, sagemaker, store, runs, "sagechain", STACK_NAME, STACK_ID)


def test_a_run_waiting_on_its_labeling_job_past_the_limit_is_reported_with_where_it_stands(
    runs: DynamoRunStore,
) -> None:
    record(runs, ["dataset_prepared", "labeling_started", "labeling_job_in_progress"])
    moved = runs.get_run(RUN)
    assert moved is not None
    assert moved.run.updated_at is not None
    now = moved.run.updated_at + DAY + timedelta(hours=2)

    [stale] = stale_runs(runs, now, DAY)
    email = stale_run_email(stale, now, 24)

    assert email.subject == f"[sagechain] flowers: No progress for 26 hours (run {RUN})"
    assert f"Run {RUN} has not moved for 26 hours: it stands at labeling." in email.body
    assert "stack parameter StaleRunHours" in email.body
    assert f"Labeling job {LABELING}: InProgress" in email.body


def test_a_run_that_moved_recently_or_went_live_is_not_reported(runs: DynamoRunStore) -> None:
    record(runs, ["dataset_prepared", "labeling_started"])
    moved = runs.get_run(RUN)
    assert moved is not None
    assert moved.run.updated_at is not None

    assert list(stale_runs(runs, moved.run.updated_at + timedelta(hours=23), DAY)) == []
    record(
        runs,
        [
            "labeling_job_completed",
            "training_started",
            "training_job_completed",
            "deployment_started",
            "endpoint_in_service",
            "model_live",
        ],
    )
    assert list(stale_runs(runs, moved.run.updated_at + 3 * DAY, DAY)) == []


def test_the_hourly_handler_emails_a_quiet_run_once_however_often_it_runs(runs: DynamoRunStore) -> None:
    topic = create_topic()
    record(runs, ["dataset_prepared"], at=datetime.now(UTC) - 2 * DAY)
    handler = load_handler("watch_runs")
    scheduled: dict[str, Any] = sample_event("watch_runs", "scheduled")

    first = handler.handler(scheduled, FakeLambdaContext())
    second = handler.handler({**scheduled, "id": "the next hour"}, FakeLambdaContext())

    assert first == second
    [(subject, message)] = published(topic)
    assert subject.startswith("[sagechain] flowers: No progress for 4")
    assert "it stands at dataset" in message
