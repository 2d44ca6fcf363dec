"""SageMaker's state-change events are read as AWS documents them, in every spelling seen."""

import pytest

from sagechain.event_sources.sagemaker import (
    JobKind,
    normalized_status,
    state_change,
    tags_as_map,
)
from sagechain.names import RUN_ID_TAG
from tests.aws import sample_event


def test_documented_training_event_is_read_with_its_empty_tag_map() -> None:
    change = state_change(sample_event("deploy_model", "training_job_completed"))

    assert change is not None
    assert (change.kind, change.name, change.status) == (
        JobKind.TRAINING,
        "sagechain-flowers-8b39944c64ac-train",
        "Completed",
    )
    assert change.tags == {}


def test_schema_registry_tag_list_gives_the_run_id() -> None:
    change = state_change(sample_event("deploy_model", "training_job_completed_tags_as_list"))

    assert change is not None
    assert change.tags[RUN_ID_TAG] == "flowers-8b39944c64ac"


def test_tuning_event_is_read_by_its_own_field_names() -> None:
    change = state_change(sample_event("deploy_model", "tuning_job_completed"))

    assert change is not None
    assert (change.kind, change.name, change.status) == (
        JobKind.TUNING,
        "sagechain-flowers-8b39944c-tune",
        "Completed",
    )


def test_endpoint_event_takes_the_name_not_the_lower_cased_arn() -> None:
    event = sample_event("configure_autoscaling", "endpoint_in_service")
    event["detail"]["EndpointName"] = "sagechain-Flowers"

    change = state_change(event)

    assert change is not None
    assert change.name == "sagechain-Flowers"
    assert change.config_name == "sagechain-flowers-8b39944c64ac-train-config"


@pytest.mark.parametrize(
    ("event_spelling", "api_spelling"),
    [
        ("IN_SERVICE", "InService"),
        ("UPDATE_ROLLBACK_FAILED", "UpdateRollbackFailed"),
        ("SYSTEM_UPDATING", "SystemUpdating"),
        ("OUT_OF_SERVICE", "OutOfService"),
    ],
)
def test_event_and_api_status_spellings_compare_equal(event_spelling: str, api_spelling: str) -> None:
    assert normalized_status(event_spelling) == normalized_status(api_spelling)


def test_tags_in_either_form_become_one_map() -> None:
    assert tags_as_map({RUN_ID_TAG: "r"}) == {RUN_ID_TAG: "r"}
    assert tags_as_map([{"Key": RUN_ID_TAG, "Value": "r"}, {"Key": "team"}]) == {RUN_ID_TAG: "r", "team": ""}
    assert tags_as_map(None) == {}


def test_an_event_of_another_kind_is_not_taken_for_the_kind_asked() -> None:
    endpoint_event = sample_event("configure_autoscaling", "endpoint_in_service")
    training_event = sample_event("deploy_model", "training_job_completed")

    assert state_change(endpoint_event, JobKind.TRAINING, JobKind.TUNING) is None
    assert state_change(training_event, JobKind.ENDPOINT) is None


def test_a_labeling_event_without_the_job_arn_names_no_job() -> None:
    event = sample_event("start_training", "labeling_job_completed")
    event["resources"] = []

    assert state_change(event) is None
