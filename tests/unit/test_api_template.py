"""The Api in template.yaml, as CloudFormation deploys it: AWS::LanguageExtensions resolves the
ApiAuth switch, then the SAM transform builds the API. Both steps run here offline."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from local.template import parsed_template
from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def deployed(api_auth: str) -> dict[str, Any]:
    """template.yaml after both transforms, for one ApiAuth value."""
    template = parsed_template()
    parameters = {"NotificationEmail": "ml-team@example.com", "ApiAuth": api_auth}
    expanded = expand_language_extensions(template, {**parameters, **PSEUDO}, enabled=True).expanded_template
    expanded = copy.deepcopy(expanded)
    expanded["Transform"] = "AWS::Serverless-2016-10-31"
    for resource in expanded["Resources"].values():
        # Local paths are what `sam package` uploads; the transform wants the S3 form.
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://artifacts/code.zip"
    return transform(expanded, parameters, _NoManagedPolicies())


APIS = ("Api", "OperatorApi")
INFERENCE_ROUTES = {"POST /models/{model}/predict", "GET /openapi.json"}
OPERATOR_ROUTES = {
    "GET /runs",
    "GET /runs/{run_id}",
    "GET /runs/{run_id}/artifacts",
    "GET /models/{model}",
    "GET /models/{model}/batches",
    "GET /models/{model}/batches/{name}",
    "POST /runs/{run_id}/stop",
    "POST /runs/{run_id}/retry",
    "DELETE /models/{model}",
    "POST /models/{model}/rollback",
    "GET /openapi.json",
}


def _rest_api(resources: dict[str, Any], api: str = "Api") -> dict[str, Any]:
    resource = resources[api]
    assert resource["Type"] == "AWS::ApiGateway::RestApi"
    body: dict[str, Any] = resource["Properties"]["Body"]
    return body


def _operations(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op for path, item in body["paths"].items() for method, op in item.items()
    }


def _types(resources: dict[str, Any]) -> set[str]:
    return {r["Type"] for r in resources.values()}


def test_inference_and_operator_routes_are_on_separate_apis() -> None:
    resources = deployed("IAM")["Resources"]

    assert set(_operations(_rest_api(resources, "Api"))) == INFERENCE_ROUTES
    assert set(_operations(_rest_api(resources, "OperatorApi"))) == OPERATOR_ROUTES


@pytest.mark.parametrize("api", APIS)
def test_default_auth_requires_sigv4_on_every_route_and_creates_no_api_key(api: str) -> None:
    resources = deployed("IAM")["Resources"]

    operations = _operations(_rest_api(resources, api))

    assert all(op["security"] == [{"AWS_IAM": []}] for op in operations.values())
    assert not _types(resources) & {"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan"}


@pytest.mark.parametrize("api", APIS)
def test_api_key_auth_requires_the_key_on_every_route_and_creates_key_and_usage_plan(api: str) -> None:
    resources = deployed("API_KEY")["Resources"]

    operations = _operations(_rest_api(resources, api))

    assert all(op["security"] == [{"api_key": []}] for op in operations.values())
    assert resources[f"{api}ApiKey"]["Type"] == "AWS::ApiGateway::ApiKey"
    plan = resources[f"{api}UsagePlan"]["Properties"]
    assert plan["Throttle"] == {"RateLimit": 50, "BurstLimit": 100}
    # The key is in this API's plan only, and the plan covers this API's stage only: API
    # Gateway refuses (403) a key on a stage outside its usage plans.
    [stage] = plan["ApiStages"]
    assert stage["ApiId"] == {"Ref": api}
    assert resources[f"{api}UsagePlanKey"]["Properties"]["KeyId"] == {"Ref": f"{api}ApiKey"}
    assert resources[f"{api}UsagePlanKey"]["Properties"]["UsagePlanId"] == {"Ref": f"{api}UsagePlan"}


def test_api_key_auth_creates_one_key_and_usage_plan_per_api() -> None:
    resources = deployed("API_KEY")["Resources"]

    keys = [name for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::ApiKey"]
    plans = [name for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::UsagePlan"]

    assert sorted(keys) == ["ApiApiKey", "OperatorApiApiKey"]
    assert sorted(plans) == ["ApiUsagePlan", "OperatorApiUsagePlan"]


def test_outputs_name_each_apis_url_key_and_invoke_arn() -> None:
    outputs = deployed("API_KEY")["Outputs"]

    assert outputs["ApiKeyId"]["Value"] == {"Ref": "ApiApiKey"}
    assert outputs["OperatorApiKeyId"]["Value"] == {"Ref": "OperatorApiApiKey"}
    # The transform may have resolved the pseudo parameters of the Fn::Sub already.
    assert "${OperatorApi}.execute-api." in json.dumps(outputs["OperatorApiUrl"]["Value"])
    assert ':${Api}/v1/POST/models/*/predict"' in json.dumps(outputs["InferenceInvokeArn"]["Value"])
    assert ':${OperatorApi}/v1/*"' in json.dumps(outputs["OperatorInvokeArn"]["Value"])


@pytest.mark.parametrize("api_auth", ["IAM", "API_KEY"])
def test_outputs_refer_only_to_resources_that_exist(api_auth: str) -> None:
    template = deployed(api_auth)

    referenced = set(_refs(template["Outputs"]))

    assert referenced <= set(template["Resources"]) | set(template["Parameters"]) | set(PSEUDO) | {
        "AWS::URLSuffix",
        "AWS::StackName",
    }


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return [value["Ref"]]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return [name.split(".")[0] for name in _sub_names(text)]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return [target.split(".")[0] if isinstance(target, str) else target[0]]
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _sub_names(text: str) -> list[str]:
    names, rest = [], text
    while "${" in rest:
        rest = rest.split("${", 1)[1]
        name, rest = rest.split("}", 1)
        names.append(name)
    return names


def test_image_bodies_reach_the_function_as_binary() -> None:
    body = _rest_api(deployed("IAM")["Resources"])

    assert set(body["x-amazon-apigateway-binary-media-types"]) == {
        "image/jpeg",
        "image/png",
        "application/x-image",
    }


@pytest.mark.parametrize("api", APIS)
def test_stage_is_throttled_traced_and_access_logged(api: str) -> None:
    resources = deployed("IAM")["Resources"]

    [stage] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Stage" and r["Properties"]["RestApiId"] == {"Ref": api}
    ]

    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    [settings] = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [f"{api}AccessLogGroup", "Arn"]}
    json.loads(stage["AccessLogSetting"]["Format"])  # one JSON object per request


@pytest.mark.parametrize("api", APIS)
def test_api_gateways_own_errors_use_the_apis_error_shape(api: str) -> None:
    body = _rest_api(deployed("IAM")["Resources"], api)

    responses = body["x-amazon-apigateway-gateway-responses"]

    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["responseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "$context.error.responseType"')
