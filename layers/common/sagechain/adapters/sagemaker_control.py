"""SageMaker for run control: stops a run's jobs; deletes an endpoint, its configurations and models."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.event_sources.sagemaker import JobKind
from sagechain.ports import EndpointConfig, EndpointState, Variant

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# SageMaker answers a Stop* of a job that is no longer running (ended, or already stopping)
# with ValidationException, and of an unknown job with ResourceNotFound: nothing left to stop.
_NOTHING_TO_STOP = frozenset({"ValidationException", "ResourceNotFound"})


class SageMakerJobStopper:
    """StopLabelingJob, StopTrainingJob and StopHyperParameterTuningJob as JobStopper."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._client = client or sagemaker_client()

    def stop(self, kind: JobKind, name: str) -> bool:
        """Ask SageMaker to stop the job; False when there was nothing left to stop."""
        try:
            match kind:
                case JobKind.LABELING:
                    self._client.stop_labeling_job(LabelingJobName=name)
                case JobKind.TRAINING:
                    self._client.stop_training_job(TrainingJobName=name)
                case JobKind.TUNING:
                    self._client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                case _:
                    raise ValueError(f"{kind} is not a job that can be stopped")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _NOTHING_TO_STOP:
                return False
            raise
        return True


def _is_gone(err: ClientError) -> bool:
    # SageMaker answers an unknown endpoint, configuration or model with a ValidationException
    # "Could not find ..."; ResourceNotFound is accepted as well.
    error = err.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    return code == "ResourceNotFound" or (
        code == "ValidationException" and "could not find" in message.lower()
    )


class SageMakerHostingRemover:
    """Describe and Delete of endpoints, endpoint configurations and models as HostingRemover."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._client = client or sagemaker_client()

    def endpoint(self, name: str) -> EndpointState | None:
        """DescribeEndpoint, or None when the endpoint does not exist."""
        try:
            described = self._client.describe_endpoint(EndpointName=name)
        except ClientError as err:
            if _is_gone(err):
                return None
            raise
        pending = described.get("PendingDeploymentSummary") or {}
        return EndpointState(
            name=described["EndpointName"],
            status=described["EndpointStatus"],
            config_name=described.get("EndpointConfigName", ""),
            pending_config_name=pending.get("EndpointConfigName"),
            failure_reason=described.get("FailureReason"),
        )

    def endpoint_config(self, name: str) -> EndpointConfig | None:
        """DescribeEndpointConfig, or None when it does not exist."""
        try:
            described = self._client.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as err:
            if _is_gone(err):
                return None
            raise
        return EndpointConfig(
            name=described["EndpointConfigName"],
            arn=described["EndpointConfigArn"],
            variants=[
                Variant(v["VariantName"], v.get("ModelName", ""), v.get("InstanceType"))
                for v in described["ProductionVariants"]
            ],
        )

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint; an endpoint already gone is fine."""
        self._delete(lambda: self._client.delete_endpoint(EndpointName=name))

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig; a configuration already gone is fine."""
        self._delete(lambda: self._client.delete_endpoint_config(EndpointConfigName=name))

    def delete_model(self, name: str) -> None:
        """DeleteModel; a model already gone is fine."""
        self._delete(lambda: self._client.delete_model(ModelName=name))

    @staticmethod
    def _delete(call: Callable[[], object]) -> None:
        try:
            call()
        except ClientError as err:
            if not _is_gone(err):
                raise
