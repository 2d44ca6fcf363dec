"""The offline IAM evaluator and the call-to-action mapping, on small policies."""

from typing import Any

import pytest
from local.iam_policy import Policy, Request, UnsupportedConditionError
from local.iam_requests import Call, NoIamMappingError, authorization
from local.stack import PHYSICAL
from local.template import ACCOUNT, REGION, Template

BUCKET = "arn:aws:s3:::data"


def _policy(*statements: dict[str, Any]) -> Policy:
    return Policy.parse([{"Version": "2012-10-17", "Statement": list(statements)}])


def _allow(action: str, resource: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


class _NoResources:
    def tags(self, arn: str) -> dict[str, str]:
        return {}

    def object_exists(self, bucket: str, key: str) -> bool:
        return True

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        return None

    def target_tags(self, namespace: str, resource_id: str, dimension: str) -> dict[str, str]:
        return {}


def _call(service: str, operation: str, **params: Any) -> Call:
    return Call(service, operation, params, REGION, ACCOUNT)


def test_a_resource_wildcard_spans_slashes_and_nothing_outside_its_prefix() -> None:
    # Given a grant on runs/*/training/*
    policy = _policy(_allow("s3:PutObject", f"{BUCKET}/runs/*/training/*"))

    # When / Then: a key deep under it is allowed, a sibling prefix is not
    assert policy.evaluate(Request("s3:PutObject", f"{BUCKET}/runs/r1/training/a/b.json")).allowed
    assert not policy.evaluate(Request("s3:PutObject", f"{BUCKET}/runs/r1/labeling/a.json")).allowed


def test_actions_match_without_regard_to_case_and_resources_with_it() -> None:
    policy = _policy(_allow("sagemaker:DescribeEndpoint", "arn:aws:sagemaker:*:*:endpoint/sagechain-*"))

    assert policy.evaluate(
        Request("SageMaker:describeendpoint", "arn:aws:sagemaker:r:a:endpoint/sagechain-x")
    ).allowed
    assert not policy.evaluate(
        Request("sagemaker:DescribeEndpoint", "arn:aws:sagemaker:r:a:endpoint/SAGECHAIN-x")
    ).allowed


def test_an_explicit_deny_wins_over_an_allow() -> None:
    # Given an allow on runs/* and a deny on the stage trigger under it
    policy = _policy(
        _allow("s3:PutObject", f"{BUCKET}/runs/*"),
        {
            "Sid": "NeverWriteTriggers",
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": f"{BUCKET}/runs/*/input.manifest",
        },
    )

    # When the trigger is written
    decision = policy.evaluate(Request("s3:PutObject", f"{BUCKET}/runs/r1/input.manifest"))

    # Then the deny decides
    assert not decision.allowed
    assert decision.statement is not None
    assert decision.statement.sid == "NeverWriteTriggers"


def test_conditions_must_all_hold() -> None:
    # Given the training guardrails: a tag, allowed instance types, a runtime cap, no VPC
    policy = _policy(
        _allow(
            "sagemaker:CreateTrainingJob",
            "*",
            StringEquals={"aws:RequestTag/sagechain:stack": "demo"},
            **{
                "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": ["ml.g5.xlarge"]},
                "Null": {"sagemaker:InstanceTypes": "false", "sagemaker:VpcSubnets": "true"},
                "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": 3600},
                "Bool": {"sagemaker:NetworkIsolation": "true"},
            },
        )
    )
    good = {
        "aws:RequestTag/sagechain:stack": ("demo",),
        "sagemaker:InstanceTypes": ("ml.g5.xlarge",),
        "sagemaker:MaxRuntimeInSeconds": ("3600",),
        "sagemaker:NetworkIsolation": ("true",),
    }

    assert policy.evaluate(Request("sagemaker:CreateTrainingJob", "x", good)).allowed
    for key, value in [
        ("aws:RequestTag/sagechain:stack", ("other",)),
        ("sagemaker:InstanceTypes", ("ml.g5.xlarge", "ml.p4d.24xlarge")),
        ("sagemaker:MaxRuntimeInSeconds", ("3601",)),
        ("sagemaker:NetworkIsolation", ("false",)),
        ("sagemaker:VpcSubnets", ("subnet-1",)),
    ]:
        assert not policy.evaluate(
            Request("sagemaker:CreateTrainingJob", "x", {**good, key: value})
        ).allowed, key
    missing_type = {k: v for k, v in good.items() if k != "sagemaker:InstanceTypes"}
    assert not policy.evaluate(Request("sagemaker:CreateTrainingJob", "x", missing_type)).allowed


def test_a_condition_operator_the_evaluator_lacks_is_refused_when_the_policy_is_read() -> None:
    with pytest.raises(UnsupportedConditionError, match="DateGreaterThan"):
        _policy(_allow("s3:GetObject", "*", DateGreaterThan={"aws:CurrentTime": "2020-01-01T00:00:00Z"}))


def test_a_single_valued_operator_on_a_multivalued_key_is_refused() -> None:
    policy = _policy(_allow("s3:GetObject", "*", StringEquals={"aws:TagKeys": "a"}))

    with pytest.raises(UnsupportedConditionError, match="multivalued"):
        policy.evaluate(Request("s3:GetObject", "x", {"aws:TagKeys": ("a", "b")}))


def test_an_operation_without_a_mapping_fails_loudly() -> None:
    with pytest.raises(NoIamMappingError, match=r"no IAM mapping for s3\.PutBucketPolicy"):
        authorization(_call("s3", "PutBucketPolicy", Bucket="data", Policy="{}"), _NoResources())


def test_s3_calls_map_to_their_actions_and_object_arns() -> None:
    def actions(operation: str, **params: Any) -> list[tuple[str, str]]:
        needed = authorization(_call("s3", operation, Bucket="data", **params), _NoResources())
        return [(request.action, request.resource) for request in needed.requests]

    assert actions("HeadObject", Key="a/b") == [("s3:GetObject", f"{BUCKET}/a/b")]
    assert actions("GetObject", Key="a", VersionId="v1") == [("s3:GetObjectVersion", f"{BUCKET}/a")]
    assert actions("UploadPart", Key="a", UploadId="u", PartNumber=1) == [("s3:PutObject", f"{BUCKET}/a")]
    assert actions("ListObjectsV2", Prefix="runs/") == [("s3:ListBucket", BUCKET)]
    assert actions("CopyObject", Key="b", CopySource={"Bucket": "data", "Key": "a"}) == [
        ("s3:GetObject", f"{BUCKET}/a"),
        ("s3:PutObject", f"{BUCKET}/b"),
    ]


def test_a_tagged_sagemaker_create_also_needs_add_tags_and_pass_role() -> None:
    # Given a CreateModel with a tag and an execution role
    call = _call(
        "sagemaker",
        "CreateModel",
        ModelName="Sagechain-M",
        ExecutionRoleArn="arn:aws:iam::1:role/r",
        Tags=[{"Key": "sagechain:stack", "Value": "demo"}],
        EnableNetworkIsolation=True,
    )

    # When it is mapped
    requests = authorization(call, _NoResources()).requests

    # Then the model's ARN is lower-cased and AddTags and PassRole come with it
    assert [(r.action, r.resource) for r in requests] == [
        ("sagemaker:CreateModel", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/sagechain-m"),
        ("sagemaker:AddTags", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/sagechain-m"),
        ("iam:PassRole", "arn:aws:iam::1:role/r"),
    ]
    assert requests[1].context["sagemaker:TaggingAction"] == ("CreateModel",)
    assert requests[2].context["iam:PassedToService"] == ("sagemaker.amazonaws.com",)
    assert requests[0].context["sagemaker:NetworkIsolation"] == ("true",)


def test_every_function_policy_in_the_template_is_read_and_evaluable() -> None:
    # Given the template as the offline stack resolves it
    template = Template(PHYSICAL, {})

    # When every function's policies are parsed (unknown operators would be refused here)
    policies = {f.logical_id: Policy.parse(template.policies(f.logical_id)) for f in template.functions()}

    # Then each function grants something, and the guardrail conditions resolved to values
    assert all(policy.granted_actions() for policy in policies.values())
    training = next(s for s in policies["StartTrainingFunction"].statements if s.sid == "StartOurTraining")
    assert ("NumericLessThanEquals", "sagemaker:MaxRuntimeInSeconds", ("86400",)) in training.conditions
    assert ("Bool", "sagemaker:NetworkIsolation", ("true",)) in training.conditions
