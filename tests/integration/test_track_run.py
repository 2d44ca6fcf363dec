"""track_run against the runs table on moto: a run's history survives any order and any repetition."""

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from local.outbox import published
from local.template import Template
from moto import mock_aws

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.observers.track_run import track_run
from sagechain.ports import TrainingJobFacts
from sagechain.run_history import RunRecord
from tests.aws import (
    BUCKET,
    RUNS_TABLE,
    create_runs_table,
    create_stack_resources,
    create_topic,
    load_handler,
    sample_event,
)
from tests.fakes import FakeSageMaker, MemoryStore
from tests.runs import STACK_ID, STACK_NAME
from tests.stubs import count_calls, stubbed
from tests.unit.test_notify import CONFIG, LABELING, RUN, TRAINING, arn, run_json

pytestmark = pytest.mark.integration

CHAIN = [
    "dataset_prepared",
    "labeling_started",
    "labeling_job_in_progress",
    "labeling_job_completed",
    "training_started",
    "training_job_in_progress",
    "training_job_completed",
    "deployment_started",
    "endpoint_creating",
    "endpoint_in_service",
    "model_live",
]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def sagemaker() -> FakeSageMaker:
    tag = {"sagechain:run-id": RUN, "sagechain:stack": "sagechain"}
    return FakeSageMaker(
        tags={arn("labeling-job", LABELING): tag, arn("endpoint-config", CONFIG): tag},
        training={
            TRAINING: TrainingJobFacts(
                name=TRAINING, status="Completed", spot=True, training_seconds=1780, billable_seconds=612
            )
        },
    )


def replay(events: list[dict[str, Any]], table: str) -> RunRecord:
    """Every event through track_run into a fresh table; the run as stored afterwards."""
    boto3.client("dynamodb").create_table(**Template({}, {}).table("RunsTable", table))
    runs = DynamoRunStore(table)
    store = MemoryStore(BUCKET, {f"runs/{RUN}/run.json": run_json()})
    lookup = sagemaker()
    for event in events:
        track_run(event, lookup, store, runs, "sagechain", STACK_NAME, STACK_ID)
    record = runs.get_run(RUN)
    assert record is not None
    return record


def chain() -> list[dict[str, Any]]:
    return [sample_event("track_run", case) for case in CHAIN]


def test_a_full_chain_leaves_a_live_run_with_its_jobs_and_ordered_history(aws: None) -> None:
    record = replay(chain(), "in-order")

    run = record.run
    assert (run.dataset, run.stage, run.status, run.last_error) == ("flowers", "live", "live", None)
    assert run.summary == (
        "Model live: sagechain-flowers-8b39944c64ac-model on endpoint sagechain-flowers, 1-4 x ml.m5.large"
    )
    assert run.created_at.isoformat() == "2026-03-02T10:00:00+00:00"
    assert run.updated_at is not None
    assert run.updated_at.isoformat() == "2026-03-02T11:38:10+00:00"
    assert (run.objects, run.labeling_job, run.training_jobs, run.endpoint_name) == (
        8,
        LABELING,
        [TRAINING],
        "sagechain-flowers",
    )
    assert run.metric is not None
    assert (run.metric.name, run.metric.value) == ("validation:accuracy", 0.93)
    assert run.autoscaling is not None
    assert (run.autoscaling.min_instances, run.autoscaling.max_instances) == (1, 4)
    assert [entry.event for entry in record.history] == [
        "Dataset Prepared",
        "Labeling Started",
        "Labeling job InProgress",
        "Labeling job Completed",
        "Training Started",
        "Training job InProgress",
        "Training job Completed",
        "Deployment Started",
        "Endpoint Creating",
        "Endpoint InService",
        "Model Live",
    ]
    assert [(job.kind, job.status) for job in record.jobs] == [
        ("labeling-job", "Completed"),
        ("training-job", "Completed"),
        ("endpoint", "InService"),
    ]
    assert (record.jobs[1].training_seconds, record.jobs[1].billable_seconds) == (1780, 612)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_events_shuffled_and_duplicated_leave_the_same_run(aws: None, seed: int) -> None:
    expected = replay(chain(), f"in-order-{seed}")
    shaken = chain() * 3
    random.Random(seed).shuffle(shaken)  # noqa: S311 - a reproducible order, not a secret

    assert replay(shaken, f"shuffled-{seed}") == expected


