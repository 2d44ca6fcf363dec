"""deploy_model's and configure_autoscaling's handlers on the sample events: S3, DynamoDB and
EventBridge on moto, SageMaker and Application Auto Scaling on Stubber-validated clients."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import ANY
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.deployment.bookkeeping import Outcome
from sagechain.event_sources.sagemaker import JobKind, StateChange
from sagechain.events import TrainingStarted
from tests.aws import BUCKET, EventCapture, create_stack_resources, load_handler, sample_event
from tests.deploy_fakes import ARN, ENDPOINT, JOB, RUN, completed_job, plan, run_model, spec
from tests.fakes import MemoryStore
from tests.refusals import missing_endpoint
from tests.runs import bus_event, claim_attempt, run_retried
from tests.stubs import count_calls, refuse, stubbed

# The tag every resource of the stack under test carries (STACK_NAME in tests/conftest.py).
STACK_TAG = {"Key": "sagechain:stack", "Value": "sagechain"}

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, tzinfo=UTC)
CONFIG_NAME = f"{JOB}-config"
ENVIRONMENT = {
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/sagechain-SageMakerExecutionRole",
    "PREDICT_URL_TEMPLATE": "https://api.example.com/v1/models/{model}/predict",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, Any, Any, EventCapture]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with (
        mock_aws(),
        stubbed("sagemaker") as (sagemaker, sm),
        stubbed("application-autoscaling") as (autoscaling, aas),
    ):
        create_stack_resources()
        capture = EventCapture()
        s3 = boto3.client("s3")
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN}/training.json", Body=plan().model_dump_json().encode())
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN}/spec.json", Body=spec().model_dump_json().encode())
        # The handlers build their adapters per invocation from these factories.
        monkeypatch.setattr("sagechain.adapters.sagemaker_hosting.sagemaker_client", lambda: sagemaker)
        monkeypatch.setattr("sagechain.adapters.autoscaling.autoscaling_client", lambda: autoscaling)
        yield sagemaker, sm, autoscaling, aas, capture


def read(key: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    result: dict[str, Any] = json.loads(body)
    return result


def described_job() -> dict[str, Any]:
    return {
        "TrainingJobName": JOB,
        "TrainingJobArn": f"{ARN}:training-job/{JOB}",
        "ModelArtifacts": {"S3ModelArtifacts": completed_job().model_data_url},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": NOW,
        "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": 0.93, "Timestamp": NOW}],
    }


def endpoint(status: str, config: str = CONFIG_NAME) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"{ARN}:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }


def test_documented_completion_event_creates_the_endpoint_once_even_when_delivered_twice(aws: Any) -> None:
    # Given the documented event shape (Tags {}) for a run's completed training job
    sagemaker, sm, _autoscaling, _aas, capture = aws
    calls = count_calls(sagemaker)
    sm.add_response("describe_training_job", described_job(), {"TrainingJobName": JOB})
    sm.add_response(
        "list_tags",
        {
            "Tags": [
                {"Key": "sagechain:run-id", "Value": RUN},
                STACK_TAG,
            ]
        },
        {"ResourceArn": f"{ARN}:training-job/{JOB}"},
    )
    refuse(sm, missing_endpoint("DescribeEndpoint", ENDPOINT))
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{JOB}"})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/{CONFIG_NAME}"})
    sm.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
    handler: ModuleType = load_handler("deploy_model")
    event = sample_event("deploy_model", "training_job_completed")

    # When it arrives twice
    first = handler.handler(event, FakeLambdaContext())
    second = handler.handler(event, FakeLambdaContext())

    # Then one endpoint, one event, and the second delivery answered from the idempotency record
    assert first == second
    assert calls["CreateEndpoint"] == 1
    [published] = capture.received()
    assert published["detail-type"] == "Deployment Started"
    assert published["detail"]["endpoint_name"] == ENDPOINT
    assert read(f"runs/{RUN}/model.json")["labels"] == ["rose", "tulip"]


def test_busy_endpoint_queues_the_deployment_and_the_handler_returns(aws: Any) -> None:
    _sagemaker, sm, _autoscaling, _aas, capture = aws
    handler = load_handler("deploy_model")
    event = sample_event("deploy_model", "training_job_completed_tags_as_list")
    sm.add_response("describe_training_job", described_job())
    sm.add_response("describe_endpoint", endpoint("Updating", "sagechain-older-run-train-config"))
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{JOB}"})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/{CONFIG_NAME}"})

    result = handler.handler(event, FakeLambdaContext())

    assert result["outcome"] == "Deployment Waiting"
    assert [e["detail-type"] for e in capture.received()] == ["Deployment Waiting"]
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"models/{ENDPOINT}/pending/")
    assert [o["Key"].rsplit("-", 1)[-1] for o in listed["Contents"]] == [f"{RUN.rsplit('-', 1)[-1]}.json"]


def test_in_service_event_scales_the_endpoint_and_puts_the_model_live_once(aws: Any) -> None:
    _sagemaker, sm, _autoscaling, aas, capture = aws
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN}/model.json", Body=run_model().model_dump_json().encode())
    s3.put_object(
        Bucket=BUCKET, Key=f"models/{ENDPOINT}/deploying.json", Body=run_model().model_dump_json().encode()
    )
    # The event carries no tags: the endpoint's own say this stack created it.
    sm.add_response("list_tags", {"Tags": [{"Key": "sagechain:run-id", "Value": RUN}, STACK_TAG]})
    sm.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": ENDPOINT})
    sm.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": CONFIG_NAME,
            "EndpointConfigArn": f"{ARN}:endpoint-config/{CONFIG_NAME}",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": JOB,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            "CreationTime": NOW,
        },
    )
    sm.add_response(
        "list_tags",
        {
            "Tags": [
                {"Key": "sagechain:run-id", "Value": RUN},
                STACK_TAG,
            ]
        },
    )
    aas.add_response("register_scalable_target", {})
    aas.add_response(
        "put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"}
    )
    handler = load_handler("configure_autoscaling")
    event = sample_event("configure_autoscaling", "endpoint_in_service")

    handler.handler(event, FakeLambdaContext())
    handler.handler(event, FakeLambdaContext())

    [published] = capture.received()
    assert published["detail-type"] == "Model Live"
    assert published["detail"]["predict_url"] == f"https://api.example.com/v1/models/{ENDPOINT}/predict"
    assert read(f"models/{ENDPOINT}/model.json")["model_name"] == JOB
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/").get("Contents", [])]
    assert keys == [f"models/{ENDPOINT}/model.json"]


def test_an_updating_endpoint_event_is_acknowledged_and_changes_nothing(aws: Any) -> None:
    _sagemaker, _sm, _autoscaling, _aas, capture = aws
    handler = load_handler("configure_autoscaling")

    result = handler.handler(sample_event("configure_autoscaling", "endpoint_updating"), FakeLambdaContext())

    assert result["outcome"] == "ignored"
    assert capture.received() == []


def test_a_run_retried_from_deployment_twice_deploys_attempt_2_once(aws: Any) -> None:
    # Given the run's completed job, no endpoint, and attempt 2 claimed by POST /runs/{run_id}/retry
    sagemaker, sm, _autoscaling, _aas, capture = aws
    calls = count_calls(sagemaker)
    store = MemoryStore(BUCKET)
    claim_attempt(store, 2, "deployment", run_id=RUN)
    for key, body in store.objects.items():
        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    config = f"{CONFIG_NAME}-a2"
    sm.add_response("describe_training_job", described_job(), {"TrainingJobName": JOB})
    refuse(sm, missing_endpoint("DescribeEndpoint", ENDPOINT))
    sm.add_response("create_model", {"ModelArn": f"{ARN}:model/{JOB}"})
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/{config}"},
        {
            "EndpointConfigName": config,
            "ProductionVariants": ANY,
            "Tags": [
                {"Key": "sagechain:attempt", "Value": "2"},
                {"Key": "sagechain:run-id", "Value": RUN},
                STACK_TAG,
            ],
        },
    )
    sm.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
    handler: ModuleType = load_handler("deploy_model")
    retried = bus_event(run_retried(2, "deployment", run_id=RUN))

    # When Run Retried arrives twice
    first = handler.handler(retried, FakeLambdaContext())
    second = handler.handler(dict(retried, id="delivered-again"), FakeLambdaContext())

    # Then one endpoint on attempt 2's configuration, one event of attempt 2
    assert first == second
    assert calls["CreateEndpoint"] == 1
    [published] = capture.received()
    assert (published["detail-type"], published["detail"]["attempt"]) == ("Deployment Started", 2)
    assert published["detail"]["endpoint_config_name"] == config


def test_a_retrys_reused_sibling_is_handled_once_for_its_attempt_not_swallowed_by_attempt_1(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given attempt 1 handled JOB's completion, and attempt 2 reused JOB
    handler: ModuleType = load_handler("deploy_model")
    handled: list[tuple[str, str]] = []
    change = StateChange(
        kind=JobKind.TRAINING, name=JOB, arn=f"{ARN}:training-job/{JOB}", status="Completed", at=NOW
    )

    def deploy_model(change: StateChange, **_: Any) -> Outcome:
        handled.append((change.name, change.status))
        return Outcome("handled")

    monkeypatch.setattr(handler, "deploy_model", deploy_model)
    monkeypatch.setattr(handler, "ended_before_started", lambda *_: [change])
    handler.idempotency.register_lambda_context(FakeLambdaContext())
    handler.deploy(change=change)
    started = TrainingStarted(
        run_id=RUN,
        dataset="flowers",
        attempt=2,
        job_names=[JOB],
        reused_jobs=[JOB],
        algorithm="image-classification",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        spot=False,
        train_objects=8,
        validation_objects=2,
    )

    # When attempt 2's Training Started arrives, twice
    handler.handler(bus_event(started), FakeLambdaContext())
    handler.handler(bus_event(started, "delivered-again"), FakeLambdaContext())

    # Then JOB's ending is handled once for attempt 1 and once for attempt 2
    assert handled == [(JOB, "Completed"), (JOB, "Completed")]
