"""configure_autoscaling's service on in-memory SageMaker, autoscaling and bucket."""

from decimal import Decimal

import pytest

from sagechain.deployment.bookkeeping import Outcome
from sagechain.deployment.configure_autoscaling import AutoscalingConfig, configure_autoscaling
from sagechain.errors import RequestRefusedError
from sagechain.event_sources.sagemaker import StateChange
from sagechain.events import DeploymentFailed, ModelLive
from sagechain.names import resource_tags
from sagechain.ports import EndpointConfig, Variant
from sagechain.records import ModelInfo
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    JOB,
    RUN,
    FakeSageMaker,
    endpoint_change,
    live_model,
    run_model,
    spec,
    store_with_run,
)
from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.runs import STACK_NAME

CONFIG = AutoscalingConfig("sagechain", "https://api.example.com/v1/models/{model}/predict", STACK_NAME)
NEW = EndpointConfig(
    f"{JOB}-config", f"{ARN}:endpoint-config/{JOB}-config", [Variant("AllTraffic", JOB, "ml.m5.large")]
)
OLD = EndpointConfig(
    "sagechain-older-run-train-config",
    f"{ARN}:endpoint-config/sagechain-older-run-train-config",
    [Variant("AllTraffic", "sagechain-older-run-train", "ml.m5.large")],
)


class Stage:
    """One configure_autoscaling setup after deploy_model started this run's deployment."""

    def __init__(self, store: MemoryDeploymentStore | None = None, in_flight: bool = True) -> None:
        self.sagemaker = FakeSageMaker()
        self.autoscaler = self.sagemaker.scaling
        self.store = store or store_with_run()
        self.publisher = RecordingPublisher()
        info = run_model().model_dump_json().encode()
        self.store.objects[f"runs/{RUN}/model.json"] = info
        if in_flight:
            self.store.objects[f"models/{ENDPOINT}/deploying.json"] = info
        self.sagemaker.resource_tags[NEW.arn] = resource_tags(RUN, STACK_NAME)
        self.sagemaker.put_endpoint("InService", NEW)

    def run(self, change: StateChange) -> Outcome:
        return configure_autoscaling(
            change, self.sagemaker, self.sagemaker, self.autoscaler, self.store, self.publisher, CONFIG
        )

    @property
    def live(self) -> ModelInfo | None:
        raw = self.store.objects.get(f"models/{ENDPOINT}/model.json")
        return None if raw is None else ModelInfo.model_validate_json(raw)


def test_endpoint_in_service_gets_autoscaling_from_the_spec_and_its_model_goes_live() -> None:
    # Given deploy_model created the endpoint for this run, with the spec's scaling settings
    stage = Stage(
        store_with_run(
            dataset_spec=spec(
                min_instances=2,
                max_instances=5,
                target_invocations_per_instance=120,
                scale_in_cooldown_seconds=600,
                scale_out_cooldown_seconds=30,
            )
        )
    )

    # When SageMaker says it is in service (spelled the event's way)
    stage.run(endpoint_change("IN_SERVICE"))

    # Then the variant scales between the spec's bounds on invocations per instance
    assert stage.autoscaler.targets[(ENDPOINT, "AllTraffic")] == (2, 5)
    assert stage.autoscaler.policies[(ENDPOINT, "AllTraffic")] == (
        "sagechain-invocations-per-instance",
        120,
        600,
        30,
    )
    # And the run's model is the live one, with what it bills per hour, the deployment no longer in flight
    assert stage.live is not None
    assert stage.live.model_copy(update={"hourly_cost": None, "endpoint_config_name": None}) == run_model()
    cost = stage.live.hourly_cost
    assert cost is not None
    assert (cost.usd_per_instance_hour, cost.min_usd_per_hour, cost.max_usd_per_hour) == (
        Decimal("0.115"),
        Decimal("0.23"),
        Decimal("0.58"),
    )
    assert f"models/{ENDPOINT}/deploying.json" not in stage.store.objects
    # And Model Live tells where to send images
    [event] = stage.publisher.events
    assert isinstance(event, ModelLive)
    assert event.predict_url == f"https://api.example.com/v1/models/{ENDPOINT}/predict"
    assert (event.instance_type, event.min_instances, event.max_instances) == ("ml.m5.large", 2, 5)
    assert (event.run_id, event.model_name) == (RUN, JOB)
    # And what the endpoint costs per hour, and which configuration to delete with it
    assert event.hourly_cost == cost
    assert event.endpoint_config_name == NEW.name


