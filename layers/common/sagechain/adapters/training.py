"""SageMaker for the training stage: finished labeling jobs read, training and tuning jobs created."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.adapters.sagemaker import is_already_exists, refusal
from sagechain.adapters.sagemaker_status import is_not_found
from sagechain.console import console_url
from sagechain.ports import LabelingJobSummary

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class SageMakerTraining:
    """Labeling jobs and training jobs, in sagechain's terms."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    def labeling_job(self, name: str) -> LabelingJobSummary | None:
        """The labeling job called name, or None when there is none."""
        try:
            job = self._client.describe_labeling_job(LabelingJobName=name)
        except ClientError as err:
            if _error_code(err) == "ResourceNotFound":
                return None
            raise
        tags = {tag["Key"]: tag["Value"] for tag in job.get("Tags", [])}
        counters = job["LabelCounters"]
        return LabelingJobSummary(
            name=job["LabelingJobName"],
            status=job["LabelingJobStatus"],
            tags=tags,
            label_attribute=job.get("LabelAttributeName"),
            output_manifest_uri=job.get("LabelingJobOutput", {}).get("OutputDatasetS3Uri"),
            labeled=counters.get("TotalLabeled", 0),
            failed=counters.get("FailedNonRetryableError", 0),
            unlabeled=counters.get("Unlabeled", 0),
        )

    def training_job_status(self, name: str) -> str | None:
        """A training job's status, or None when there is none (a retry reuses those that completed)."""
        try:
            job = self._client.describe_training_job(TrainingJobName=name)
        except ClientError as err:
            if is_not_found(err):
                return None
            raise
        return job["TrainingJobStatus"]

    def create_training_job(self, request: dict[str, Any]) -> bool:
        """Create a training job; False when one of that name already exists."""
        return self._create(self._client.create_training_job, request, "CreateTrainingJob")

    def create_tuning_job(self, request: dict[str, Any]) -> bool:
        """Create a hyperparameter tuning job; False when one of that name already exists."""
        return self._create(
            self._client.create_hyper_parameter_tuning_job, request, "CreateHyperParameterTuningJob"
        )

    def console_url(self, kind: Literal["jobs", "hyper-tuning-jobs"], name: str) -> str:
        """The SageMaker console page of a training job (jobs) or tuning job, in the client's region."""
        return console_url(self._client.meta.region_name, kind, name)

    @staticmethod
    def _create(call: Callable[..., Any], request: dict[str, Any], operation: str) -> bool:
        # A refusal a retry cannot fix raises RequestRefusedError; throttling and 5xx propagate.
        try:
            call(**request)
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = refusal(err, operation)
            if refused is None:
                raise
            raise refused from err
        return True
