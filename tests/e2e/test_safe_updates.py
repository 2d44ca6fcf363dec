"""Safe model updates on a live, autoscaled endpoint, offline (issue 16): blue/green updates shift traffic
as the spec says, roll back on the stack's alarms, and never run fewer instances than before."""

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from local.outbox import published
from local.stack import PHYSICAL, LocalStack
from local.template import STACK_NAME

from tests.e2e.test_deploy_chain import ENDPOINT, live_model, sagechain_events, scalable_targets, train

pytestmark = pytest.mark.e2e
CANARY = {"strategy": "canary", "size": 50, "wait_minutes": 5, "baking_minutes": 5}


def emails() -> list[tuple[str, str]]:
    return [(subject or "", message) for subject, message in published(PHYSICAL["NotificationTopic"])]


def last(stack: LocalStack, detail_type: str) -> dict[str, Any]:
    details: list[dict[str, Any]] = [e["detail"] for e in stack.observed if e["detail-type"] == detail_type]
    return details[-1]


def alarms_of(endpoint: str) -> dict[str, dict[str, Any]]:
    cloudwatch = boto3.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{endpoint}-rollback-")["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def test_a_canary_update_completes_and_the_email_says_how_traffic_moved(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, min_instances=2, max_instances=4)
    stack.run_until_quiet()

    second = train(
        stack,
        "flowers-run2",
        {"epochs": "20"},
        min_instances=2,
        max_instances=4,
        rollout=CANARY,
        max_latency_p99_ms=400,
        disable_scale_in=True,
    )
    stack.run_until_quiet()

    assert stack.failures == []
    assert sagechain_events(stack) == ["Deployment Started", "Model Live", "Deployment Started", "Model Live"]
    assert live_model(stack)["training_job_name"] == second
    # UpdateEndpoint asked for a canary of half the new fleet, baking, and the stack's alarms.
    config = stack.sagemaker.endpoints[ENDPOINT]["LastDeploymentConfig"]
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
    }
    assert policy["TerminationWaitInSeconds"] == 300
    named = [alarm["AlarmName"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]]
    alarms = alarms_of(ENDPOINT)
    assert sorted(named) == sorted(alarms)
    assert {f"{ENDPOINT}-rollback-5xx", f"{ENDPOINT}-rollback-latency-p99"} <= set(alarms)
    # The latency alarm watches the new model's p99 ModelLatency (microseconds) at the spec's 400 ms.
    latency = alarms[f"{ENDPOINT}-rollback-latency-p99"]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 400_000.0)
    tags = boto3.client("cloudwatch").list_tags_for_resource(ResourceARN=latency["AlarmArn"])["Tags"]
    assert {"Key": "sagechain:stack", "Value": STACK_NAME} in tags
    # The emulated update went through its phases, both fleets up until the old one was terminated.
    assert min(stack.sagemaker.serving[ENDPOINT]) >= 2
    live = last(stack, "Model Live")
    assert live["traffic"] == (
        "canary 50 % for 5 min, then 100 %; 5 min of baking before the old fleet is terminated; "
        "no alarm fired"
    )
    assert (live["instances_before"], live["instances_after"]) == (2, 2)
    [(_, body)] = [(s, b) for s, b in emails() if "Model live" in s][-1:]
    assert "canary 50 % for 5 min, then 100 %" in body
    assert "2 to 4 instances" in body
    # deployment.disable_scale_in reaches the target-tracking policy.
    [policy_now] = boto3.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="sagemaker"
    )["ScalingPolicies"]
    assert policy_now["TargetTrackingScalingPolicyConfiguration"]["DisableScaleIn"] is True


def test_an_alarm_mid_canary_rolls_the_update_back_and_the_old_model_stays_live(stack: LocalStack) -> None:
    first = train(stack, "flowers-run1", {"epochs": "10"}, min_instances=2, max_instances=4)
    stack.run_until_quiet()
    cloudwatch = boto3.client("cloudwatch")

    def new_model_fails(endpoint: str, phase: str) -> None:
        if phase == "canary":  # the canary serves part of the traffic: its errors trip the alarm
            cloudwatch.set_alarm_state(
                AlarmName=f"{endpoint}-rollback-5xx",
                StateValue="ALARM",
                StateReason="Threshold Crossed: 2 datapoints [0.4, 0.3] were greater than 0.05",
                StateReasonData=json.dumps({"recentDatapoints": [0.4, 0.3], "threshold": 0.05}),
            )

    stack.sagemaker.on_phase = new_model_fails
    train(stack, "flowers-run2", {"epochs": "20"}, min_instances=2, max_instances=4, rollout=CANARY)
    stack.run_until_quiet()

    assert stack.failures == []
    assert sagechain_events(stack) == [
        "Deployment Started",
        "Model Live",
        "Deployment Started",
        "Deployment Rolled Back",
    ]
    rolled = last(stack, "Deployment Rolled Back")
    assert rolled["run_id"] == "flowers-run2"
    assert rolled["live_run_id"] == "flowers-run1"
    [alarm] = rolled["alarms"]
    assert (alarm["alarm_name"], alarm["metric"], alarm["values"]) == (
        f"{ENDPOINT}-rollback-5xx",
        "Invocation5XXErrors",
        [0.4, 0.3],
    )
    # The rolled-back model is never promoted: model.json still names the first run's model.
    assert live_model(stack)["training_job_name"] == first
    assert stack.sagemaker.endpoints[ENDPOINT]["EndpointStatus"] == "InService"
    # Autoscaling is back on the variant that serves.
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in scalable_targets()] == [(2, 4)]
    [body] = [b for s, b in emails() if "rolled back" in s.lower()]
    assert f"{ENDPOINT}-rollback-5xx" in body
    assert "Invocation5XXErrors: 0.4, 0.3 (threshold 0.05)" in body
    assert "stays live" in body
    run = json.loads(stack.api().handle("GET", "/runs/flowers-run2", {}, b"").body)
    assert "Deployment Rolled Back" in [entry["event"] for entry in run["history"]]


