"""SageMaker for the batch stage: transform jobs created, models looked up."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.adapters.sagemaker import is_already_exists, refusal
from sagechain.adapters.sagemaker_status import is_not_found
from sagechain.console import console_url

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


class SageMakerTransform:
    """Transform jobs, in sagechain's terms (ports.TransformJobs)."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    @property
    def region(self) -> str:
        """The client's region."""
        return self._client.meta.region_name

    def model_exists(self, name: str) -> bool:
        """DescribeModel: whether the model exists."""
        try:
            self._client.describe_model(ModelName=name)
        except ClientError as err:
            if is_not_found(err):
                return False
            raise
        return True

    def create_transform_job(self, request: dict[str, Any]) -> bool:
        """CreateTransformJob; False when a job of that name exists already (a duplicate delivery)."""
        try:
            self._client.create_transform_job(**request)
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = refusal(err, "CreateTransformJob")
            if refused is None:
                raise
            raise refused from err
        return True

    def stop_transform_job(self, name: str) -> bool:
        """StopTransformJob; False when the job is no longer running (SageMaker answers a Stop* of an
        ended or stopping job with ValidationException, of an unknown one with ResourceNotFound)."""
        try:
            self._client.stop_transform_job(TransformJobName=name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"ValidationException", "ResourceNotFound"}:
                return False
            raise
        return True

    def console_url(self, name: str) -> str:
        """The SageMaker console page of a transform job."""
        return console_url(self.region, "transform-jobs", name)
