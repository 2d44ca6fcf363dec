"""Deleting the stack: its custom resource deletes this stack's endpoints, configurations and models."""

import json
from types import TracebackType
from typing import Any

import boto3
import pytest
from local.stack import LocalStack
from local.template import STACK_NAME

from tests.aws import sample_event
from tests.e2e.test_full_chain import upload_flowers

pytestmark = pytest.mark.e2e

OTHER = "another-stack"
OTHER_MODEL = "sagechain-theirs-model"
OTHER_CONFIG = "sagechain-theirs-config"
OTHER_ENDPOINT = "sagechain-theirs"


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
