"""Blue/green update requests and rollback alarms, checked against botocore's service models (Stubber)."""

import json
from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber

from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.alarms import AlarmThresholds, alarm_names, delete_rollback_alarms, rollback_alarms
from sagechain.deployment.bookkeeping import Outcome
from sagechain.deployment.configure_autoscaling import configure_autoscaling
from sagechain.deployment.expiry import ExpiryDue, expire_endpoint
from sagechain.deployment.rollout import plan_update
from sagechain.event_sources.sagemaker import state_change
from sagechain.events import DeploymentFailed, DeploymentRolledBack
from sagechain.names import resource_tags
from sagechain.ports import BlueGreenUpdate, EndpointConfig, FiredAlarm, TrafficShift, Variant
from sagechain.records import RolloutRecord
from sagechain.spec import DeploymentSpec, RolloutSpec
from tests.aws import sample_event
from tests.deploy_fakes import ENDPOINT as FAKE_ENDPOINT
from tests.deploy_fakes import JOB, RUN, FakeAutoscaler, endpoint_change, live_model, run_model
from tests.fakes import RecordingPublisher
from tests.runs import STACK_NAME
from tests.unit.test_configure_autoscaling import CONFIG, OLD, Stage
from tests.unit.test_expiry import DUE, RecordingHosting, expiring_store

ENDPOINT = "sagechain-flowers"
LIVE = EndpointConfig(
    "old",
    "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/old",
    [Variant("AllTraffic", "old-model", "ml.m5.large")],
)
NEW = Variant("AllTraffic", "new-model", "ml.m5.large")
ALARMS = ("sagechain-flowers-rollback-5xx",)
CANARY_TEXT = "canary 10 % for 10 min, then 100 %"


def rollout(**fields: object) -> RolloutSpec:
    return RolloutSpec.model_validate({"baking_minutes": 10, **fields})


def test_a_canary_becomes_a_blue_green_policy_with_baking_timeout_and_alarms() -> None:
    planned = plan_update(rollout(strategy="canary", size=25, wait_minutes=5), LIVE, NEW, 4, ALARMS)

    assert planned.blue_green == BlueGreenUpdate(
        TrafficShift("CANARY", 300, "CAPACITY_PERCENT", 25), 600, 300 + 600 + 3_600, ALARMS
    )
    assert (
        planned.traffic
        == "canary 25 % for 5 min, then 100 %; 10 min of baking before the old fleet is terminated"
    )


def test_linear_steps_in_instances_count_every_wait_in_the_timeout() -> None:
    planned = plan_update(
        rollout(strategy="linear", size_unit="instances", size=2, wait_minutes=10), LIVE, NEW, 6, ALARMS
    )

    assert planned.blue_green is not None
    assert planned.blue_green.traffic == TrafficShift("LINEAR", 600, "INSTANCE_COUNT", 2)
    assert planned.blue_green.max_execution_seconds == 3 * 600 + 600 + 3_600


def test_a_changed_variant_name_falls_back_to_sagemakers_default() -> None:
    planned = plan_update(rollout(strategy="canary"), LIVE, NEW._replace(name="Blue"), 4, ALARMS)

    assert planned.blue_green is None
    assert "need the same variant name" in planned.traffic


def test_inf1_endpoints_fall_back_to_all_at_once_without_baking() -> None:
    planned = plan_update(
        rollout(strategy="canary"), LIVE, NEW._replace(instance_type="ml.inf1.xlarge"), 4, ALARMS
    )

    assert planned.blue_green is None
    assert planned.traffic.startswith("all at once, no baking: ml.inf1.xlarge instances")


def test_a_canary_of_a_one_instance_fleet_bakes_all_at_once_with_the_same_alarms() -> None:
    planned = plan_update(rollout(strategy="canary"), LIVE, NEW, 1, ALARMS)

    assert planned.blue_green is not None
    assert planned.blue_green.traffic == TrafficShift("ALL_AT_ONCE", 0)
    assert planned.blue_green.alarms == ALARMS
    assert planned.traffic.endswith("(canary needs a fleet of at least 2 instances)")


