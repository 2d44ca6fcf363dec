"""Incoming events, shaped as AWS sends them, become what notify and track_run work with."""

import json
from pathlib import Path

import pytest

from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sagemaker import JobKind, StateChange, api_status
from sagechain.events import DatasetPrepared
from tests.aws import ROOT, sample_event
from tests.runs import STACK_ID


def state_change(case: str) -> StateChange:
    parsed = parse_bus_event(sample_event("notify", case), STACK_ID)
    assert isinstance(parsed, StateChange)
    return parsed


def test_endpoint_statuses_spelled_in_upper_snake_case_read_as_describe_endpoint_spells_them() -> None:
    assert state_change("endpoint_in_service").status == "InService"
    assert state_change("endpoint_failed").status == "Failed"
    assert api_status("OUT_OF_SERVICE") == "OutOfService"
    assert api_status("Completed") == "Completed"


def test_a_labeling_job_is_named_by_the_arn_in_resources_since_its_detail_holds_only_the_status() -> None:
    change = state_change("labeling_job_failed")

    assert (change.kind, change.name, change.status) == (
        JobKind.LABELING,
        "sagechain-flowers-8b39944c64ac-labeling",
        "Failed",
    )
    assert change.tags == {}


def test_training_job_tags_arrive_as_a_map_or_as_the_api_list() -> None:
    event = sample_event("notify", "training_job_completed")
    assert state_change("training_job_completed").tags == {
        "sagechain:run-id": "flowers-8b39944c64ac",
        "sagechain:stack": "sagechain",
    }
    event["detail"]["Tags"] = [{"Key": "sagechain:run-id", "Value": "x-1"}]

    parsed = parse_bus_event(event, STACK_ID)

    assert isinstance(parsed, StateChange)
    assert parsed.tags == {"sagechain:run-id": "x-1"}


def test_an_endpoint_names_the_configuration_being_deployed_whose_tags_name_the_run() -> None:
    event = sample_event("notify", "endpoint_in_service")
    assert state_change("endpoint_in_service").endpoint_config_arn == (
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/sagechain-flowers-8b39944c64ac-config"
    )
    event["detail"]["PendingDeploymentSummary"] = {"EndpointConfigName": "sagechain-flowers-next-config"}

    parsed = parse_bus_event(event, STACK_ID)

    assert isinstance(parsed, StateChange)
    assert parsed.endpoint_config_name == "sagechain-flowers-next-config"


def test_sagechain_events_are_parsed_with_the_contract_models() -> None:
    parsed = parse_bus_event(sample_event("notify", "dataset_prepared"), STACK_ID)

    assert isinstance(parsed, SagechainDelivery)
    assert isinstance(parsed.event, DatasetPrepared)
    assert parsed.about == "Dataset Prepared#flowers-8b39944c64ac"


def test_the_same_state_change_reported_twice_is_about_the_same_thing() -> None:
    first = sample_event("notify", "training_job_failed")
    second = {**first, "id": "another-delivery", "time": "2026-03-02T11:20:03Z"}

    assert state_change("training_job_failed").about == parse_bus_event(second, STACK_ID).about  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [
        ("sagechain", "Something New"),
        ("aws.sagemaker", "SageMaker Model State Change"),
        ("aws.s3", "Object Created"),
    ],
)
def test_kinds_of_events_nobody_follows_are_left_alone(source: str, detail_type: str) -> None:
    event = {**sample_event("notify", "dataset_prepared"), "source": source, "detail-type": detail_type}

    assert parse_bus_event(event, STACK_ID) is None


def test_epoch_millisecond_times_as_in_aws_endpoint_sample_are_read() -> None:
    event = {**sample_event("notify", "endpoint_failed"), "time": "1583831889050"}

    parsed = parse_bus_event(event, STACK_ID)

    assert parsed is not None
    assert parsed.at.isoformat() == "2020-03-10T09:18:09.050000+00:00"


def test_samples_shared_by_notify_and_track_run_are_the_same_event() -> None:
    shared = {p.name for p in (ROOT / "events" / "notify").glob("*.json")} & {
        p.name for p in (ROOT / "events" / "track_run").glob("*.json")
    }

    assert shared
    for name in shared:
        notify, track = (
            json.loads(Path(ROOT, "events", f, name).read_text()) for f in ("notify", "track_run")
        )
        assert notify == track, name
