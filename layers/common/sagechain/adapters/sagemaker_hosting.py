"""SageMaker for the deploy stage: finished jobs, models, endpoint configurations, endpoints."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.adapters.sagemaker import is_already_exists
from sagechain.aws_errors import is_retryable
from sagechain.errors import EndpointBusyError, RequestRefusedError, ResourceMissingError
from sagechain.ports import (
    BlueGreenUpdate,
    EndpointConfig,
    EndpointState,
    NamedResource,
    TrainedJob,
    TuningOutcome,
    TuningTrial,
    Variant,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import (
        ContainerDefinitionTypeDef,
        ProductionVariantTypeDef,
        TagTypeDef,
    )


def _tag_list(tags: dict[str, str]) -> "list[TagTypeDef]":
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _is_missing_endpoint(err: ClientError) -> bool:
    # AWS answers DescribeEndpoint for an unknown name with a ValidationException
    # "Could not find endpoint ..."; ResourceNotFound is accepted as well.
    error = err.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code == "ResourceNotFound":
        return True
    return code == "ValidationException" and "could not find" in message.lower()


def _is_missing(err: ClientError) -> bool:
    # DescribeEndpointConfig answers a deleted configuration with a ValidationException
    # "Could not find endpoint configuration ..."; ResourceNotFound is accepted as well.
    return _is_missing_endpoint(err)


def _is_busy(err: ClientError) -> bool:
    # UpdateEndpoint on an endpoint that is Creating, Updating, SystemUpdating or RollingBack:
    # ValidationException "Cannot update in-progress endpoint <arn>." (only InService endpoints
    # can be updated: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html).
    error = err.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "in-progress" in error.get("Message", "").lower()


def _refused(operation: str, err: ClientError) -> RequestRefusedError | None:
    """A refusal a retry cannot change becomes RequestRefusedError; throttling and 5xx stay
    ClientError, for Lambda to retry. (Error codes: the API reference's Errors section of
    CreateModel, CreateEndpointConfig, CreateEndpoint and UpdateEndpoint, and the Common Errors page
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html.)"""
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if is_retryable(code, status):
        return None
    return RequestRefusedError(operation, code, error.get("Message", ""))


def _deployment_config(update: BlueGreenUpdate) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: BlueGreenUpdatePolicy and AutoRollbackConfiguration."""
    traffic = update.traffic
    routing: dict[str, Any] = {"Type": traffic.kind, "WaitIntervalInSeconds": traffic.wait_seconds}
    if traffic.size is not None and traffic.kind in ("CANARY", "LINEAR"):
        key = "CanarySize" if traffic.kind == "CANARY" else "LinearStepSize"
        routing[key] = {"Type": traffic.size_unit or "CAPACITY_PERCENT", "Value": traffic.size}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": update.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": update.max_execution_seconds,
        }
    }
    if update.alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in update.alarms]}
    return config