def test_the_rollback_alarms_watch_the_variant_rates_latency_and_the_predict_function() -> None:
    deployment = DeploymentSpec(max_latency_p99_ms=250)

    alarms = rollback_alarms(ENDPOINT, "AllTraffic", deployment, AlarmThresholds(5, "sagechain-predict"))

    by_metric = {alarm.metric: alarm for alarm in alarms}
    assert [a.name for a in alarms] == alarm_names(ENDPOINT)
    assert (by_metric["Invocation5XXErrors"].statistic, by_metric["Invocation5XXErrors"].threshold) == (
        "Average",
        0.05,
    )
    assert (by_metric["ModelLatency"].extended_statistic, by_metric["ModelLatency"].threshold) == (
        "p99",
        250_000.0,
    )
    assert by_metric["Errors"].dimensions == (("FunctionName", "sagechain-predict"),)


def test_alarm_requests_match_cloudwatchs_model_and_fired_alarms_carry_their_values() -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    adapter = CloudWatchAlarms(client)
    [five_xx, *_] = rollback_alarms(ENDPOINT, "AllTraffic", DeploymentSpec(), AlarmThresholds())
    with Stubber(client) as stub:
        stub.add_response(
            "put_metric_alarm",
            {},
            {
                "AlarmName": five_xx.name,
                "AlarmDescription": five_xx.description,
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocation5XXErrors",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Period": 60,
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": 0.05,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "Statistic": "Average",
                "Tags": [{"Key": "sagechain:stack", "Value": "sagechain-demo"}],
            },
        )
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [
                    {
                        "AlarmName": five_xx.name,
                        "MetricName": "Invocation5XXErrors",
                        "StateValue": "ALARM",
                        "StateReason": "Threshold Crossed",
                        "StateReasonData": json.dumps({"recentDatapoints": [0.2, 0.3], "threshold": 0.05}),
                    },
                    {"AlarmName": f"{ENDPOINT}-rollback-4xx", "StateValue": "OK"},
                ]
            },
            {"AlarmNames": alarm_names(ENDPOINT), "AlarmTypes": ["MetricAlarm"]},
        )
        stub.add_response("delete_alarms", {}, {"AlarmNames": alarm_names(ENDPOINT)})

        adapter.put(five_xx, {"sagechain:stack": "sagechain-demo"})
        fired = adapter.firing(alarm_names(ENDPOINT))
        deleted = delete_rollback_alarms(adapter, ENDPOINT)

    [alarm] = fired
    assert (alarm.name, alarm.values, alarm.threshold) == (five_xx.name, (0.2, 0.3), 0.05)
    assert deleted == alarm_names(ENDPOINT)


def test_update_endpoint_sends_a_deployment_config_botocore_accepts() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    update = BlueGreenUpdate(TrafficShift("CANARY", 300, "CAPACITY_PERCENT", 25), 600, 4_500, ALARMS)
    with Stubber(client) as stub:
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}"},
            {
                "EndpointName": ENDPOINT,
                "EndpointConfigName": "new",
                "RetainAllVariantProperties": True,
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration": {
                            "Type": "CANARY",
                            "WaitIntervalInSeconds": 300,
                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                        },
                        "TerminationWaitInSeconds": 600,
                        "MaximumExecutionTimeoutInSeconds": 4_500,
                    },
                    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARMS[0]}]},
                },
            },
        )
        SageMakerHosting(client).update_endpoint(ENDPOINT, "new", True, blue_green=update)


