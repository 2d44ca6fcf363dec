"""What the deploy stage (deploy_model, configure_autoscaling) needs from the outside world.

Adapters implement these protocols (adapters/sagemaker_hosting.py, adapters/autoscaling.py,
adapters/s3.py); service tests fake them. Statuses are kept as the API spells them.
"""

from typing import NamedTuple, Protocol

from sagechain.ports import ObjectStore


class TrainedJob(NamedTuple):
    """A training job as DescribeTrainingJob tells it."""

    name: str
    arn: str
    status: str
    metrics: dict[str, float]
    model_data_url: str | None
    tuning_job_arn: str | None
    failure_reason: str | None


class TuningOutcome(NamedTuple):
    """A tuning job as DescribeHyperParameterTuningJob tells it, with its best training job."""

    name: str
    arn: str
    status: str
    best_training_job: str | None
    objective_metric: str | None
    objective_value: float | None


class EndpointState(NamedTuple):
    """An endpoint as DescribeEndpoint tells it."""

    name: str
    status: str
    config_name: str
    pending_config_name: str | None
    failure_reason: str | None


class Variant(NamedTuple):
    """One production variant of an endpoint configuration."""

    name: str
    model_name: str
    instance_type: str | None


class EndpointConfig(NamedTuple):
    """An endpoint configuration as DescribeEndpointConfig tells it."""

    name: str
    arn: str
    variants: list[Variant]


class ScalingRange(NamedTuple):
    """A variant's registration with Application Auto Scaling."""

    min_capacity: int
    max_capacity: int


class SageMakerJobs(Protocol):
    """Reads finished training and tuning jobs."""

    def training_job(self, name: str) -> TrainedJob:
        """DescribeTrainingJob."""

    def tuning_job(self, name: str) -> TuningOutcome:
        """DescribeHyperParameterTuningJob."""

    def tags(self, arn: str) -> dict[str, str]:
        """ListTags of any SageMaker resource, as a map."""


class ModelHost(Protocol):
    """SageMaker hosting: models, endpoint configurations, endpoints."""

    region: str

    def create_model(
        self,
        name: str,
        image: str,
        model_data_url: str,
        role_arn: str,
        network_isolation: bool,
        tags: dict[str, str],
    ) -> bool:
        """CreateModel; False when a model of that name already exists."""

    def create_endpoint_config(
        self,
        name: str,
        variant: Variant,
        instance_count: int,
        tags: dict[str, str],
    ) -> bool:
        """CreateEndpointConfig with one variant; False when it already exists."""

    def endpoint(self, name: str) -> EndpointState | None:
        """DescribeEndpoint; None when there is no such endpoint."""

    def endpoint_config(self, name: str) -> EndpointConfig:
        """DescribeEndpointConfig."""

    def create_endpoint(self, name: str, config_name: str, tags: dict[str, str]) -> bool:
        """CreateEndpoint; False when an endpoint of that name already exists."""

    def update_endpoint(self, name: str, config_name: str, retain_variant_properties: bool) -> None:
        """UpdateEndpoint to another configuration."""


class Autoscaler(Protocol):
    """Application Auto Scaling for endpoint variants (DesiredInstanceCount)."""

    def registered(self, endpoint: str, variant: str) -> ScalingRange | None:
        """The variant's scalable target, or None when it is not registered."""

    def deregister(self, endpoint: str, variant: str) -> None:
        """DeregisterScalableTarget (its scaling policies go with it); no-op when not registered."""

    def register(self, endpoint: str, variant: str, min_capacity: int, max_capacity: int) -> None:
        """RegisterScalableTarget (creates or updates the range)."""

    def track_invocations(
        self,
        endpoint: str,
        variant: str,
        policy_name: str,
        target_per_instance: float,
        scale_in_cooldown: int,
        scale_out_cooldown: int,
    ) -> None:
        """A target-tracking PutScalingPolicy on SageMakerVariantInvocationsPerInstance."""


class DeploymentStore(ObjectStore, Protocol):
    """The data bucket, plus the two writes the deploy stage's bookkeeping needs."""

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        """Write only if no object has the key (S3 If-None-Match); whether this call wrote it."""

    def delete(self, key: str) -> None:
        """Delete an object; no error when it is already gone."""
