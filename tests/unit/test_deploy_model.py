"""deploy_model's service on in-memory SageMaker, autoscaling and bucket."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sagechain.deployment.deploy_model import DeployConfig, deploy_model
from sagechain.errors import RetryableError
from sagechain.event_sources.sagemaker import StateChange
from sagechain.events import DeploymentFailed, DeploymentRejected, DeploymentStarted, DeploymentWaiting
from sagechain.names import RUN_ID_TAG, STACK_TAG, resource_tags
from sagechain.ports import EndpointConfig, TuningOutcome, Variant
from sagechain.records import ModelInfo
from sagechain.spec import DatasetSpec
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    JOB,
    ROLE,
    RUN,
    FakeSageMaker,
    completed_job,
    ended_job,
    live_model,
    plan,
    spec,
    store_with_run,
    training_change,
    tuning_change,
)
from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.runs import STACK_NAME

CONFIG = DeployConfig(name_prefix="sagechain", role_arn=ROLE, stack_name=STACK_NAME)
OLD_CONFIG = EndpointConfig(
    "sagechain-older-run-train-config",
    f"{ARN}:endpoint-config/sagechain-older-run-train-config",
    [Variant("AllTraffic", "sagechain-older-run-train", "ml.m5.large")],
)


class Stage:
    """One deploy_model setup: fakes in, events and calls out."""

    def __init__(self, store: MemoryDeploymentStore | None = None, config: DeployConfig = CONFIG) -> None:
        self.config = config
        self.sagemaker = FakeSageMaker()
        self.autoscaler = self.sagemaker.scaling
        self.store = store or store_with_run()
        self.publisher = RecordingPublisher()

    def run(self, change: StateChange) -> object:
        return deploy_model(
            change,
            self.sagemaker,
            self.sagemaker,
            self.autoscaler,
            self.store,
            self.publisher,
            self.config,
            now=lambda: datetime(2026, 11, 25, tzinfo=UTC),
        )

    def model_json(self, key: str) -> ModelInfo:
        return ModelInfo.model_validate_json(self.store.objects[key])


def test_first_model_creates_model_config_and_endpoint_and_announces_it() -> None:
    # Given a run whose only training job completed, and no endpoint yet
    stage = Stage()
    stage.sagemaker.add_job(completed_job(accuracy=0.91))

    # When its completion arrives
    stage.run(training_change())

    # Then the model serves the built-in image without network access, from the job's artifacts
    model = stage.sagemaker.models[JOB]
    assert model["image"] == plan().training_image
    assert model["network_isolation"] is True
    assert model["model_data_url"] == completed_job().model_data_url
    assert model["tags"] == {RUN_ID_TAG: RUN, STACK_TAG: STACK_NAME}
    [config] = stage.sagemaker.configs.values()
    assert config.name == f"{JOB}-config"
    assert config.variants == [Variant("AllTraffic", JOB, "ml.m5.large")]
    assert stage.sagemaker.endpoints[ENDPOINT].config_name == config.name
    # And model.json is written for the run and as the deployment in flight
    info = stage.model_json(f"runs/{RUN}/model.json")
    assert (info.endpoint_name, info.labels, info.task) == (
        ENDPOINT,
        ["rose", "tulip"],
        "image-classification",
    )
    assert info.metric is not None
    assert info.metric.value == 0.91
    assert stage.model_json(f"models/{ENDPOINT}/deploying.json") == info
    # And Deployment Started says what happened
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.action, event.endpoint_name, event.metric_value) == ("create", ENDPOINT, 0.91)
    assert event.console_url.endswith(f"#/endpoints/{ENDPOINT}")


def test_custom_images_serve_isolated_with_their_own_image_by_default() -> None:
    custom = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1"
    stage = Stage(store_with_run(plan(algorithm="custom", training_image=custom)))
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    assert stage.sagemaker.models[JOB]["network_isolation"] is True
    assert stage.sagemaker.models[JOB]["image"] == custom


def test_a_custom_container_serves_from_its_serving_image_with_its_environment() -> None:
    custom = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagechain-train:1"
    serving = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagechain-serve:1"
    own = DatasetSpec.model_validate(
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "training": {"algorithm": custom},
            "deployment": {"instance_type": "ml.m5.large", "image": serving, "environment": {"THREADS": "2"}},
        }
    )
    stage = Stage(store_with_run(plan(algorithm="custom", training_image=custom), own))
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    model = stage.sagemaker.models[JOB]
    assert (model["image"], model["environment"]) == (serving, {"THREADS": "2"})
    assert model["model_data_url"] == completed_job().model_data_url


def test_a_minimum_without_an_objective_names_training_objective_as_the_fix() -> None:
    stage = Stage(store_with_run(plan(objective_metric=None), spec(min_objective_metric=0.9)))
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert "Name training.objective" in event.reason


def test_custom_images_keep_network_access_when_the_operator_allows_it() -> None:
    custom = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1"
    stage = Stage(store_with_run(plan(algorithm="custom", training_image=custom)))
    stage.config = replace(CONFIG, allow_custom_network_access=True)
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    assert stage.sagemaker.models[JOB]["network_isolation"] is False


def test_spec_endpoint_name_is_used_and_given_the_stacks_prefix() -> None:
    stage = Stage(store_with_run(dataset_spec=spec(endpoint_name="Garden-Prod")))
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    assert list(stage.sagemaker.endpoints) == ["sagechain-garden-prod"]


def test_model_below_the_minimum_is_rejected_with_both_numbers_and_nothing_is_created() -> None:
    stage = Stage(store_with_run(dataset_spec=spec(min_objective_metric=0.95)))
    stage.sagemaker.add_job(completed_job(accuracy=0.91))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert (event.metric_value, event.minimum) == (0.91, 0.95)
    assert "0.91 is below deployment.min_objective_metric 0.95" in event.reason
    assert stage.sagemaker.calls["CreateModel"] == 0
    assert stage.sagemaker.calls["CreateEndpoint"] == 0


def test_model_reaching_the_minimum_goes_live() -> None:
    stage = Stage(store_with_run(dataset_spec=spec(min_objective_metric=0.9)))
    stage.sagemaker.add_job(completed_job(accuracy=0.9))

    stage.run(training_change())

    assert isinstance(stage.publisher.events[0], DeploymentStarted)


def test_for_a_loss_the_minimum_is_an_upper_bound() -> None:
    loss = plan(objective_metric="validation:loss", objective_type="Minimize")
    stage = Stage(store_with_run(loss, spec(min_objective_metric=0.3)))
    job = completed_job()._replace(metrics={"validation:loss": 0.4})
    stage.sagemaker.add_job(job)

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert "above (lower is better)" in event.reason


def _with_live(stage: Stage, accuracy: float) -> None:
    stage.store.objects[f"models/{ENDPOINT}/model.json"] = (
        live_model(accuracy=accuracy).model_dump_json().encode()
    )
    stage.sagemaker.put_endpoint("InService", OLD_CONFIG)


def test_model_worse_than_the_live_one_is_rejected_with_both_numbers() -> None:
    stage = Stage()
    _with_live(stage, accuracy=0.93)
    stage.sagemaker.add_job(completed_job(accuracy=0.91))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert (event.metric_value, event.live_value) == (0.91, 0.93)
    assert "stack parameter AllowWorseModel" in event.reason
    assert stage.sagemaker.calls["UpdateEndpoint"] == 0


def test_worse_model_replaces_the_live_one_when_the_stack_allows_it() -> None:
    stage = Stage(config=replace(CONFIG, allow_worse_model=True))
    _with_live(stage, accuracy=0.93)
    stage.sagemaker.add_job(completed_job(accuracy=0.91))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.action == "update"


def test_better_model_updates_the_endpoint_keeping_its_instance_count_without_autoscaling() -> None:
    stage = Stage()
    _with_live(stage, accuracy=0.90)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    assert stage.sagemaker.updates == [(ENDPOINT, f"{JOB}-config", True)]
    assert stage.autoscaler.calls["DeregisterScalableTarget"] == 0


def test_update_of_an_autoscaled_variant_with_the_same_instance_type_keeps_autoscaling() -> None:
    stage = Stage()
    _with_live(stage, accuracy=0.90)
    stage.autoscaler.register(ENDPOINT, "AllTraffic", 1, 4)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    assert stage.sagemaker.updates == [(ENDPOINT, f"{JOB}-config", True)]
    assert (ENDPOINT, "AllTraffic") in stage.autoscaler.targets


def test_new_instance_type_on_an_autoscaled_variant_deregisters_it_before_updating() -> None:
    stage = Stage(store_with_run(dataset_spec=spec(instance_type="ml.c5.xlarge")))
    _with_live(stage, accuracy=0.90)
    stage.autoscaler.register(ENDPOINT, "AllTraffic", 1, 4)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    assert stage.autoscaler.targets == {}
    # The new configuration's instance count applies; configure_autoscaling registers again.
    assert stage.sagemaker.updates == [(ENDPOINT, f"{JOB}-config", False)]


def test_an_autoscaled_variant_the_new_configuration_drops_is_deregistered() -> None:
    stage = Stage()
    stage.store.objects[f"models/{ENDPOINT}/model.json"] = live_model().model_dump_json().encode()
    stage.sagemaker.put_endpoint(
        "InService",
        OLD_CONFIG._replace(variants=[Variant("Blue", "sagechain-older-run-train", "ml.m5.large")]),
    )
    stage.autoscaler.register(ENDPOINT, "Blue", 1, 2)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    assert stage.autoscaler.calls["DeregisterScalableTarget"] == 1
    assert stage.sagemaker.updates[0][2] is False


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_busy_endpoint_queues_the_deployment_and_returns(status: str) -> None:
    stage = Stage()
    stage.sagemaker.put_endpoint(status, OLD_CONFIG)
    stage.sagemaker.add_job(completed_job())

    outcome = stage.run(training_change())

    assert outcome.outcome == "Deployment Waiting"
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentWaiting)
    assert (event.endpoint_status, event.waiting_behind) == (status, 0)
    # The model and its configuration exist already; the endpoint is not touched.
    assert stage.sagemaker.calls["CreateModel"] == 1
    assert stage.sagemaker.calls["UpdateEndpoint"] == 0
    [pending] = [k for k in stage.store.objects if k.startswith(f"models/{ENDPOINT}/pending/")]
    assert pending.endswith(f"-{RUN}.json")


def test_a_deleting_endpoint_is_retried() -> None:
    stage = Stage()
    stage.sagemaker.put_endpoint("Deleting", OLD_CONFIG)
    stage.sagemaker.add_job(completed_job())

    with pytest.raises(RetryableError, match="Deleting"):
        stage.run(training_change())


@pytest.mark.parametrize("status", ["Failed", "UpdateRollbackFailed", "OutOfService"])
def test_broken_endpoint_fails_the_deployment_with_its_reason(status: str) -> None:
    stage = Stage()
    stage.sagemaker.put_endpoint(status, OLD_CONFIG, reason="The primary container failed ping health check.")
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert "failed ping health check" in event.reason
    assert f"delete-endpoint --endpoint-name {ENDPOINT}" in event.reason
    assert stage.sagemaker.calls["UpdateEndpoint"] == 0


def test_duplicate_completion_creates_and_updates_nothing_twice() -> None:
    # Given a completion already deployed (the idempotency record has expired, say)
    stage = Stage()
    _with_live(stage, accuracy=0.9)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))
    stage.run(training_change())

    # When the same event arrives again, while updating and after
    stage.run(training_change())
    stage.sagemaker.finish()
    stage.run(training_change())

    # Then the model, its configuration and the update happened once
    assert stage.sagemaker.calls["CreateModel"] == 1
    assert stage.sagemaker.calls["CreateEndpointConfig"] == 1
    assert stage.sagemaker.calls["UpdateEndpoint"] == 1
    assert stage.sagemaker.calls["CreateEndpoint"] == 0
    # And each delivery still says the deployment started (none is lost to a crash)
    assert len(stage.publisher.events) == 3


def test_duplicate_first_completion_creates_one_endpoint() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())
    stage.run(training_change())

    assert stage.sagemaker.calls["CreateModel"] == 1
    assert stage.sagemaker.calls["CreateEndpoint"] == 1
    assert [e.action for e in stage.publisher.events if isinstance(e, DeploymentStarted)] == [
        "create",
        "create",
    ]


def test_the_run_is_found_by_the_jobs_tag_when_the_event_has_none() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change(tagged=False))

    assert stage.sagemaker.calls["ListTags"] == 1
    assert isinstance(stage.publisher.events[0], DeploymentStarted)


def test_jobs_of_no_sagechain_run_are_ignored() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job(), run_id=None)

    outcome = stage.run(training_change(tagged=False))

    assert outcome.outcome == "ignored"  # type: ignore[attr-defined]
    assert stage.publisher.events == []


def test_a_failed_single_job_deploys_nothing() -> None:
    stage = Stage()
    stage.sagemaker.add_job(ended_job(JOB, "Failed"))

    stage.run(training_change(status="Failed"))

    assert stage.publisher.events == []
    assert stage.sagemaker.calls["CreateModel"] == 0


# ---------------------------------------------------------------- tuning
TUNING = "sagechain-flowers-8b39944c-tune"
CHILDREN = [f"{TUNING}-00{i}-1a2b3c4d" for i in (1, 2, 3)]


def _tuning_stage() -> Stage:
    stage = Stage(store_with_run(plan(job_names=[], tuning_job_name=TUNING)))
    tuning_arn = f"{ARN}:hyper-parameter-tuning-job/{TUNING}"
    for name, accuracy in zip(CHILDREN, (0.88, 0.94, 0.91), strict=True):
        stage.sagemaker.add_job(completed_job(name, accuracy, tuning=tuning_arn))
    stage.sagemaker.tuning[TUNING] = TuningOutcome(
        TUNING, tuning_arn, "Completed", CHILDREN[1], "validation:accuracy", 0.94
    )
    stage.sagemaker.resource_tags[tuning_arn] = resource_tags(RUN, STACK_NAME)
    return stage


def test_tuning_completion_deploys_its_best_training_job() -> None:
    stage = _tuning_stage()

    stage.run(tuning_change(TUNING))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.training_job_name, event.metric_value) == (CHILDREN[1], 0.94)
    assert list(stage.sagemaker.models) == [CHILDREN[1]]


def test_training_jobs_of_a_tuning_job_leave_the_decision_to_it() -> None:
    stage = _tuning_stage()

    for child in CHILDREN:
        stage.run(training_change(child))

    assert stage.publisher.events == []
    assert stage.sagemaker.calls["CreateModel"] == 0


def test_tuning_without_a_best_job_is_rejected() -> None:
    stage = _tuning_stage()
    stage.sagemaker.tuning[TUNING] = stage.sagemaker.tuning[TUNING]._replace(best_training_job=None)

    stage.run(tuning_change(TUNING))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert "without a best training job" in event.reason


# ---------------------------------------------------------------- several hyperparameter sets
SIBLINGS = [f"sagechain-{RUN}-set-{i}" for i in (1, 2, 3)]


def _siblings_stage(accuracies: dict[str, float]) -> Stage:
    stage = Stage(store_with_run(plan(job_names=SIBLINGS)))
    for name in SIBLINGS:
        stage.sagemaker.add_job(ended_job(name, "InProgress"))
    for name, accuracy in accuracies.items():
        stage.sagemaker.add_job(completed_job(name, accuracy))
    return stage


def _end(stage: Stage, name: str, status: str = "Completed", accuracy: float = 0.9) -> None:
    job = completed_job(name, accuracy) if status == "Completed" else ended_job(name, status)
    stage.sagemaker.add_job(job)
    stage.run(training_change(name, status))


def test_siblings_wait_for_the_last_to_end_then_the_best_goes_live() -> None:
    stage = _siblings_stage({})

    _end(stage, SIBLINGS[0], accuracy=0.90)
    _end(stage, SIBLINGS[1], accuracy=0.96)
    assert stage.publisher.events == []
    assert stage.sagemaker.calls["CreateModel"] == 0
    _end(stage, SIBLINGS[2], "Failed")

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.training_job_name, event.metric_value) == (SIBLINGS[1], 0.96)


def test_for_a_loss_the_lowest_sibling_wins() -> None:
    loss = plan(job_names=SIBLINGS, objective_metric="validation:loss", objective_type="Minimize")
    stage = Stage(store_with_run(loss))
    for name, value in zip(SIBLINGS, (0.5, 0.2, 0.3), strict=True):
        stage.sagemaker.add_job(completed_job(name)._replace(metrics={"validation:loss": value}))

    for name in SIBLINGS:
        stage.run(training_change(name))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.training_job_name == SIBLINGS[1]


def test_a_sibling_whose_event_was_lost_is_asked_once_the_others_end() -> None:
    # Given siblings 1 and 2 already ended, whose events never came
    stage = _siblings_stage({SIBLINGS[0]: 0.97, SIBLINGS[1]: 0.9})

    # When the third one's event arrives
    _end(stage, SIBLINGS[2], accuracy=0.92)

    # Then SageMaker is asked about the others and the best of all three goes live
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.training_job_name == SIBLINGS[0]


def test_only_one_sibling_decides_even_when_two_see_all_ended() -> None:
    # Given every sibling already ended (events delivered late, out of order, twice)
    stage = _siblings_stage({SIBLINGS[0]: 0.9, SIBLINGS[1]: 0.95, SIBLINGS[2]: 0.91})

    for name in (SIBLINGS[2], SIBLINGS[0], SIBLINGS[1], SIBLINGS[0]):
        stage.run(training_change(name))

    assert stage.sagemaker.calls["CreateEndpoint"] == 1
    assert len(stage.publisher.events) == 1


def test_siblings_that_all_failed_reject_the_run_naming_each() -> None:
    stage = _siblings_stage({})

    _end(stage, SIBLINGS[0], "Failed")
    _end(stage, SIBLINGS[1], "Stopped")
    _end(stage, SIBLINGS[2], "Failed")

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert f"{SIBLINGS[1]} Stopped" in event.reason


def test_training_json_as_start_training_serialises_it_is_read() -> None:
    # Given training.json as JSON on disk, in start_training's TrainingRecord form
    record = {
        "run_id": RUN,
        "dataset": "flowers",
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "label_attribute": "label",
        "labeling_job_name": None,
        "algorithm": "builtin",
        "training_image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
        "mode": "single",
        "job_names": [JOB],
        "tuning_job_name": None,
        "hyperparameters": [{"num_classes": "2"}],
        "objective": {"name": "validation:accuracy", "type": "Maximize"},
        "train_manifest_uri": f"s3://bucket/runs/{RUN}/train.manifest",
        "validation_manifest_uri": f"s3://bucket/runs/{RUN}/validation.manifest",
        "output_uri": f"s3://bucket/runs/{RUN}/training/",
        "train_objects": 8,
        "validation_objects": 2,
        "dropped": {},
        "class_split": {},
        "created_at": "2026-11-25T00:00:00Z",
    }
    store = store_with_run()
    store.objects[f"runs/{RUN}/training.json"] = json.dumps(record).encode()
    stage = Stage(store)
    stage.sagemaker.add_job(completed_job(accuracy=0.92))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.metric_name, event.metric_value) == ("validation:accuracy", 0.92)
    assert stage.sagemaker.models[JOB]["image"] == record["training_image"]


def test_another_datasets_endpoint_is_refused_even_past_the_upload_check() -> None:
    stage = Stage()
    roses = live_model(accuracy=0.5).model_copy(update={"dataset": "roses", "run_id": "roses-run"})
    stage.store.objects[f"models/{ENDPOINT}/model.json"] = roses.model_dump_json().encode()
    stage.sagemaker.put_endpoint("InService", OLD_CONFIG)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert "endpoint of dataset 'roses'" in event.reason
    assert stage.sagemaker.calls["CreateModel"] == 0
    assert stage.sagemaker.calls["UpdateEndpoint"] == 0


def test_a_spec_json_beyond_the_endpoint_bounds_is_refused() -> None:
    config = replace(CONFIG, allowed_endpoint_instance_types=("ml.m5.large",), max_endpoint_instances=1)
    stage = Stage(config=config)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert "stack parameter MaxEndpointInstances" in event.reason
    assert stage.sagemaker.calls["CreateModel"] == 0