class SageMakerHosting:
    """Implements SageMakerJobs, ModelHost and StackSageMaker over one SageMaker client."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start
        self.region: str = self._client.meta.region_name

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    # ------------------------------------------------------------ jobs
    def training_job(self, name: str) -> TrainedJob:
        """DescribeTrainingJob: status, final metrics, model artifacts, parent tuning job."""
        job = self._client.describe_training_job(TrainingJobName=name)
        metrics = {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}
        artifacts = job.get("ModelArtifacts", {}).get("S3ModelArtifacts") or None
        return TrainedJob(
            name=job["TrainingJobName"],
            arn=job["TrainingJobArn"],
            status=job["TrainingJobStatus"],
            metrics=metrics,
            model_data_url=artifacts,
            tuning_job_arn=job.get("TuningJobArn"),
            failure_reason=job.get("FailureReason"),
            training_seconds=job.get("TrainingTimeInSeconds"),
        )

    def tuning_job(self, name: str) -> TuningOutcome:
        """DescribeHyperParameterTuningJob: status and best training job."""
        tuning = self._client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        best: dict[str, Any] = dict(tuning.get("BestTrainingJob") or {})
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        value = objective.get("Value")
        return TuningOutcome(
            name=tuning["HyperParameterTuningJobName"],
            arn=tuning["HyperParameterTuningJobArn"],
            status=tuning["HyperParameterTuningJobStatus"],
            best_training_job=best.get("TrainingJobName"),
            objective_metric=objective.get("MetricName"),
            objective_value=None if value is None else float(value),
        )

    def tuning_trials(self, name: str) -> list[TuningTrial]:
        """ListTrainingJobsForHyperParameterTuningJob, every page: each trial's tuned
        hyperparameters, status, objective value and training time (end minus start)."""
        trials = []
        pages = self._client.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        for page in pages.paginate(HyperParameterTuningJobName=name, PaginationConfig={"PageSize": 100}):
            for summary in page["TrainingJobSummaries"]:
                objective: dict[str, Any] = dict(
                    summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
                )
                value = objective.get("Value")
                start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
                trials.append(
                    TuningTrial(
                        name=summary["TrainingJobName"],
                        status=summary["TrainingJobStatus"],
                        hyperparameters=dict(summary.get("TunedHyperParameters", {})),
                        objective_value=None if value is None else float(value),
                        training_seconds=int((end - start).total_seconds()) if start and end else None,
                    )
                )
        return trials

    def tags(self, arn: str) -> dict[str, str]:
        """ListTags, every page, as a map."""
        found: dict[str, str] = {}
        for page in self._client.get_paginator("list_tags").paginate(ResourceArn=arn):
            found.update({tag["Key"]: tag.get("Value", "") for tag in page.get("Tags", [])})
        return found

    # ------------------------------------------------------------ hosting
    def create_model(
        self,
        name: str,
        image: str,
        model_data_url: str,
        role_arn: str,
        network_isolation: bool,
        tags: dict[str, str],
        environment: dict[str, str] | None = None,
    ) -> bool:
        """CreateModel; a model of that name already existing is success (False)."""
        container: ContainerDefinitionTypeDef = {"Image": image, "ModelDataUrl": model_data_url}
        if environment:
            container["Environment"] = environment
        try:
            self._client.create_model(
                ModelName=name,
                PrimaryContainer=container,
                ExecutionRoleArn=role_arn,
                EnableNetworkIsolation=network_isolation,
                Tags=_tag_list(tags),
            )
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = _refused("CreateModel", err)
            if refused is None:
                raise
            raise refused from err
        return True

    def create_endpoint_config(
        self, name: str, variant: Variant, instance_count: int, tags: dict[str, str]
    ) -> bool:
        """CreateEndpointConfig with one instance-backed variant; existing is success (False)."""
        if variant.instance_type is None:
            raise ValueError("an instance-backed variant needs an instance type")
        production: ProductionVariantTypeDef = {
            "VariantName": variant.name,
            "ModelName": variant.model_name,
            "InstanceType": variant.instance_type,  # type: ignore[typeddict-item] # a validated ml.* type
            "InitialInstanceCount": instance_count,
        }
        try:
            self._client.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[production], Tags=_tag_list(tags)
            )
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = _refused("CreateEndpointConfig", err)
            if refused is None:
                raise
            raise refused from err
        return True

    def endpoint(self, name: str) -> EndpointState | None:
        """DescribeEndpoint, or None when the endpoint does not exist."""
        try:
            described = self._client.describe_endpoint(EndpointName=name)
        except ClientError as err:
            if _is_missing_endpoint(err):
                return None
            raise
        pending = described.get("PendingDeploymentSummary") or {}
        variants = described.get("ProductionVariants") or []
        counts = [v["CurrentInstanceCount"] for v in variants if "CurrentInstanceCount" in v]
        return EndpointState(
            name=described["EndpointName"],
            status=described["EndpointStatus"],
            config_name=described.get("EndpointConfigName", ""),
            pending_config_name=pending.get("EndpointConfigName"),
            failure_reason=described.get("FailureReason"),
            instance_count=sum(counts) if counts else None,
        )

    def endpoint_config(self, name: str) -> EndpointConfig:
        """DescribeEndpointConfig: its ARN and variants; ResourceMissingError when it was deleted."""
        try:
            described = self._client.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as err:
            if _is_missing(err):
                raise ResourceMissingError("endpoint configuration", name) from err
            raise
        return EndpointConfig(
            name=described["EndpointConfigName"],
            arn=described["EndpointConfigArn"],
            variants=[
                Variant(v["VariantName"], v.get("ModelName", ""), v.get("InstanceType"))
                for v in described["ProductionVariants"]
            ],
        )

    def create_endpoint(self, name: str, config_name: str, tags: dict[str, str]) -> bool:
        """CreateEndpoint; an endpoint of that name already existing returns False."""
        try:
            self._client.create_endpoint(
                EndpointName=name, EndpointConfigName=config_name, Tags=_tag_list(tags)
            )
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = _refused("CreateEndpoint", err)
            if refused is None:
                raise
            raise refused from err
        return True

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        retain_variant_properties: bool,
        blue_green: BlueGreenUpdate | None = None,
    ) -> None:
        """UpdateEndpoint; retaining variant properties keeps the live instance count; blue_green is its
        DeploymentConfig (API_UpdateEndpoint.html, API_BlueGreenUpdatePolicy.html). An endpoint that is
        not InService raises EndpointBusyError."""
        request: dict[str, Any] = {
            "EndpointName": name,
            "EndpointConfigName": config_name,
            "RetainAllVariantProperties": retain_variant_properties,
        }
        if blue_green is not None:
            request["DeploymentConfig"] = _deployment_config(blue_green)
        try:
            self._client.update_endpoint(**request)
        except ClientError as err:
            if _is_busy(err):
                raise EndpointBusyError(name, err.response.get("Error", {}).get("Message", "")) from err
            refused = _refused("UpdateEndpoint", err)
            if refused is None:
                raise
            raise refused from err

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig; a configuration already gone is fine, a refusal is RequestRefusedError."""
        self._delete(
            "DeleteEndpointConfig", lambda: self._client.delete_endpoint_config(EndpointConfigName=name)
        )

    def model_exists(self, name: str) -> bool:
        """DescribeModel: whether the model exists (a deletion resumed skips what is gone)."""
        try:
            self._client.describe_model(ModelName=name)
        except ClientError as err:
            if _is_missing(err):
                return False
            raise
        return True

    def delete_model(self, name: str) -> None:
        """DeleteModel; a model already gone is fine, a refusal is RequestRefusedError."""
        self._delete("DeleteModel", lambda: self._client.delete_model(ModelName=name))

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint; an endpoint already gone is fine, a refusal is RequestRefusedError."""
        self._delete("DeleteEndpoint", lambda: self._client.delete_endpoint(EndpointName=name))

    def endpoints(self, name_contains: str) -> list[NamedResource]:
        """ListEndpoints whose names contain name_contains, every page."""
        pages = self._client.get_paginator("list_endpoints").paginate(NameContains=name_contains)
        return [
            NamedResource(e["EndpointName"], e["EndpointArn"]) for page in pages for e in page["Endpoints"]
        ]

    def endpoint_configs(self, name_contains: str) -> list[NamedResource]:
        """ListEndpointConfigs whose names contain name_contains, every page."""
        pages = self._client.get_paginator("list_endpoint_configs").paginate(NameContains=name_contains)
        return [
            NamedResource(c["EndpointConfigName"], c["EndpointConfigArn"])
            for page in pages
            for c in page["EndpointConfigs"]
        ]

    def models(self, name_contains: str) -> list[NamedResource]:
        """ListModels whose names contain name_contains, every page."""
        pages = self._client.get_paginator("list_models").paginate(NameContains=name_contains)
        return [NamedResource(m["ModelName"], m["ModelArn"]) for page in pages for m in page["Models"]]

    @staticmethod
    def _delete(operation: str, call: Callable[[], object]) -> None:
        try:
            call()
        except ClientError as err:
            if _is_missing(err):
                return
            refused = _refused(operation, err)
            if refused is None:
                raise
            raise refused from err
