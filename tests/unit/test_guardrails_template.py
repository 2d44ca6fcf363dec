"""The stack's guardrails as IAM enforces them: read from template.yaml, as CloudFormation
resolves it for the operator's parameters (AWS::LanguageExtensions resolves Fn::If, offline)."""

import copy
from pathlib import Path
from typing import Any

import pytest
from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samcli.yamlhelper import yaml_parse

from sagechain.names import STACK_TAG
from sagechain.training import builtin_algorithms

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
STACK_NAME_REF = {"Ref": "AWS::StackName"}


def resolved(**parameters: str) -> dict[str, Any]:
    """The template with the language extensions applied for these parameter values."""
    values = {"NotificationEmail": "ml-team@example.com", **parameters, **PSEUDO}
    return expand_language_extensions(copy.deepcopy(TEMPLATE), values, enabled=True).expanded_template


def function_statements(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    policies = template["Resources"][logical_id]["Properties"].get("Policies", [])
    return [statement for policy in policies for statement in policy["Statement"]]


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def allowing(template: dict[str, Any], logical_id: str, action: str) -> list[dict[str, Any]]:
    found = [
        s
        for s in function_statements(template, logical_id)
        if s["Effect"] == "Allow" and action in actions(s)
    ]
    assert found, f"{logical_id} is never allowed {action}"
    return found


def condition(statement: dict[str, Any], operator: str, key: str) -> Any:
    return statement.get("Condition", {}).get(operator, {}).get(key)


SAGEMAKER_CREATES = {
    "StartLabelingFunction": ["sagemaker:CreateLabelingJob"],
    "StartTrainingFunction": ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"],
    "DeployModelFunction": [
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
    ],
}


# ---------------------------------------------------------------- the stack tag


def test_every_function_knows_its_stack_through_globals() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["STACK_NAME"] == STACK_NAME_REF


@pytest.mark.parametrize(
    ("logical_id", "action"),
    [(logical_id, action) for logical_id, creates in SAGEMAKER_CREATES.items() for action in creates],
)
def test_every_create_requires_this_stacks_tag_in_the_request(logical_id: str, action: str) -> None:
    for statement in allowing(TEMPLATE, logical_id, action):
        assert condition(statement, "StringEquals", f"aws:RequestTag/{STACK_TAG}") == STACK_NAME_REF


@pytest.mark.parametrize("logical_id", list(SAGEMAKER_CREATES))
def test_tags_may_be_added_only_while_creating_and_only_this_stacks(logical_id: str) -> None:
    for statement in allowing(TEMPLATE, logical_id, "sagemaker:AddTags"):
        tagging = condition(statement, "StringEquals", "sagemaker:TaggingAction")
        creates = {tagging} if isinstance(tagging, str) else set(tagging)
        assert creates == {a.split(":")[1] for a in SAGEMAKER_CREATES[logical_id]}
        assert condition(statement, "StringEquals", f"aws:RequestTag/{STACK_TAG}") == STACK_NAME_REF


@pytest.mark.parametrize(
    ("logical_id", "action"),
    [
        ("DeployModelFunction", "sagemaker:UpdateEndpoint"),
        ("DeployModelFunction", "sagemaker:DeleteEndpoint"),
        ("DeployModelFunction", "application-autoscaling:DeregisterScalableTarget"),
        ("ConfigureAutoscalingFunction", "application-autoscaling:PutScalingPolicy"),
        ("ConfigureAutoscalingFunction", "sagemaker:UpdateEndpointWeightsAndCapacities"),
        ("PredictFunction", "sagemaker:InvokeEndpoint"),
    ],
)
def test_actions_on_existing_resources_need_this_stacks_tag_on_them(logical_id: str, action: str) -> None:
    for statement in allowing(TEMPLATE, logical_id, action):
        assert condition(statement, "StringEquals", f"aws:ResourceTag/{STACK_TAG}") == STACK_NAME_REF


def test_scalable_targets_are_registered_with_this_stacks_tag() -> None:
    for action in ("application-autoscaling:RegisterScalableTarget", "application-autoscaling:TagResource"):
        for statement in allowing(TEMPLATE, "ConfigureAutoscalingFunction", action):
            assert condition(statement, "StringEquals", f"aws:RequestTag/{STACK_TAG}") == STACK_NAME_REF


# ---------------------------------------------------------------- the same limits as the spec's


def test_guardrail_parameters_are_declared_as_the_spec_checks_read_them() -> None:
    parameters = TEMPLATE["Parameters"]

    assert parameters["AllowedTrainingInstanceTypes"]["Type"] == "CommaDelimitedList"
    assert parameters["AllowedEndpointInstanceTypes"]["Type"] == "CommaDelimitedList"
    assert (parameters["MaxTrainingHours"]["MinValue"], parameters["MaxTrainingHours"]["MaxValue"]) == (
        1,
        672,
    )
    assert parameters["AllowCustomNetworkAccess"]["Default"] == "false"


@pytest.mark.parametrize(
    ("logical_id", "action", "parameter"),
    [
        ("StartTrainingFunction", "sagemaker:CreateTrainingJob", "AllowedTrainingInstanceTypes"),
        ("StartTrainingFunction", "sagemaker:CreateHyperParameterTuningJob", "AllowedTrainingInstanceTypes"),
        ("DeployModelFunction", "sagemaker:CreateEndpointConfig", "AllowedEndpointInstanceTypes"),
    ],
)
def test_instance_types_are_limited_to_the_allowed_ones(logical_id: str, action: str, parameter: str) -> None:
    for statement in allowing(TEMPLATE, logical_id, action):
        assert condition(statement, "ForAllValues:StringEquals", "sagemaker:InstanceTypes") == {
            "Ref": parameter
        }
        # ForAllValues passes a request without the key: it must be there.
        assert condition(statement, "Null", "sagemaker:InstanceTypes") == "false"


@pytest.mark.parametrize("action", ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"])
@pytest.mark.parametrize("hours", ["1", "24", "672"])
def test_training_runs_at_most_max_training_hours(action: str, hours: str) -> None:
    template = resolved(MaxTrainingHours=hours)
    for statement in allowing(template, "StartTrainingFunction", action):
        bound = condition(statement, "NumericLessThanEquals", "sagemaker:MaxRuntimeInSeconds")
        assert int(bound) == int(hours) * 3600


def test_the_hours_table_covers_every_allowed_value() -> None:
    [statement] = allowing(TEMPLATE, "StartTrainingFunction", "sagemaker:CreateTrainingJob")
    _, seconds = condition(statement, "NumericLessThanEquals", "sagemaker:MaxRuntimeInSeconds")["Fn::Select"]

    assert [int(s) for s in seconds] == [hours * 3600 for hours in range(673)]


ISOLATED = [
    ("StartTrainingFunction", "sagemaker:CreateTrainingJob"),
    ("StartTrainingFunction", "sagemaker:CreateHyperParameterTuningJob"),
    ("DeployModelFunction", "sagemaker:CreateModel"),
]


@pytest.mark.parametrize(("logical_id", "action"), ISOLATED)
def test_jobs_and_models_must_be_network_isolated_unless_the_operator_allows_access(
    logical_id: str, action: str
) -> None:
    contained = resolved(AllowCustomNetworkAccess="false")
    open_ = resolved(AllowCustomNetworkAccess="true")

    for statement in allowing(contained, logical_id, action):
        assert condition(statement, "Bool", "sagemaker:NetworkIsolation") == "true"
        assert condition(statement, "Null", "sagemaker:VpcSubnets") == "true"
    for statement in allowing(open_, logical_id, action):
        assert "Bool" not in statement["Condition"]


def test_functions_that_isolate_custom_images_are_told_the_operators_choice() -> None:
    for logical_id in ("StartTrainingFunction", "DeployModelFunction"):
        variables = TEMPLATE["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        assert variables["ALLOW_CUSTOM_NETWORK_ACCESS"] == {"Ref": "AllowCustomNetworkAccess"}


# ---------------------------------------------------------------- the execution role


def execution_role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["SageMakerExecutionRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::RolePolicy" and resource["Properties"]["RoleName"] == {
            "Ref": "SageMakerExecutionRole"
        }:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def bucket_patterns(statement: dict[str, Any]) -> list[str]:
    """Object key patterns of a statement's data bucket resources."""
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    found = []
    for resource in resources:
        text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else ""
        if text.startswith("${DataBucket.Arn}/"):
            found.append(text.removeprefix("${DataBucket.Arn}/"))
    return found


def trigger_patterns() -> list[str]:
    """Every key pattern an S3 rule of the template starts a stage on (wildcard or prefix)."""
    event_patterns = []
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] == "AWS::Events::Rule":
            event_patterns.append(resource["Properties"]["EventPattern"])
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "EventBridgeRule":
                event_patterns.append(event["Properties"]["Pattern"])
    patterns = []
    for pattern in event_patterns:
        if pattern.get("source") != ["aws.s3"]:
            continue
        for matcher in pattern["detail"]["object"]["key"]:
            patterns.append(matcher["wildcard"] if "wildcard" in matcher else matcher["prefix"] + "*")
    return patterns


def overlap(first: str, second: str) -> bool:
    """Whether some key matches both patterns ("*" is any characters, "/" included, in IAM ARNs
    as in EventBridge wildcards)."""
    seen: set[tuple[int, int]] = set()
    pending = [(0, 0)]
    while pending:
        i, j = pending.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            pending.append((i + 1, j))
        if j < len(second) and second[j] == "*":
            pending.append((i, j + 1))
        if i < len(first) and j < len(second):
            a, b = first[i], second[j]
            if a == "*" and b != "*":
                pending.append((i, j + 1))
            elif b == "*" and a != "*":
                pending.append((i + 1, j))
            elif a == b != "*":
                pending.append((i + 1, j + 1))
    return False


def covers(general: str, specific: str) -> bool:
    """Whether every key specific matches, general matches too (same pattern, or a literal
    prefix followed by "*" that specific starts with)."""
    if general == specific:
        return True
    head = general.removesuffix("*")
    return general.endswith("*") and "*" not in head and specific.startswith(head)


def test_the_rules_start_stages_on_the_keys_the_design_names() -> None:
    assert sorted(trigger_patterns()) == sorted(
        [
            "datasets/*/dataset.json",
            "datasets/*.zip",
            "runs/*/input.manifest",
            "runs/*/labeled.manifest",
            "runs/*/label-studio/annotations/*",
            "runs/*/label-studio/done",
            "runs/*/labels/*",
            "batches/*/*/batch.json",
        ]
    )


def test_the_overlap_check_treats_star_as_spanning_folders() -> None:
    assert overlap("runs/*/training/*", "runs/*/input.manifest")
    assert not overlap("runs/*/training/*", "datasets/*.zip")
    assert covers("datasets/*", "datasets/*/dataset.json")
    assert not covers("runs/*/training/*", "runs/*/input.manifest")


def test_jobs_can_write_no_key_that_starts_a_stage() -> None:
    statements = execution_role_statements(TEMPLATE)
    puts = [s for s in statements if "s3:PutObject" in actions(s)]
    allowed = [p for s in puts if s["Effect"] == "Allow" for p in bucket_patterns(s)]
    denied = [p for s in puts if s["Effect"] == "Deny" for p in bucket_patterns(s)]

    assert sorted(allowed) == ["batches/*/output/*", "runs/*/labeling/*", "runs/*/training/*"]
    for trigger in trigger_patterns():
        if any(overlap(pattern, trigger) for pattern in allowed):
            assert any(covers(pattern, trigger) for pattern in denied), f"jobs could write {trigger}"


def test_jobs_pull_only_builtin_algorithm_images_and_this_accounts_prefixed_repositories() -> None:
    [pull] = [s for s in execution_role_statements(TEMPLATE) if "ecr:BatchGetImage" in actions(s)]
    arns = strings(pull["Resource"])

    assert not [arn for arn in arns if ":*:" in arn]
    assert [arn.rsplit("/", 1)[1] for arn in arns if "repository/" in arn] == [
        "image-classification",
        "object-detection",
        "${NamePrefix}*",
    ]
    assert arns[-1].startswith("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:")


def strings(value: Any) -> list[str]:
    """Every string in an intrinsic-laden value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def test_the_registry_map_is_the_one_training_uses() -> None:
    registries = TEMPLATE["Mappings"]["BuiltinAlgorithmRegistries"]
    algorithms = (builtin_algorithms.IMAGE_CLASSIFICATION, builtin_algorithms.OBJECT_DETECTION)

    for algorithm in algorithms:
        for region, account in algorithm.accounts.items():
            assert registries[region]["Account"] == account
    assert set(registries) == {region for algorithm in algorithms for region in algorithm.accounts}


# ---------------------------------------------------------------- the account's API Gateway logging role


def test_the_account_wide_api_gateway_logging_role_is_set_only_when_asked() -> None:
    resources = TEMPLATE["Resources"]

    assert TEMPLATE["Parameters"]["ManageApiGatewayLoggingRole"]["Default"] == "false"
    assert resources["ApiGatewayAccount"]["Condition"] == "ManagesApiGatewayLoggingRole"
    assert resources["ApiGatewayCloudWatchRole"]["Condition"] == "ManagesApiGatewayLoggingRole"
    # The APIs may not depend on a resource that is not created.
    assert resources["Api"]["DependsOn"] == "ApiGatewayLoggingRoleReady"
    assert resources["OperatorApi"]["DependsOn"] == "ApiGatewayLoggingRoleReady"
    assert "Condition" not in resources["ApiGatewayLoggingRoleReady"]
