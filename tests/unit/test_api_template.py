"""The Api in template.yaml, as CloudFormation deploys it: AWS::LanguageExtensions resolves the
ApiAuth switch, then the SAM transform builds the API. Both steps run here offline."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def deployed(api_auth: str) -> dict[str, Any]:
    """template.yaml after both transforms, for one ApiAuth value."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
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


def _rest_api(resources: dict[str, Any]) -> dict[str, Any]:
    [body] = [r["Properties"]["Body"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    return body


def _operations(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op for path, item in body["paths"].items() for method, op in item.items()
    }


def _types(resources: dict[str, Any]) -> set[str]:
    return {r["Type"] for r in resources.values()}


def test_default_auth_requires_sigv4_on_every_route_and_creates_no_api_key() -> None:
    resources = deployed("IAM")["Resources"]

    operations = _operations(_rest_api(resources))

    assert {"POST /models/{model}/predict", "GET /openapi.json"} <= set(operations)
    assert all(op["security"] == [{"AWS_IAM": []}] for op in operations.values())
    assert not _types(resources) & {"AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan"}


def test_api_key_auth_requires_the_key_on_every_route_and_creates_key_and_usage_plan() -> None:
    resources = deployed("API_KEY")["Resources"]

    operations = _operations(_rest_api(resources))

    assert all(op["security"] == [{"api_key": []}] for op in operations.values())
    assert {
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
    } <= _types(resources)
    plan = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::UsagePlan")["Properties"]
    assert plan["Throttle"] == {"RateLimit": 50, "BurstLimit": 100}


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


def test_stage_is_throttled_traced_and_access_logged() -> None:
    resources = deployed("IAM")["Resources"]

    [stage] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]

    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    [settings] = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    json.loads(stage["AccessLogSetting"]["Format"])  # one JSON object per request


def test_api_gateways_own_errors_use_the_apis_error_shape() -> None:
    body = _rest_api(deployed("IAM")["Resources"])

    responses = body["x-amazon-apigateway-gateway-responses"]

    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["responseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "$context.error.responseType"')
