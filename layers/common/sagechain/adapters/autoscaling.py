"""Application Auto Scaling for SageMaker endpoint variants.

Values from "Define a target tracking scaling policy" in the SageMaker guide
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html)
and the Application Auto Scaling API reference: namespace `sagemaker`, resource id
`endpoint/<endpoint>/variant/<variant>`, dimension `sagemaker:variant:DesiredInstanceCount`,
predefined metric `SageMakerVariantInvocationsPerInstance` (invocations per instance per minute).
"""

from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from sagechain.adapters.clients import autoscaling_client
from sagechain.aws_errors import is_retryable
from sagechain.errors import RequestRefusedError
from sagechain.ports import ScalableTarget

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.type_defs import TargetTrackingScalingPolicyConfigurationTypeDef

NAMESPACE: Final = "sagemaker"
DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
METRIC: Final = "SageMakerVariantInvocationsPerInstance"


def _refused(operation: str, err: ClientError) -> RequestRefusedError | None:
    """A refusal a retry cannot change (ValidationException, AccessDeniedException,
    LimitExceededException, ObjectNotFoundException: the Errors sections of RegisterScalableTarget,
    PutScalingPolicy and DeregisterScalableTarget in the Application Auto Scaling API reference)
    becomes RequestRefusedError; throttling and 5xx stay ClientError, for Lambda to retry."""
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    if is_retryable(code, err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")):
        return None
    return RequestRefusedError(operation, code, error.get("Message", ""), service="application-autoscaling")


def resource_id(endpoint: str, variant: str) -> str:
    """The scalable target's resource id for one endpoint variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


class ApplicationAutoScaling:
    """Implements Autoscaler over one Application Auto Scaling client."""

    def __init__(self, tags: dict[str, str], client: "ApplicationAutoScalingClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start
        # Put on targets as they are registered (the stack's tag): IAM lets only the stack that
        # registered a target deregister it.
        self._tags = dict(tags)

    @property
    def _client(self) -> "ApplicationAutoScalingClient":
        return self._given or autoscaling_client()

    def registered(self, endpoint: str, variant: str) -> ScalableTarget | None:
        """DescribeScalableTargets for the variant."""
        answer = self._client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE,
            ResourceIds=[resource_id(endpoint, variant)],
            ScalableDimension=DIMENSION,
        )
        targets = answer.get("ScalableTargets", [])
        if not targets:
            return None
        return ScalableTarget(targets[0]["MinCapacity"], targets[0]["MaxCapacity"])

    def scaled_variants(self, endpoint_prefix: str) -> dict[str, list[str]]:
        """The registered SageMaker variants of endpoints whose names start with endpoint_prefix, by
        endpoint: DescribeScalableTargets, every page."""
        pages = self._client.get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace=NAMESPACE, ScalableDimension=DIMENSION
        )
        variants: dict[str, list[str]] = {}
        for page in pages:
            for target in page.get("ScalableTargets", []):
                kind, endpoint, _, variant = [*target["ResourceId"].split("/"), "", "", ""][:4]
                if kind == "endpoint" and endpoint.startswith(endpoint_prefix) and variant:
                    variants.setdefault(endpoint, []).append(variant)
        return variants

    def deregister(self, endpoint: str, variant: str) -> None:
        """DeregisterScalableTarget; a target that is already gone is fine."""
        try:
            self._client.deregister_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, variant),
                ScalableDimension=DIMENSION,
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ObjectNotFoundException":
                refused = _refused("DeregisterScalableTarget", err)
                if refused is None:
                    raise
                raise refused from err

    def register(self, endpoint: str, variant: str, min_capacity: int, max_capacity: int) -> None:
        """RegisterScalableTarget: creates the target, or updates its range."""
        try:
            self._client.register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, variant),
                ScalableDimension=DIMENSION,
                MinCapacity=min_capacity,
                MaxCapacity=max_capacity,
                Tags=self._tags,
            )
        except ClientError as err:
            refused = _refused("RegisterScalableTarget", err)
            if refused is None:
                raise
            raise refused from err

    def track_invocations(
        self,
        endpoint: str,
        variant: str,
        policy_name: str,
        target_per_instance: float,
        scale_in_cooldown: int,
        scale_out_cooldown: int,
        disable_scale_in: bool = False,
    ) -> None:
        """PutScalingPolicy (target tracking); the same name updates the policy in place. DisableScaleIn:
        the policy only adds instances (TargetTrackingScalingPolicyConfiguration, API reference)."""
        configuration: TargetTrackingScalingPolicyConfigurationTypeDef = {
            "TargetValue": float(target_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": scale_in_cooldown,
            "ScaleOutCooldown": scale_out_cooldown,
            "DisableScaleIn": disable_scale_in,
        }
        try:
            self._client.put_scaling_policy(
                PolicyName=policy_name,
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, variant),
                ScalableDimension=DIMENSION,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=configuration,
            )
        except ClientError as err:
            refused = _refused("PutScalingPolicy", err)
            if refused is None:
                raise
            raise refused from err
