"""Shared test tooling and the SageMaker error rule behave as the stages rely on."""

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

from sagechain.adapters.sagemaker import is_already_exists
from sagechain.observability import metric_name
from tests.stubs import count_calls, stubbed


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateX")


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("ResourceInUse", "Training job names must be unique", True),
        ("ValidationException", "Cannot create already existing model", True),
        ("ValidationException", "Cannot create already existing endpoint configuration", True),
        ("ValidationException", "1 validation error detected: Value 'x' at 'roleArn'", False),
        ("ThrottlingException", "Rate exceeded", False),
    ],
)
def test_only_name_taken_errors_count_as_already_started(code: str, message: str, expected: bool) -> None:
    assert is_already_exists(_error(code, message)) is expected


def test_stubbed_client_rejects_requests_the_real_api_would_reject() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("list_endpoints", {"Endpoints": []})

        with pytest.raises(ParamValidationError, match="MaxResults"):
            client.list_endpoints(MaxResults="ten")


def test_call_counter_counts_each_operation_sent() -> None:
    with stubbed("sagemaker") as (client, stubber):
        counts = count_calls(client)
        stubber.add_response("list_endpoints", {"Endpoints": []})
        stubber.add_response("list_endpoints", {"Endpoints": []})

        client.list_endpoints()
        client.list_endpoints()

    assert counts["ListEndpoints"] == 2


@pytest.mark.parametrize(
    ("outcome", "name"),
    [
        ("Dataset Prepared", "DatasetPrepared"),
        ("deployment started", "DeploymentStarted"),
        ("EmailsSent", "EmailsSent"),
    ],
)
def test_outcomes_become_camel_case_metric_names(outcome: str, name: str) -> None:
    assert metric_name(outcome) == name


def test_the_worker_portal_is_the_work_teams_subdomain_as_an_https_url() -> None:
    from sagechain.adapters.sagemaker_status import SageMakerStatus  # noqa: PLC0415 - beside its use

    client = boto3.client("sagemaker", region_name="us-east-1")
    team = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers"
    member = {"CognitoMemberDefinition": {"UserPool": "us-east-1_x", "UserGroup": "g", "ClientId": "c"}}
    described = {
        "WorkteamName": "labelers",
        "WorkteamArn": team,
        "Description": "labelers",
        "MemberDefinitions": [member],
        "SubDomain": "dlxbnqlv5o.labeling.us-east-1.sagemaker.aws",
    }
    with Stubber(client) as stubber:
        stubber.add_response("describe_workteam", {"Workteam": described}, {"WorkteamName": "labelers"})
        stubber.add_client_error("describe_workteam", "ResourceNotFound", "Workteam gone does not exist.")

        found = SageMakerStatus(client).worker_portal(team)
        gone = SageMakerStatus(client).worker_portal(team.replace("labelers", "gone"))

    assert found == "https://dlxbnqlv5o.labeling.us-east-1.sagemaker.aws"
    assert gone is None
