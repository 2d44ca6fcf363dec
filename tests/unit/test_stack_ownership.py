"""One stack sees only itself: resources tagged for another stack are ignored by every handler.

Two stacks may share a name prefix (the default `sagechain`, or `ml` and `ml-vision`, whose
names both start with `ml-`): the sagechain:stack tag, not the name, tells them apart.
"""

from typing import Any

import pytest
from botocore.stub import ANY

from sagechain.adapters.training import SageMakerTraining
from sagechain.deployment.bookkeeping import Outcome
from sagechain.deployment.configure_autoscaling import configure_autoscaling
from sagechain.deployment.deploy_model import deploy_model
from sagechain.event_sources.sagemaker import StateChange
from sagechain.names import RUN_ID_TAG, STACK_TAG, owned_run_id, resource_tags
from sagechain.observers.notify import compose_email
from sagechain.observers.track_run import track_run
from sagechain.ports import EndpointConfig, Variant
from sagechain.training.start_training import TrainingTrigger, start_training
from tests.aws import sample_event
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    JOB,
    RUN,
    FakeSageMaker,
    completed_job,
    endpoint_change,
    run_model,
    store_with_run,
    training_change,
)
from tests.fakes import FakeSageMaker as FakeLookup
from tests.fakes import MemoryStore, RecordingPublisher, RecordingRunStore
from tests.runs import (
    ENVIRONMENT,
    LABELING_JOB,
    STACK_ID,
    STACK_NAME,
    describe_labeling_job,
    put_run,
    spec_of,
)
from tests.stubs import stubbed
from tests.unit.test_configure_autoscaling import CONFIG as AUTOSCALING_CONFIG
from tests.unit.test_deploy_model import CONFIG as DEPLOY_CONFIG
from tests.unit.test_notify import CONFIG as NOTIFY_CONFIG
from tests.unit.test_notify import LABELING, TRAINING, TUNING, arn, run_json

# Another stack in the same account, with the same name prefix.
OTHER_STACK = "sagechain-vision"
BUCKET = "sagechain-data-example"


def other_stacks(event: dict[str, Any]) -> dict[str, Any]:
    """The event as SageMaker would send it about the other stack's resource."""
    event["detail"]["Tags"] = resource_tags("flowers-8b39944c64ac", OTHER_STACK)
    return event


def lookup(stack: str = OTHER_STACK) -> FakeLookup:
    """ListTags answers that the resources are the given stack's."""
    tags = resource_tags("flowers-8b39944c64ac", stack)
    return FakeLookup(
        tags={
            arn("labeling-job", LABELING): tags,
            arn("training-job", TRAINING): tags,
            arn("hyper-parameter-tuning-job", TUNING): tags,
            arn("endpoint-config", NOTIFY_CONFIG): tags,
            arn("endpoint", "sagechain-flowers"): tags,
        }
    )


def observer_store() -> MemoryStore:
    return MemoryStore(BUCKET, {"runs/flowers-8b39944c64ac/run.json": run_json()})


# ---------------------------------------------------------------- the rule itself


def test_a_run_id_counts_only_beside_this_stacks_tag() -> None:
    assert owned_run_id(resource_tags("r-1", STACK_NAME), STACK_NAME) == "r-1"
    assert owned_run_id(resource_tags("r-1", OTHER_STACK), STACK_NAME) is None
    assert owned_run_id({RUN_ID_TAG: "r-1"}, STACK_NAME) is None  # made before stacks were tagged
    assert owned_run_id({STACK_TAG: STACK_NAME}, STACK_NAME) is None


# ---------------------------------------------------------------- notify and track_run

FAILURES = ["training_job_failed", "tuning_job_failed", "endpoint_failed", "labeling_job_failed"]


@pytest.mark.parametrize("case", FAILURES)
def test_another_stacks_failure_is_not_emailed(case: str) -> None:
    # Tags in the event (training and tuning jobs may carry them) or only through ListTags
    event = (
        other_stacks(sample_event("notify", case)) if "job_failed" in case else sample_event("notify", case)
    )

    email = compose_email(event, lookup(), observer_store(), "sagechain", STACK_NAME, STACK_ID)

    assert email is None


@pytest.mark.parametrize("case", FAILURES)
def test_the_same_failure_of_this_stack_is_emailed(case: str) -> None:
    event = sample_event("notify", case)
    event["detail"].pop("Tags", None)

    email = compose_email(event, lookup(STACK_NAME), observer_store(), "sagechain", STACK_NAME, STACK_ID)

    assert email is not None


@pytest.mark.parametrize(
    ("source", "case"),
    [
        ("track_run", "training_job_in_progress"),
        ("track_run", "training_job_completed"),
        ("track_run", "labeling_job_completed"),
        ("track_run", "endpoint_in_service"),
        ("notify", "tuning_job_failed"),
    ],
)
def test_another_stacks_state_change_leaves_no_run_history(source: str, case: str) -> None:
    event = sample_event(source, case)
    if "Tags" in event["detail"] and event["detail"]["Tags"]:
        other_stacks(event)
    runs = RecordingRunStore()

    change = track_run(event, lookup(), observer_store(), runs, "sagechain", STACK_NAME, STACK_ID)

    assert change is None
    assert runs.changes == []