def test_defaults_scale_between_one_and_two_instances_at_fifty_invocations() -> None:
    stage = Stage()

    stage.run(endpoint_change())

    assert stage.autoscaler.targets[(ENDPOINT, "AllTraffic")] == (1, 2)
    assert stage.autoscaler.policies[(ENDPOINT, "AllTraffic")][1:] == (50, 300, 60)


@pytest.mark.parametrize("spelling", ["IN_SERVICE", "InService", "in_service", "INSERVICE"])
def test_in_service_is_recognised_however_it_is_spelled(spelling: str) -> None:
    stage = Stage()

    stage.run(endpoint_change(spelling))

    assert isinstance(stage.publisher.events[0], ModelLive)


@pytest.mark.parametrize(
    "status",
    ["CREATING", "UPDATING", "SYSTEM_UPDATING", "ROLLING_BACK", "DELETING", "DELETED", "OUT_OF_SERVICE"],
)
def test_other_endpoint_statuses_change_nothing(status: str) -> None:
    stage = Stage()

    outcome = stage.run(endpoint_change(status))

    assert outcome.outcome == "ignored"
    assert stage.publisher.events == []
    assert stage.autoscaler.calls.total() == 0
    assert stage.live is None


@pytest.mark.parametrize("status", ["FAILED", "UPDATE_ROLLBACK_FAILED", "UpdateRollbackFailed"])
def test_failed_endpoint_fails_the_deployment_in_flight_with_sagemakers_reason(status: str) -> None:
    stage = Stage()
    stage.sagemaker.put_endpoint("Failed", NEW, reason="Image does not exist or is not accessible.")

    stage.run(endpoint_change(status))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert event.run_id == RUN
    assert "Image does not exist or is not accessible." in event.reason
    assert f"models/{ENDPOINT}/deploying.json" not in stage.store.objects
    assert stage.live is None


def test_failed_endpoint_without_a_deployment_in_flight_names_the_configurations_run() -> None:
    stage = Stage(in_flight=False)
    stage.sagemaker.put_endpoint("Failed", NEW, reason=None)

    stage.run(endpoint_change("FAILED"))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert event.run_id == RUN
    assert "SageMaker gave no reason" in event.reason


def test_a_failure_of_a_deleted_configuration_is_dropped_and_its_run_told_once_without_raising() -> None:
    # Given the endpoint's failed configuration was deleted (DescribeEndpointConfig cannot answer)
    stage = Stage(in_flight=False)
    stage.sagemaker.put_endpoint("Failed", NEW, reason=None)
    del stage.sagemaker.configs[NEW.name]
    change = endpoint_change("FAILED").model_copy(update={"tags": resource_tags(RUN, STACK_NAME)})

    # When its failure event arrives
    outcome = stage.run(change)

    # Then the run that owns the endpoint is told, and nothing raises for a retry
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert event.run_id == RUN
    assert "no longer exists" in event.reason
    assert outcome.outcome == "dropped"


def test_late_in_service_event_for_a_configuration_no_longer_running_is_ignored() -> None:
    # Given the endpoint already moved on to another configuration
    stage = Stage()
    stage.sagemaker.put_endpoint("Updating", NEW)

    # When an old IN_SERVICE event about the earlier configuration arrives
    outcome = stage.run(endpoint_change("IN_SERVICE", config=OLD.name))

    # Then nothing is promoted or registered
    assert outcome.outcome == "ignored"
    assert "stale" in (outcome.reason or "")
    assert stage.live is None
    assert stage.autoscaler.calls.total() == 0


def test_back_in_service_after_maintenance_confirms_autoscaling_without_a_second_announcement() -> None:
    stage = Stage()
    stage.run(endpoint_change())

    # SageMaker's own update (SYSTEM_UPDATING) ends with another IN_SERVICE, days later
    outcome = stage.run(endpoint_change())

    assert outcome.outcome == "autoscaling confirmed"
    assert len(stage.publisher.events) == 1
    assert stage.autoscaler.calls["RegisterScalableTarget"] == 2