def test_an_instance_type_change_never_runs_fewer_instances_than_before(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, min_instances=1, max_instances=4)
    stack.run_until_quiet()
    # Autoscaling grew the endpoint above its minimum.
    stack.sagemaker.scale(ENDPOINT, 3)

    second = train(
        stack,
        "flowers-run2",
        {"epochs": "20"},
        instance_type="ml.c5.xlarge",
        min_instances=1,
        max_instances=4,
        rollout={"strategy": "linear", "size": 34, "wait_minutes": 2, "baking_minutes": 2},
    )
    stack.run_until_quiet()

    assert stack.failures == []
    assert live_model(stack)["training_job_name"] == second
    served = stack.sagemaker.serving[ENDPOINT]
    assert min(served[served.index(3) :]) >= 3
    config = stack.sagemaker.endpoint_configs[stack.sagemaker.endpoints[ENDPOINT]["EndpointConfigName"]]
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 3
    live = last(stack, "Model Live")
    assert (live["instance_type"], live["instances_before"], live["instances_after"]) == (
        "ml.c5.xlarge",
        3,
        3,
    )
    assert live["traffic"].startswith("linear steps of 34 % every 2 min up to 100 %")
    # Registered again with the new variant once it was in service.
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in scalable_targets()] == [(1, 4)]


def test_the_emulator_holds_updates_to_the_guardrails_rules_and_fallbacks(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, min_instances=2, max_instances=4)
    stack.run_until_quiet()
    sagemaker = boto3.client("sagemaker")
    model = live_model(stack)["model_name"]
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            },
            "TerminationWaitInSeconds": 60,
        }
    }

    def config(name: str, variant: str, instance_type: str) -> str:
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InstanceType": instance_type,  # type: ignore[typeddict-item]
                    "InitialInstanceCount": 2,
                }
            ],
        )
        return name

    # Blue/green with guardrails needs the same variant name.
    with pytest.raises(ClientError, match="keep the variant names"):
        sagemaker.update_endpoint(
            EndpointName=ENDPOINT,
            EndpointConfigName=config("renamed", "Blue", "ml.m5.large"),
            DeploymentConfig=canary,  # type: ignore[arg-type]
        )
    # A canary is at most half the new fleet.
    too_big = json.loads(json.dumps(canary))
    too_big["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"]["Value"] = 60
    with pytest.raises(ClientError, match="at most 50%"):
        sagemaker.update_endpoint(
            EndpointName=ENDPOINT,
            EndpointConfigName=config("same", "AllTraffic", "ml.m5.large"),
            DeploymentConfig=too_big,
        )
    # Inf1 endpoints fall back to all at once with no final baking.
    phases: list[str] = []
    stack.sagemaker.on_phase = lambda _endpoint, phase: phases.append(phase)
    sagemaker.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=config("inferentia", "AllTraffic", "ml.inf1.xlarge"),
        DeploymentConfig=canary,  # type: ignore[arg-type]
    )
    while stack.sagemaker.advance():
        pass
    assert phases == ["creating", "full", "terminating"]
    assert stack.sagemaker.endpoints[ENDPOINT]["EndpointConfigName"] == "inferentia"


def test_a_model_arriving_mid_canary_waits_and_then_updates_with_its_own_rollout(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, min_instances=2, max_instances=4)
    stack.run_until_quiet()
    linear = {"strategy": "linear", "size": 50, "wait_minutes": 3, "baking_minutes": 3}
    arrived: list[str] = []

    def third_model_arrives(_endpoint: str, phase: str) -> None:
        if phase == "creating" and not arrived:
            arrived.append(
                train(
                    stack, "flowers-run3", {"epochs": "22"}, min_instances=2, max_instances=4, rollout=linear
                )
            )

    stack.sagemaker.on_phase = third_model_arrives
    train(stack, "flowers-run2", {"epochs": "20"}, min_instances=2, max_instances=4, rollout=CANARY)
    stack.run_until_quiet()

    assert stack.failures == []
    events = sagechain_events(stack)
    assert events.count("Deployment Waiting") == 1
    # Never interleaved: the second model went live before the third one's update started.
    assert events[events.index("Deployment Waiting") :] == [
        "Deployment Waiting",
        "Model Live",
        "Deployment Started",
        "Model Live",
    ]
    assert live_model(stack)["training_job_name"] == arrived[0]
    routing = stack.sagemaker.endpoints[ENDPOINT]["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"]["Type"] == "LINEAR"
    assert last(stack, "Model Live")["traffic"].startswith("linear steps of 50 % every 3 min up to 100 %")


def test_deleting_an_updated_model_deletes_its_rollback_alarms_with_the_endpoint(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, min_instances=2, max_instances=4)
    stack.run_until_quiet()
    train(stack, "flowers-run2", {"epochs": "20"}, min_instances=2, max_instances=4, rollout=CANARY)
    stack.run_until_quiet()
    assert alarms_of(ENDPOINT)

    deleted = stack.api().handle("DELETE", f"/models/{ENDPOINT}", {}, b"")

    assert deleted.status == 200
    assert alarms_of(ENDPOINT) == {}
    assert ENDPOINT not in stack.sagemaker.endpoints
