"""Deleting the stack: its custom resource deletes this stack's endpoints, configurations and models."""

import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack
from local.template import ACCOUNT, REGION, STACK_NAME

from tests.aws import sample_event
from tests.e2e.test_full_chain import kinds, upload_flowers

pytestmark = pytest.mark.e2e

OTHER = "another-stack"
OTHER_MODEL = "sagechain-theirs-model"
OTHER_CONFIG = "sagechain-theirs-config"
OTHER_ENDPOINT = "sagechain-theirs"
OTHER_JOB = "sagechain-theirs-train"
OTHER_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:another-stack-ExpireEndpointFunction"
EXPIRING = {
    "task": "image-classification",
    "labels": ["rose", "tulip"],
    "labeling": {"mode": "ground-truth"},
    "deployment": {"ttl_hours": 1},
}


class CapturedPut:
    """What urlopen was asked to send: the custom resource response CloudFormation would read."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.status = 200

    def urlopen(self, request: Any, timeout: float) -> "CapturedPut":
        self.requests.append(request)
        return self

    def __enter__(self) -> "CapturedPut":
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    @property
    def body(self) -> dict[str, Any]:
        [request] = self.requests
        parsed: dict[str, Any] = json.loads(request.data)
        return parsed


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> CapturedPut:
    captured = CapturedPut()
    monkeypatch.setattr("urllib.request.urlopen", captured.urlopen)
    return captured


def another_stacks_endpoint() -> None:
    """An endpoint, configuration and model with the same prefix, tagged for another stack."""
    sm = boto3.client("sagemaker")
    tags = [{"Key": "sagechain:stack", "Value": OTHER}, {"Key": "sagechain:run-id", "Value": "theirs-1"}]
    sm.create_model(
        ModelName=OTHER_MODEL,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/another-stack-sagemaker",
        PrimaryContainer={"Image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"},
        Tags=tags,
    )
    sm.create_endpoint_config(
        EndpointConfigName=OTHER_CONFIG,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": OTHER_MODEL,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        Tags=tags,
    )
    sm.create_endpoint(EndpointName=OTHER_ENDPOINT, EndpointConfigName=OTHER_CONFIG, Tags=tags)


def test_stack_delete_deletes_only_this_stacks_endpoints_configurations_and_models(
    stack: LocalStack, responses: CapturedPut
) -> None:
    # Given a live model of this stack, and another stack's endpoint with the same prefix
    upload_flowers(stack)
    stack.run_until_quiet()
    live = stack.observed[-1]["detail"]
    another_stacks_endpoint()

    # When CloudFormation sends the custom resource its Delete request
    request = sample_event("teardown", "stack_delete")
    stack.invoke("TeardownFunction", request)

    # Then this stack's endpoint, configuration and model are gone, the other stack's are kept
    assert STACK_NAME != OTHER
    assert set(stack.sagemaker.endpoints) == {OTHER_ENDPOINT}
    assert set(stack.sagemaker.endpoint_configs) == {OTHER_CONFIG}
    assert set(stack.sagemaker.models) == {OTHER_MODEL}
    assert live["endpoint_name"] != OTHER_ENDPOINT
    # And CloudFormation hears SUCCESS at the pre-signed URL, the request's ids copied verbatim
    [put] = responses.requests
    assert (put.full_url, put.get_method()) == (request["ResponseURL"], "PUT")
    assert responses.body["Status"] == "SUCCESS"
    assert {
        k: responses.body[k] for k in ("RequestId", "LogicalResourceId", "StackId", "PhysicalResourceId")
    } == {k: request[k] for k in ("RequestId", "LogicalResourceId", "StackId", "PhysicalResourceId")}


def test_retained_endpoints_survive_the_stack_delete(stack: LocalStack, responses: CapturedPut) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    request = sample_event("teardown", "stack_delete")
    request["ResourceProperties"]["RetainEndpointsOnDelete"] = "true"

    stack.invoke("TeardownFunction", request)

    assert len(stack.sagemaker.endpoints) == 1
    assert responses.body["Status"] == "SUCCESS"


def test_create_does_nothing_and_answers_success_with_a_physical_id(
    stack: LocalStack, responses: CapturedPut
) -> None:
    stack.invoke("TeardownFunction", sample_event("teardown", "stack_create"))

    assert responses.body["Status"] == "SUCCESS"
    assert responses.body["PhysicalResourceId"] == f"{STACK_NAME}-sagemaker-teardown"
    assert stack.sagemaker.calls["ListEndpoints"] == 0


def test_a_failure_still_answers_failed_so_the_stack_never_hangs(
    stack: LocalStack, responses: CapturedPut, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()

    def refuse(_params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("SageMaker is unreachable")

    monkeypatch.setattr(stack.sagemaker, "_op_ListEndpoints", refuse)

    stack.invoke("TeardownFunction", sample_event("teardown", "stack_delete"))

    assert responses.body["Status"] == "FAILED"
    assert "SageMaker is unreachable" in responses.body["Reason"]


def another_stacks_running_job_and_schedule() -> None:
    """A training job in progress and an expiry schedule with this stack's prefix, of another stack."""
    boto3.client("sagemaker").create_training_job(
        TrainingJobName=OTHER_JOB,
        AlgorithmSpecification={
            "TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/theirs:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/another-stack-sagemaker",
        OutputDataConfig={"S3OutputPath": f"s3://{PHYSICAL['DataBucket']}/theirs/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=[{"Key": "sagechain:stack", "Value": OTHER}, {"Key": "sagechain:run-id", "Value": "theirs-1"}],
    )
    boto3.client("scheduler").create_schedule(
        Name=OTHER_ENDPOINT,
        ScheduleExpression="at(2099-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": OTHER_FUNCTION, "RoleArn": "arn:aws:iam::123456789012:role/another-stack-scheduler"},
    )


def schedules() -> set[str]:
    return {s["Name"] for s in boto3.client("scheduler").list_schedules()["Schedules"]}


def scalable_targets() -> list[str]:
    autoscaling = boto3.client("application-autoscaling")
    return [
        t["ResourceId"]
        for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    ]


def delete_stack_mid_training(stack: LocalStack, request: dict[str, Any]) -> str:
    """A live model with an expiry schedule and autoscaling; then a second run, and the stack deleted
    while its training job runs (another stack's job and schedule beside them). The job's name."""
    upload_flowers(stack, EXPIRING)
    stack.run_until_quiet()
    assert schedules()
    assert scalable_targets()
    running: list[str] = []

    def delete_once_training_runs() -> None:
        started = [e["detail"] for e in stack.observed if e["detail-type"] == "Training Started"]
        if len(started) == 2 and not running:
            running.append(started[-1]["job_names"][0])
            another_stacks_running_job_and_schedule()
            stack.invoke("TeardownFunction", request)

    upload_flowers(stack, {**EXPIRING, "training": {}})
    stack.run_until_quiet(on_round=delete_once_training_runs)
    [job] = running
    return job


def test_stack_delete_stops_this_stacks_jobs_and_deletes_its_schedules_and_autoscaling(
    stack: LocalStack, responses: CapturedPut
) -> None:
    # Given a live model with autoscaling and an expiry schedule, and a second run in training
    # When the stack is deleted then
    job = delete_stack_mid_training(stack, sample_event("teardown", "stack_delete"))

    # Then this stack's training job was stopped and nothing of it deployed; another stack's ran on
    assert stack.sagemaker.training[job]["TrainingJobStatus"] == "Stopped"
    assert stack.sagemaker.training[OTHER_JOB]["TrainingJobStatus"] == "Completed"
    assert kinds(stack).count("Deployment Started") == 1
    # And this stack's expiry schedule and autoscaling are gone with its endpoint; another stack's
    # schedule of the same prefix is kept
    assert schedules() == {OTHER_ENDPOINT}
    assert scalable_targets() == []
    assert stack.sagemaker.endpoints == {}
    assert responses.body["Status"] == "SUCCESS"


def test_retained_endpoints_keep_their_autoscaling_but_jobs_stop_and_schedules_go(
    stack: LocalStack, responses: CapturedPut
) -> None:
    request = sample_event("teardown", "stack_delete")
    request["ResourceProperties"]["RetainEndpointsOnDelete"] = "true"

    job = delete_stack_mid_training(stack, request)

    assert stack.sagemaker.training[job]["TrainingJobStatus"] == "Stopped"
    assert schedules() == {OTHER_ENDPOINT}
    assert len(stack.sagemaker.endpoints) == 1
    assert len(scalable_targets()) == 1
    assert responses.body["Status"] == "SUCCESS"
    assert "RetainEndpointsOnDelete is true" in responses.body["Reason"]


def test_out_of_time_it_answers_failed_before_the_function_times_out_and_a_retry_finishes(
    stack: LocalStack, responses: CapturedPut, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a live model, and a function with less time left than one more call and the response
    upload_flowers(stack)
    stack.run_until_quiet()
    with monkeypatch.context() as short_of_time:
        short_of_time.setattr(FakeLambdaContext, "get_remaining_time_in_millis", lambda _self: 100_000)

        # When CloudFormation sends Delete
        stack.invoke("TeardownFunction", sample_event("teardown", "stack_delete"))

    # Then it answers FAILED at once, saying what it had no time for and that deleting again finishes
    assert responses.body["Status"] == "FAILED"
    assert "Ran out of time before finding running tuning jobs" in responses.body["Reason"]
    assert "delete the stack again" in responses.body["Reason"]
    assert len(stack.sagemaker.endpoints) == 1
    # And with time, the stack deletion run again finishes
    responses.requests.clear()
    stack.invoke("TeardownFunction", sample_event("teardown", "stack_delete"))
    assert responses.body["Status"] == "SUCCESS"
    assert stack.sagemaker.endpoints == {}


def delete_stack_once(stack: LocalStack, started: str) -> Callable[[], None]:
    """An on_round hook: CloudFormation's Delete, sent once the chain has announced `started`."""
    sent: list[bool] = []

    def delete() -> None:
        if started in kinds(stack) and not sent:
            sent.append(True)
            stack.invoke("TeardownFunction", sample_event("teardown", "stack_delete"))

    return delete


def test_stack_delete_stops_a_running_labeling_job_and_no_training_starts(
    stack: LocalStack, responses: CapturedPut
) -> None:
    upload_flowers(stack)
    stack.run_until_quiet(on_round=delete_stack_once(stack, "Labeling Started"))

    [job] = stack.sagemaker.labeling.values()
    assert job["LabelingJobStatus"] == "Stopped"
    assert "Training Started" not in kinds(stack)
    assert responses.body["Status"] == "SUCCESS"


def test_stack_delete_stops_a_running_tuning_job(stack: LocalStack, responses: CapturedPut) -> None:
    s3 = boto3.client("s3")
    for name, data in flower_images(per_class=5).items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/flowers/images/{name}", Body=data)
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
        "training": {
            "tuning": {
                "objective_metric": "validation:accuracy",
                "max_jobs": 2,
                "max_parallel_jobs": 1,
                "ranges": [{"name": "learning_rate", "type": "continuous", "min": 0.001, "max": 0.1}],
            }
        },
    }
    s3.put_object(Bucket=stack.bucket, Key="datasets/flowers/dataset.json", Body=json.dumps(spec).encode())

    stack.run_until_quiet(on_round=delete_stack_once(stack, "Training Started"))

    [tuning] = stack.sagemaker.tuning.values()
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert "Deployment Started" not in kinds(stack)
    assert responses.body["Status"] == "SUCCESS"
