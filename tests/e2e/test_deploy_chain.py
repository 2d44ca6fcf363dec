"""From a finished training job to a live, autoscaled endpoint, offline and wired from template.yaml:
SageMaker's events reach deploy_model and configure_autoscaling only through the template's rules."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from local.stack import PHYSICAL, LocalStack
from local.template import STACK_NAME
from moto import mock_aws

from sagechain.adapters import clients
from sagechain.spec import DatasetSpec
from tests.runs import training_record
from tests.stubs import call_order

pytestmark = pytest.mark.e2e
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ENDPOINT = "sagechain-flowers"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}) as local_stack:
        yield local_stack


def train(stack: LocalStack, run_id: str, hyperparameters: dict[str, str], **deployment: Any) -> str:
    """What start_training leaves behind: the run's spec, its training plan, a running job."""
    s3 = boto3.client("s3")
    job = f"sagechain-{run_id}-train"
    spec = DatasetSpec.model_validate(
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "deployment": {"instance_type": "ml.m5.large", **deployment},
        }
    )
    plan = training_record(run_id=run_id, job_names=[job], training_image=IMAGE)
    s3.put_object(Bucket=stack.bucket, Key=f"runs/{run_id}/spec.json", Body=spec.model_dump_json().encode())
    s3.put_object(
        Bucket=stack.bucket, Key=f"runs/{run_id}/training.json", Body=plan.model_dump_json().encode()
    )
    lines = [
        {"source-ref": f"s3://{stack.bucket}/datasets/flowers/images/{i}.png", "label": i % 2}
        | {"label-metadata": {"class-name": ["rose", "tulip"][i % 2]}}
        for i in range(4)
    ]
    manifest = f"runs/{run_id}/train.manifest"
    s3.put_object(Bucket=stack.bucket, Key=manifest, Body="\n".join(json.dumps(x) for x in lines).encode())
    boto3.client("sagemaker").create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
        RoleArn=PHYSICAL["SageMakerExecutionRole.Arn"],
        HyperParameters=hyperparameters,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "AugmentedManifestFile",
                        "S3Uri": f"s3://{stack.bucket}/{manifest}",
                        "AttributeNames": ["source-ref", "label"],
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{stack.bucket}/runs/{run_id}/training/"},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=[{"Key": "sagechain:run-id", "Value": run_id}, {"Key": "sagechain:stack", "Value": STACK_NAME}],
    )
    return job


def sagechain_events(stack: LocalStack) -> list[str]:
    return [e["detail-type"] for e in stack.observed]


def scalable_targets() -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = boto3.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    return targets


def live_model(stack: LocalStack) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=stack.bucket, Key=f"models/{ENDPOINT}/model.json")["Body"]
    result: dict[str, Any] = json.loads(body.read())
    return result


def test_completed_training_becomes_a_live_autoscaled_endpoint(stack: LocalStack) -> None:
    job = train(stack, "flowers-run1", {"epochs": "10"}, min_instances=1, max_instances=3)

    deliveries = stack.run_until_quiet()

    assert stack.failures == []
    assert sagechain_events(stack) == ["Deployment Started", "Model Live"]
    started, live = (e["detail"] for e in stack.observed)
    assert (started["action"], started["endpoint_name"]) == ("create", ENDPOINT)
    assert (live["min_instances"], live["max_instances"]) == (1, 3)
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in scalable_targets()] == [
        (f"endpoint/{ENDPOINT}/variant/AllTraffic", 1, 3)
    ]
    assert live_model(stack)["training_job_name"] == job
    functions = {d.function for d in deliveries}
    assert {"DeployModelFunction", "ConfigureAutoscalingFunction"} <= functions


def test_a_second_run_below_the_minimum_leaves_the_first_model_live(stack: LocalStack) -> None:
    first = train(stack, "flowers-run1", {"epochs": "10"})
    stack.run_until_quiet()

    train(stack, "flowers-run2", {"epochs": "20"}, min_objective_metric=0.99)
    stack.run_until_quiet()

    assert sagechain_events(stack) == ["Deployment Started", "Model Live", "Deployment Rejected"]
    rejected = stack.observed[-1]["detail"]
    assert rejected["minimum"] == 0.99
    assert rejected["metric_value"] < 0.99
    assert live_model(stack)["training_job_name"] == first


def test_a_new_instance_type_moves_autoscaling_with_the_update(stack: LocalStack) -> None:
    train(stack, "flowers-run1", {"epochs": "10"}, max_instances=2)
    stack.run_until_quiet()
    # The functions' clients, as their containers cached them.
    calls = call_order(clients.sagemaker_client(), clients.autoscaling_client())

    second = train(
        stack,
        "flowers-run2",
        {"epochs": "20"},
        instance_type="ml.c5.xlarge",
        max_instances=4,
    )
    stack.run_until_quiet()

    assert stack.failures == []
    assert sagechain_events(stack) == ["Deployment Started", "Model Live", "Deployment Started", "Model Live"]
    assert stack.observed[2]["detail"]["action"] == "update"
    assert stack.observed[3]["detail"]["instance_type"] == "ml.c5.xlarge"
    assert [t["MaxCapacity"] for t in scalable_targets()] == [4]
    assert live_model(stack)["training_job_name"] == second
    # Autoscaling forbids changing a registered variant's instance type: out, update, back in.
    watched = {"DeregisterScalableTarget", "UpdateEndpoint", "RegisterScalableTarget"}
    assert [c for c in calls if c in watched] == [
        "DeregisterScalableTarget",
        "UpdateEndpoint",
        "RegisterScalableTarget",
    ]