class RecordingAlarms:
    """RollbackAlarms in memory: what was put, fired and deleted."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def put(self, alarm: object, tags: dict[str, str]) -> None:
        raise AssertionError("expiry puts no alarms")

    def firing(self, names: list[str]) -> list[object]:
        return []

    def delete(self, names: list[str]) -> None:
        self.deleted += names


def test_an_expiring_endpoint_takes_its_rollback_alarms_with_it() -> None:
    alarms, publisher = RecordingAlarms(), RecordingPublisher()
    due = ExpiryDue(endpoint_name=FAKE_ENDPOINT, model_name=JOB, run_id=RUN, expires_at=DUE)

    outcome = expire_endpoint(
        due,
        RecordingHosting(),
        FakeAutoscaler(),
        expiring_store(),
        publisher,
        "us-east-1",
        DUE,
        alarms=alarms,
    )

    assert outcome.outcome == "Model Expired"
    assert alarms.deleted == alarm_names(FAKE_ENDPOINT)
    [event] = publisher.events
    assert f"rollback alarms of {FAKE_ENDPOINT}" in event.deleted  # type: ignore[attr-defined]


class FiringAlarms(RecordingAlarms):
    """Rollback alarms of which the named ones are in ALARM."""

    def __init__(self, fired: list[FiredAlarm]) -> None:
        super().__init__()
        self.fired = fired

    def firing(self, names: list[str]) -> list[FiredAlarm]:  # type: ignore[override]
        return [alarm for alarm in self.fired if alarm.name in names]


def back_on_the_old_model(reason: str | None, alarms: RecordingAlarms) -> tuple[Stage, Outcome]:
    """The old model is live, this run's update named the rollback alarms, and the endpoint is back in
    service on the old configuration."""
    stage = Stage()
    in_flight = run_model().model_copy(
        update={
            "rollout": RolloutRecord(
                traffic="canary 10 % for 10 min, then 100 %", alarms=alarm_names(FAKE_ENDPOINT)
            )
        }
    )
    stage.store.objects[f"models/{FAKE_ENDPOINT}/deploying.json"] = in_flight.model_dump_json().encode()
    stage.store.objects[f"models/{FAKE_ENDPOINT}/model.json"] = live_model().model_dump_json().encode()
    stage.store.objects["runs/older-run/model.json"] = live_model().model_dump_json().encode()
    stage.store.objects["runs/older-run/training.json"] = stage.store.objects[f"runs/{RUN}/training.json"]
    stage.store.objects["runs/older-run/spec.json"] = stage.store.objects[f"runs/{RUN}/spec.json"]
    stage.sagemaker.resource_tags[OLD.arn] = resource_tags("older-run", STACK_NAME)
    stage.sagemaker.put_endpoint("InService", OLD, reason=reason)
    outcome = configure_autoscaling(
        endpoint_change("IN_SERVICE", config=OLD.name),
        stage.sagemaker,
        stage.sagemaker,
        stage.autoscaler,
        stage.store,
        stage.publisher,
        CONFIG,
        alarms=alarms,
    )
    return stage, outcome


def test_an_update_rolled_back_by_its_alarm_is_announced_and_the_old_model_stays_live() -> None:
    fired = FiredAlarm(
        f"{FAKE_ENDPOINT}-rollback-latency-p99", "ModelLatency", "Threshold Crossed", (912_000.0,)
    )

    stage, _ = back_on_the_old_model(None, FiringAlarms([fired]))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRolledBack)
    assert (event.run_id, event.model_name, event.live_model_name) == (RUN, JOB, live_model().model_name)
    assert [(a.alarm_name, a.values) for a in event.alarms] == [(fired.name, [912_000.0])]
    assert event.traffic == CANARY_TEXT
    assert stage.live == live_model()
    assert f"models/{FAKE_ENDPOINT}/deploying.json" not in stage.store.objects
    # Autoscaling is confirmed for the variant that serves.
    assert (FAKE_ENDPOINT, "AllTraffic") in stage.autoscaler.targets


def test_an_update_that_fell_back_without_an_alarm_is_still_a_deployment_failure() -> None:
    stage, _ = back_on_the_old_model("Update failed: the new model failed health checks.", RecordingAlarms())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentFailed)
    assert "failed health checks" in event.reason


def test_an_endpoints_return_to_an_earlier_configuration_is_a_new_fact_a_repeat_is_not() -> None:
    # configure_autoscaling is idempotent on [name, config_name, status, failure_reason, modified_at].
    first = sample_event("configure_autoscaling", "endpoint_in_service")
    rolled_back = json.loads(json.dumps(first))
    rolled_back["detail"]["LastModifiedTime"] = first["detail"]["LastModifiedTime"] + 900_000

    def key(event: dict[str, object]) -> tuple[object, ...]:
        change = state_change(event)
        assert change is not None
        return (change.name, change.config_name, change.status, change.failure_reason, change.modified_at)

    assert key(first) == key(json.loads(json.dumps(first)))
    assert key(first) != key(rolled_back)
    assert state_change(first).modified_at == datetime(2020, 6, 17, 16, 39, 54, 287000, tzinfo=UTC)  # type: ignore[union-attr]