def test_a_late_dataset_event_does_not_move_a_live_run_back(aws: None) -> None:
    events = chain()

    record = replay([*events, events[0], events[4]], "late")

    assert (record.run.stage, record.run.status) == ("live", "live")
    assert len(record.history) == len(CHAIN)


def test_sagemakers_second_report_of_a_state_change_keeps_the_first_time(aws: None) -> None:
    first = sample_event("track_run", "labeling_job_completed")
    later = {**first, "id": "second-delivery", "time": "2026-03-02T11:00:09Z"}

    record = replay([later, first, later], "twice")

    [entry] = record.history
    assert entry.at.isoformat() == "2026-03-02T11:00:00+00:00"


def test_of_two_failures_the_further_one_is_the_last_error_whatever_the_order(aws: None) -> None:
    training_failed = sample_event("notify", "training_job_failed")
    training_failed["detail"]["Tags"] = {"sagechain:run-id": RUN, "sagechain:stack": "sagechain"}
    deployment_failed = sample_event("notify", "deployment_failed")

    one = replay([training_failed, deployment_failed], "failures-1")
    other = replay([deployment_failed, training_failed], "failures-2")

    assert one == other
    assert (one.run.stage, one.run.status) == ("deployment", "failed")
    assert one.run.last_error is not None
    assert one.run.last_error.startswith("The account-level service limit")
    assert [entry.error is not None for entry in one.history] == [True, True]


def test_the_handler_names_a_labeling_jobs_run_from_its_tags_with_a_valid_list_tags_request(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_runs_table()
    create_stack_resources()
    create_topic()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"runs/{RUN}/run.json", Body=run_json())
    handler = load_handler("track_run")
    with stubbed("sagemaker") as (client, stubber):
        calls = count_calls(client)
        stubber.add_response(
            "list_tags",
            {
                "Tags": [
                    {"Key": "sagechain:run-id", "Value": RUN},
                    {"Key": "sagechain:stack", "Value": "sagechain"},
                ]
            },
            {"ResourceArn": arn("labeling-job", LABELING)},
        )
        monkeypatch.setattr("sagechain.adapters.sagemaker_status.sagemaker_client", lambda: client)

        result = handler.handler(sample_event("track_run", "labeling_job_completed"), FakeLambdaContext())

    # Recorded, and not emailed: a completed labeling job is the next stage's news.
    assert result == {"run_id": RUN, "stage": "labeling", "status": "in_progress", "sent": None}
    assert calls["ListTags"] == 1
    record = DynamoRunStore(RUNS_TABLE).get_run(RUN)
    assert record is not None
    assert (record.run.dataset, [job.name for job in record.jobs]) == ("flowers", [LABELING])


def test_the_handler_records_a_sagechain_event_without_asking_sagemaker(aws: None) -> None:
    create_runs_table()
    create_stack_resources()
    topic = create_topic()
    handler = load_handler("track_run")

    result = handler.handler(sample_event("track_run", "model_live"), FakeLambdaContext())

    recorded = {k: result[k] for k in ("run_id", "stage", "status")}
    assert recorded == {"run_id": RUN, "stage": "live", "status": "live"}
    # Then emailed, once.
    assert [subject for subject, _ in published(topic)] == [result["subject"]]


@pytest.mark.parametrize("end", ["batch_completed", "batch_failed"])
def test_a_batch_that_starts_and_ends_in_one_second_is_listed_started_first(aws: None, end: str) -> None:
    # EventBridge times events to the second: a short batch's two events often share one.
    started, ended = sample_event("notify", "batch_started"), sample_event("notify", end)
    ended["time"] = started["time"]
    ended["detail"]["batch_id"] = started["detail"]["batch_id"]

    for order, events in (("ended-last", [started, ended]), ("ended-first", [ended, started])):
        record = replay([*chain(), *events], f"batch-{end}-{order}")

        assert [h.event for h in record.history if h.event.startswith("Batch ")] == [
            "Batch Started",
            "Batch Completed" if end == "batch_completed" else "Batch Failed",
        ]