def test_a_longer_prefix_of_another_stack_is_not_ours_either() -> None:
    # Stack "ml" and stack "ml-vision": ml-vision-... starts with "ml-".
    event = sample_event("notify", "training_job_failed")
    event["detail"]["TrainingJobName"] = "ml-vision-flowers-8b39944c64ac-train"
    event["detail"]["Tags"] = resource_tags("flowers-8b39944c64ac", "ml-vision")

    assert compose_email(event, FakeLookup(), observer_store(), "ml", "ml", STACK_ID) is None


# ---------------------------------------------------------------- start_training


def test_another_stacks_completed_labeling_job_starts_no_training() -> None:
    store = MemoryStore(BUCKET)
    put_run(
        store,
        spec_of(
            {
                "task": "image-classification",
                "labels": ["rose", "tulip"],
                "labeling": {"mode": "ground-truth"},
            }
        ),
        None,
    )
    trigger = TrainingTrigger(key=f"labeling-job/{LABELING_JOB}/Completed", labeling_job_name=LABELING_JOB)
    publisher = RecordingPublisher()
    with stubbed("sagemaker") as (client, stubber):
        stubber.add_response(
            "describe_labeling_job",
            describe_labeling_job(BUCKET, labeled=50, stack=OTHER_STACK),
            {"LabelingJobName": ANY},
        )

        event = start_training(trigger, store, SageMakerTraining(client), publisher, ENVIRONMENT)

    assert event is None
    assert publisher.events == []


# ---------------------------------------------------------------- deploy_model, configure_autoscaling


def deploy(change: StateChange, sagemaker: FakeSageMaker) -> tuple[Outcome, RecordingPublisher]:
    publisher = RecordingPublisher()
    outcome = deploy_model(
        change, sagemaker, sagemaker, sagemaker.scaling, store_with_run(), publisher, DEPLOY_CONFIG
    )
    return outcome, publisher


def test_another_stacks_training_job_is_not_deployed_tags_in_the_event() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.add_job(completed_job(), stack=OTHER_STACK)

    outcome, publisher = deploy(training_change(stack=OTHER_STACK), sagemaker)

    assert outcome.outcome == "ignored"
    assert (sagemaker.models, sagemaker.configs, sagemaker.endpoints) == ({}, {}, {})
    assert publisher.events == []


def test_another_stacks_training_job_is_not_deployed_tags_from_list_tags() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.add_job(completed_job(), stack=OTHER_STACK)

    outcome, publisher = deploy(training_change(tagged=False), sagemaker)

    assert outcome.outcome == "ignored"
    assert sagemaker.models == {}
    assert publisher.events == []


def test_another_stacks_endpoint_in_service_gets_no_autoscaling_and_goes_nowhere_live() -> None:
    sagemaker = FakeSageMaker()
    config = EndpointConfig(
        f"{JOB}-config", f"{ARN}:endpoint-config/{JOB}-config", [Variant("AllTraffic", JOB, "ml.m5.large")]
    )
    sagemaker.put_endpoint("InService", config, stack=OTHER_STACK)
    sagemaker.resource_tags[config.arn] = resource_tags(RUN, OTHER_STACK)
    store = store_with_run()
    store.objects[f"runs/{RUN}/model.json"] = run_model().model_dump_json().encode()
    autoscaler, publisher = sagemaker.scaling, RecordingPublisher()

    for status in ("IN_SERVICE", "FAILED"):
        outcome = configure_autoscaling(
            endpoint_change(status), sagemaker, sagemaker, autoscaler, store, publisher, AUTOSCALING_CONFIG
        )
        assert outcome.outcome == "ignored"

    assert autoscaler.targets == {}
    assert f"models/{ENDPOINT}/model.json" not in store.objects
    assert publisher.events == []


# ---------------------------------------------------------------- what is created carries the tag
# (labeling, training and tuning requests, and the scalable target: the request-level tests of
# each stage expect the tag; here the whole set deploy_model creates)


def test_every_hosting_resource_deploy_model_creates_carries_the_stack_tag() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.add_job(completed_job())

    deploy(training_change(), sagemaker)

    expected = resource_tags(RUN, STACK_NAME)
    assert sagemaker.models[JOB]["tags"] == expected
    assert sagemaker.resource_tags[f"{ARN}:endpoint-config/{JOB}-config"] == expected
    assert sagemaker.resource_tags[f"{ARN}:endpoint/{ENDPOINT}"] == expected


# ---------------------------------------------------------------- sagechain events
OTHER_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/other/11111111-2222-3333-4444-555555555555"
)


@pytest.mark.parametrize("resources", [[OTHER_STACK_ID], [], [STACK_ID.replace("sagechain/", "sagechain2/")]])
def test_another_stacks_sagechain_event_is_neither_emailed_nor_recorded(resources: list[str]) -> None:
    event = {**sample_event("notify", "dataset_rejected"), "resources": resources}
    runs = RecordingRunStore()

    assert compose_email(event, FakeLookup(), observer_store(), "sagechain", STACK_NAME, STACK_ID) is None
    assert track_run(event, FakeLookup(), observer_store(), runs, "sagechain", STACK_NAME, STACK_ID) is None
    assert runs.changes == []


def test_this_stacks_own_sagechain_event_is_emailed_and_recorded() -> None:
    event = sample_event("notify", "dataset_rejected")
    runs = RecordingRunStore()

    assert compose_email(event, FakeLookup(), observer_store(), "sagechain", STACK_NAME, STACK_ID) is not None
    assert (
        track_run(event, FakeLookup(), observer_store(), runs, "sagechain", STACK_NAME, STACK_ID) is not None
    )
