"""SageMaker for run control: stops a run's jobs (deleting a model uses SageMakerHosting)."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.event_sources.sagemaker import JobKind

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