def test_update_that_rolled_back_fails_the_new_run_and_keeps_the_old_model_live() -> None:
    # Given the old model is live, and deploy_model started an update to this run's model
    stage = Stage()
    stage.store.objects[f"models/{ENDPOINT}/model.json"] = live_model().model_dump_json().encode()
    stage.store.objects["runs/older-run/model.json"] = live_model().model_dump_json().encode()
    stage.store.objects["runs/older-run/training.json"] = stage.store.objects[f"runs/{RUN}/training.json"]
    stage.store.objects["runs/older-run/spec.json"] = stage.store.objects[f"runs/{RUN}/spec.json"]
    stage.sagemaker.resource_tags[OLD.arn] = resource_tags("older-run", STACK_NAME)
    stage.sagemaker.put_endpoint(
        "InService", OLD, reason="Update failed: the new model failed health checks."
    )

    # When the endpoint comes back in service on the old configuration
    stage.run(endpoint_change("IN_SERVICE", config=OLD.name))

    # Then the run in flight hears its deployment failed, and nothing else is announced
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert event.run_id == RUN
    assert "instead of" in event.reason
    assert "failed health checks" in event.reason
    assert stage.live == live_model()
    assert f"models/{ENDPOINT}/deploying.json" not in stage.store.objects


def test_endpoint_configuration_not_made_by_sagechain_is_left_alone() -> None:
    stage = Stage()
    stage.sagemaker.resource_tags[NEW.arn] = {}

    outcome = stage.run(endpoint_change())

    assert outcome.outcome == "ignored"
    assert stage.autoscaler.calls.total() == 0


OLDEST = EndpointConfig(
    "sagechain-oldest-run-train-config",
    f"{ARN}:endpoint-config/sagechain-oldest-run-train-config",
    [Variant("AllTraffic", "sagechain-oldest-run-train", "ml.m5.large")],
)


def stage_with_two_earlier_models(oldest_stack: str = STACK_NAME) -> Stage:
    """The older run's model is live; the oldest run's model is kept as its previous one."""
    stage = Stage()
    oldest = live_model("sagechain-oldest-run-train").model_copy(
        update={"run_id": "oldest-run", "endpoint_config_name": OLDEST.name}
    )
    older = live_model().model_copy(update={"endpoint_config_name": OLD.name, "previous": oldest})
    stage.store.objects[f"models/{ENDPOINT}/model.json"] = older.model_dump_json().encode()
    for config in (OLD, OLDEST):
        stage.sagemaker.configs[config.name] = config
        stage.sagemaker.models[config.variants[0].model_name] = {}
    stage.sagemaker.resource_tags[OLD.arn] = resource_tags("older-run", STACK_NAME)
    stage.sagemaker.resource_tags[OLDEST.arn] = resource_tags("oldest-run", oldest_stack)
    return stage


def test_going_live_deletes_the_model_two_deployments_back_and_keeps_the_previous_for_rollback() -> None:
    # Given a live model with a previous one kept for a rollback
    stage = stage_with_two_earlier_models()

    # When the run's new model goes live
    stage.run(endpoint_change())

    # Then the oldest configuration and model are deleted; the one live until now becomes the previous
    assert set(stage.sagemaker.configs) == {NEW.name, OLD.name}
    assert set(stage.sagemaker.models) == {"sagechain-older-run-train"}
    assert stage.live is not None
    assert stage.live.endpoint_config_name == NEW.name
    assert stage.live.previous is not None
    assert (stage.live.previous.model_name, stage.live.previous.endpoint_config_name) == (
        "sagechain-older-run-train",
        OLD.name,
    )
    assert stage.live.previous.previous is None


def test_a_superseded_configuration_another_stack_tagged_is_kept() -> None:
    stage = stage_with_two_earlier_models(oldest_stack="another-stack")

    stage.run(endpoint_change())

    assert OLDEST.name in stage.sagemaker.configs
    assert stage.sagemaker.calls["DeleteModel"] == 0
    assert isinstance(stage.publisher.events[-1], ModelLive)


def test_a_refused_deletion_does_not_keep_the_model_from_going_live() -> None:
    stage = stage_with_two_earlier_models()

    def refuse(name: str) -> None:
        raise RequestRefusedError("DeleteModel", "AccessDeniedException", "not authorized")

    stage.sagemaker.delete_model = refuse  # type: ignore[method-assign]

    stage.run(endpoint_change())

    assert isinstance(stage.publisher.events[-1], ModelLive)
    assert stage.live is not None
    assert stage.live.model_name == JOB
