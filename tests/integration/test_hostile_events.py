"""Every EventBridge-triggered handler survives any JSON thrown at it, and writes nothing for a bad one.

hypothesis is not in the test environment, so the shapes are a generated table: every sample
event of every function, each with one field (top-level or in the detail) removed, set to a
wrong type, a huge string, unicode or a lone surrogate, nested nulls; every detail-type under
every source; another stack's resources; and values that are not JSON objects at all. The real
handlers run under moto. Where an event source drops an event (logged, counted as
EventsDropped), nothing may be written: no object, no item, no email, no event.
"""

import copy
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.event_sources import drops
from tests.aws import ROOT, create_runs_table, create_stack_resources, create_topic, load_handler

pytestmark = pytest.mark.integration

# The functions EventBridge rules invoke (watch_runs' schedule reads no field of its event).
FUNCTIONS = (
    "prepare_dataset",
    "start_labeling",
    "start_training",
    "deploy_model",
    "configure_autoscaling",
    "track_run",  # which also emails (notify's service)
)
SOURCES = ("sagechain", "aws.s3", "aws.sagemaker", "aws.events", "custom.forged", "")
DETAIL_TYPES = (
    "Object Created",
    "Object Deleted",
    "Dataset Prepared",
    "Dataset Rejected",
    "Labeling Started",
    "Training Started",
    "Model Live",
    "SageMaker Training Job State Change",
    "SageMaker Ground Truth Labeling Job State Change",
    "SageMaker HyperParameter Tuning Job State Change",
    "SageMaker Endpoint State Change",
    "Scheduled Event",
)
HUGE = "x" * 40_000  # over the 32 KiB a detail may hold, and every key limit
WRONG_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1.5,
    True,
    "",
    [],
    {},
    [None],
    {"nested": {"deeper": None}},
    HUGE,
    "ü" * 2_000,
    "\ud800",
    "名前/../%2F+ 🙂",
)
OTHER_STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/11111111-2222-3333-4444-555555555555"


def _samples() -> list[dict[str, Any]]:
    found = []
    for folder in ("prepare_dataset", "start_labeling", "deploy_model", "configure_autoscaling", "notify"):
        for path in sorted((ROOT / "events" / folder).glob("*.json")):
            found.append(json.loads(path.read_text()))
    return found


# Each field gets this many of the wrong values, in rotation, so that across the samples every
# wrong value lands on every kind of field while the table stays small enough for a lean suite.
_VALUES_PER_FIELD = 4


def _wrong_values(position: int) -> list[Any]:
    return [
        WRONG_VALUES[(position * _VALUES_PER_FIELD + j) % len(WRONG_VALUES)] for j in range(_VALUES_PER_FIELD)
    ]


def _mutations(sample: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One field at a time, at the top and in the detail, removed or given a wrong value."""
    for position, key in enumerate(sample):
        removed = copy.deepcopy(sample)
        del removed[key]
        yield removed
        for value in _wrong_values(position):
            yield {**copy.deepcopy(sample), key: value}
    detail = sample.get("detail")
    if isinstance(detail, dict):
        for position, key in enumerate(detail):
            removed = copy.deepcopy(sample)
            del removed["detail"][key]
            yield removed
            for value in _wrong_values(position + len(sample)):
                changed = copy.deepcopy(sample)
                changed["detail"][key] = value
                yield changed
    for index, source in enumerate(SOURCES):
        for detail_type in (DETAIL_TYPES[index], DETAIL_TYPES[-1 - index]):
            yield {**copy.deepcopy(sample), "source": source, "detail-type": detail_type}
    yield {**copy.deepcopy(sample), "resources": [OTHER_STACK]}
    yield {**copy.deepcopy(sample), "resources": "not a list"}
    yield {**copy.deepcopy(sample), "resources": [None, 7, {"arn": OTHER_STACK}]}


def hostile_events() -> list[Any]:
    """The whole table: the mutations of every sample, and values that are not objects."""
    events: list[Any] = [None, [], "event", 42, {}, {"Records": None}, {"Records": [None, 1, "x"]}]
    for sample in _samples():
        events.extend(_mutations(sample))
    return events


EVENTS = hostile_events()
# The table runs in interleaved shards, each on its own moto and handlers: one test of ~5,000
# events x 6 handlers was the suite's longest item (over a minute), which pytest-xdist cannot
# split, so one worker could end the session running it alone. Every shard mixes every sample.
SHARDS = 4


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, ModuleType], list[str]]]:
    dropped: list[str] = []
    monkeypatch.setattr(drops, "count", dropped.append)
    monkeypatch.setenv(
        "SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/sagechain-SageMakerExecutionRole"
    )
    monkeypatch.setenv("PREDICT_URL_TEMPLATE", "https://api.example.com/v1/models/{model}/predict")
    with mock_aws():
        create_stack_resources()
        create_runs_table()
        create_topic()
        yield {function: load_handler(function) for function in FUNCTIONS}, dropped


_WRITES = ("Put", "Create", "Update", "Delete", "Publish", "Send", "Register", "Copy", "Start", "Stop")


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_handler_raises_on_any_json_and_a_dropped_event_writes_nothing(
    stack: Any, monkeypatch: pytest.MonkeyPatch, shard: int
) -> None:
    handlers, dropped = stack
    events = EVENTS[shard::SHARDS]
    writes: list[str] = []
    make_api_call = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation.startswith(_WRITES):
            writes.append(operation)
        if client.meta.service_model.service_name == "sagemaker":
            # What SageMaker answers for a job or endpoint it does not hold (moto crashes on some).
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "not found"}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    drops_seen = 0

    for event in events:
        for function, module in handlers.items():
            dropped.clear()
            writes.clear()
            try:
                module.handler(copy.deepcopy(event), FakeLambdaContext(function_name=function))
            except ClientError:
                # A well-formed event about a job moto does not hold: the stage's AWS call failed
                # after parsing (retried, then parked, as any AWS error); never a dropped event.
                assert not dropped, (function, str(event)[:300])
                continue
            if dropped:
                drops_seen += 1
                assert dropped == [drops.DROPPED_METRIC] * len(dropped)
                assert writes == [], (function, str(event)[:300])

    # Per shard, so the whole table drops more than one per event too.
    assert drops_seen > len(events)


@pytest.mark.parametrize(
    ("function", "event"),
    [
        (
            "track_run",
            {
                "source": "sagechain",
                "detail-type": "Deployment Started",
                "time": "2026-03-02T12:00:00Z",
                "resources": [],
                "detail": {"run_id": "r", "dataset": "d"},
            },
        ),
        ("track_run", {"source": "sagechain", "detail-type": "Dataset Rejected", "time": "x", "detail": {}}),
        ("deploy_model", {"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change"}),
        ("prepare_dataset", {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}),
        ("start_labeling", {"Records": [{"eventName": "ObjectCreated:Put"}]}),
    ],
)
def test_a_malformed_event_is_dropped_with_a_reason_and_the_handler_returns(
    stack: Any, function: str, event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    handlers, dropped = stack

    handlers[function].handler(event, FakeLambdaContext(function_name=function))

    assert dropped == [drops.DROPPED_METRIC]
    [record] = [record for record in caplog.records if record.getMessage() == "event dropped"]
    assert record.reason
