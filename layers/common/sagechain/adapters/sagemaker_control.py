"""SageMaker for run control and teardown: finds and stops jobs (deleting a model uses SageMakerHosting)."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.adapters.sagemaker import refusal
from sagechain.event_sources.sagemaker import JobKind
from sagechain.ports import NamedResource

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# SageMaker answers a Stop* of a job that is no longer running (ended, or already stopping)
# with ValidationException, and of an unknown job with ResourceNotFound: nothing left to stop.
_NOTHING_TO_STOP = frozenset({"ValidationException", "ResourceNotFound"})
_OPERATIONS = {
    JobKind.LABELING: "StopLabelingJob",
    JobKind.TRAINING: "StopTrainingJob",
    JobKind.TUNING: "StopHyperParameterTuningJob",
    JobKind.TRANSFORM: "StopTransformJob",
}
# ListLabelingJobs, ListTrainingJobs, ListHyperParameterTuningJobs: paginator, summaries, name and ARN.
_LISTS = {
    JobKind.LABELING: ("list_labeling_jobs", "LabelingJobSummaryList", "LabelingJobName", "LabelingJobArn"),
    JobKind.TRAINING: ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "TrainingJobArn"),
    JobKind.TUNING: (
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobArn",
    ),
    JobKind.TRANSFORM: (
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        "TransformJobArn",
    ),
}


class SageMakerJobStopper:
    """StopLabelingJob, StopTrainingJob and StopHyperParameterTuningJob as JobStopper; with the
    List* calls, the StackJobs of teardown."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    def stop(self, kind: JobKind, name: str) -> bool:
        """Ask SageMaker to stop the job; False when there was nothing left to stop; a refusal (a
        permission, say) is RequestRefusedError, throttling and 5xx stay ClientError."""
        try:
            match kind:
                case JobKind.LABELING:
                    self._client.stop_labeling_job(LabelingJobName=name)
                case JobKind.TRAINING:
                    self._client.stop_training_job(TrainingJobName=name)
                case JobKind.TUNING:
                    self._client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                case JobKind.TRANSFORM:
                    self._client.stop_transform_job(TransformJobName=name)
                case _:
                    raise ValueError(f"{kind} is not a job that can be stopped")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _NOTHING_TO_STOP:
                return False
            refused = refusal(err, _OPERATIONS.get(kind, "Stop"))
            if refused is None:
                raise
            raise refused from err
        return True

    def running(self, kind: JobKind, name_contains: str) -> list[NamedResource]:
        """The jobs of that kind in progress whose names contain name_contains, every page."""
        operation, key, name, arn = _LISTS[kind]
        paginator: Any = self._client.get_paginator(operation)  # type: ignore[call-overload]
        pages = paginator.paginate(NameContains=name_contains, StatusEquals="InProgress")
        return [NamedResource(job[name], job[arn]) for page in pages for job in page[key]]
