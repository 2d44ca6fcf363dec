"""Read-only SageMaker and Application Auto Scaling: tags, Describe*, scaling ranges, console links."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sagechain.adapters.clients import autoscaling_client, sagemaker_client
from sagechain.console import console_url, training_log_url
from sagechain.event_sources.sagemaker import JobKind, StatusTransition
from sagechain.ports import EndpointFacts, LabelingJobFacts, TrainingJobFacts, TuningJobFacts
from sagechain.run_history import ScalingRange

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType
    from mypy_boto3_sagemaker import SageMakerClient

# Describe* of a missing job answers ResourceNotFound; DescribeEndpoint and ListTags answer
# ValidationException "Could not find endpoint ..." / "... not found".
_NOT_FOUND_MARKERS = ("not found", "could not find", "does not exist")
# Application Auto Scaling's names for an endpoint variant's instance count.
_SCALABLE_DIMENSION: "ScalableDimensionType" = "sagemaker:variant:DesiredInstanceCount"


def is_not_found(err: ClientError) -> bool:
    """Whether SageMaker said the resource does not exist."""
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "").lower()
    if code == "ResourceNotFound":
        return True
    return code == "ValidationException" and any(marker in message for marker in _NOT_FOUND_MARKERS)


class SageMakerStatus:
    """What SageMaker knows about our jobs and endpoints; None when the resource is gone."""

    def __init__(self, client: "SageMakerClient | None" = None, *, remember: bool = False) -> None:
        """remember: answer each question once (for one event: the observer's history and its email
        ask the same Describe* and ListTags); never for a lookup that outlives an invocation."""
        self._given = client  # the client is made on first use, not at cold start
        self.region = self._client.meta.region_name
        self._answers: dict[tuple[str, str], Any] | None = {} if remember else None

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    def _describe(self, operation: str, **request: str) -> dict[str, Any] | None:
        key = (operation, repr(sorted(request.items())))
        if self._answers is not None and key in self._answers:
            answer: dict[str, Any] | None = self._answers[key]
            return answer
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**request)
        except ClientError as err:
            if is_not_found(err):
                return self._remember(key, None)
            raise
        return self._remember(key, response)

    def _remember[T](self, key: tuple[str, str], answer: T) -> T:
        if self._answers is not None:
            self._answers[key] = answer
        return answer

    def worker_portal(self, workteam_arn: str) -> str | None:
        """DescribeWorkteam's SubDomain, "the URI of the labeling job's user interface. Workers open
        this URI to start labeling" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Workteam.html),
        as an https URL; None for a team that is gone or has none."""
        team = self._describe("describe_workteam", WorkteamName=workteam_arn.rsplit("/", 1)[-1])
        domain = (team or {}).get("Workteam", {}).get("SubDomain")
        if not domain:
            return None
        return domain if domain.startswith("https://") else f"https://{domain.removeprefix('http://')}"

    def tags(self, arn: str) -> dict[str, str]:
        """A resource's tags ({} when it does not exist)."""
        key = ("list_tags", arn)
        if self._answers is not None and key in self._answers:
            return dict(self._answers[key])
        tags: dict[str, str] = {}
        try:
            for page in self._client.get_paginator("list_tags").paginate(ResourceArn=arn):
                tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        except ClientError as err:
            if is_not_found(err):
                return dict(self._remember(key, {}))
            raise
        return dict(self._remember(key, tags))

    def training_job(self, name: str) -> TrainingJobFacts | None:
        """DescribeTrainingJob."""
        job = self._describe("describe_training_job", TrainingJobName=name)
        if job is None:
            return None
        resources = job.get("ResourceConfig", {})
        return TrainingJobFacts(
            name=name,
            status=job["TrainingJobStatus"],
            secondary_status=job.get("SecondaryStatus"),
            failure_reason=job.get("FailureReason"),
            instance_type=resources.get("InstanceType"),
            instance_count=resources.get("InstanceCount"),
            spot=bool(job.get("EnableManagedSpotTraining")),
            training_seconds=job.get("TrainingTimeInSeconds"),
            billable_seconds=job.get("BillableTimeInSeconds"),
            tuning_job_arn=job.get("TuningJobArn"),
            final_metrics={m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
            transitions=[
                StatusTransition.model_validate(transition)
                for transition in job.get("SecondaryStatusTransitions", [])
            ],
        )

    def labeling_job(self, name: str) -> LabelingJobFacts | None:
        """DescribeLabelingJob."""
        job = self._describe("describe_labeling_job", LabelingJobName=name)
        if job is None:
            return None
        return LabelingJobFacts(
            name=name,
            status=job["LabelingJobStatus"],
            failure_reason=job.get("FailureReason"),
            counters=dict(job.get("LabelCounters", {})),
        )

    def tuning_job(self, name: str) -> TuningJobFacts | None:
        """DescribeHyperParameterTuningJob."""
        job = self._describe("describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
        if job is None:
            return None
        best = job.get("BestTrainingJob", {})
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        return TuningJobFacts(
            name=name,
            status=job["HyperParameterTuningJobStatus"],
            failure_reason=job.get("FailureReason"),
            counters=dict(job.get("TrainingJobStatusCounters", {})),
            best_training_job=best.get("TrainingJobName"),
            best_metric_name=objective.get("MetricName"),
            best_metric_value=objective.get("Value"),
        )

    def endpoint(self, name: str) -> EndpointFacts | None:
        """DescribeEndpoint."""
        endpoint = self._describe("describe_endpoint", EndpointName=name)
        if endpoint is None:
            return None
        variants = endpoint.get("ProductionVariants", [])
        variant = variants[0] if variants else {}
        return EndpointFacts(
            name=name,
            status=endpoint["EndpointStatus"],
            failure_reason=endpoint.get("FailureReason"),
            config_name=endpoint.get("EndpointConfigName"),
            variant_name=variant.get("VariantName"),
            instance_count=variant.get("CurrentInstanceCount"),
            updated_at=endpoint.get("LastModifiedTime"),
        )

    def console_url(self, kind: JobKind, name: str) -> str:
        """The SageMaker console page of a job or endpoint."""
        return console_url(self.region, kind.console_kind, name)

    def training_log_url(self, name: str) -> str:
        """The CloudWatch Logs console, filtered to the job's log streams."""
        return training_log_url(self.region, name)


class EndpointScaling:
    """An endpoint variant's autoscaling range, as registered with Application Auto Scaling."""

    def __init__(self, client: "ApplicationAutoScalingClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> "ApplicationAutoScalingClient":
        return self._given or autoscaling_client()

    def scaling_range(self, endpoint_name: str, variant_name: str) -> ScalingRange | None:
        """The registered min and max instances, or None when none is registered."""
        response = self._client.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=[f"endpoint/{endpoint_name}/variant/{variant_name}"],
            ScalableDimension=_SCALABLE_DIMENSION,
        )
        for target in response.get("ScalableTargets", []):
            return ScalingRange(min_instances=target["MinCapacity"], max_instances=target["MaxCapacity"])
        return None
