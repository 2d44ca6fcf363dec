"""SageMaker Ground Truth: creates labeling jobs from sagechain's plans."""

from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sagechain.adapters.clients import sagemaker_client
from sagechain.adapters.sagemaker import is_already_exists, refusal
from sagechain.console import console_url
from sagechain.ports import LabelingJobPlan

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import (
        CreateLabelingJobRequestTypeDef,
        HumanTaskConfigTypeDef,
        USDTypeDef,
    )


def usd_amount(price: Decimal) -> "USDTypeDef":
    """A price as PublicWorkforceTaskPrice.AmountInUsd: dollars, cents, tenths of a cent."""
    tenths = int(price * 1000)
    return {"Dollars": tenths // 1000, "Cents": tenths % 1000 // 10, "TenthFractionsOfACent": tenths % 10}


def create_labeling_job_request(plan: LabelingJobPlan) -> "CreateLabelingJobRequestTypeDef":
    """The CreateLabelingJob request a plan stands for."""
    human_task: HumanTaskConfigTypeDef = {
        "WorkteamArn": plan.workteam_arn,
        "UiConfig": {"UiTemplateS3Uri": plan.ui_template_uri},
        "PreHumanTaskLambdaArn": plan.pre_human_task_lambda_arn,
        "TaskKeywords": list(plan.keywords),
        "TaskTitle": plan.title,
        "TaskDescription": plan.description,
        "NumberOfHumanWorkersPerDataObject": plan.workers_per_object,
        "TaskTimeLimitInSeconds": plan.task_time_limit_seconds,
        "TaskAvailabilityLifetimeInSeconds": plan.task_availability_lifetime_seconds,
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": plan.annotation_consolidation_lambda_arn
        },
    }
    if plan.max_concurrent_tasks is not None:
        human_task["MaxConcurrentTaskCount"] = plan.max_concurrent_tasks
    if plan.public_task_price_usd is not None:
        human_task["PublicWorkforceTaskPrice"] = {"AmountInUsd": usd_amount(plan.public_task_price_usd)}
    request: CreateLabelingJobRequestTypeDef = {
        "LabelingJobName": plan.job_name,
        "LabelAttributeName": plan.label_attribute,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": plan.manifest_uri}}},
        "OutputConfig": {"S3OutputPath": plan.output_uri},
        "RoleArn": plan.role_arn,
        "LabelCategoryConfigS3Uri": plan.label_categories_uri,
        "HumanTaskConfig": human_task,
        "Tags": [{"Key": key, "Value": value} for key, value in plan.tags.items()],
    }
    if plan.auto_labeling_algorithm_arn is not None:
        request["LabelingJobAlgorithmsConfig"] = {
            "LabelingJobAlgorithmSpecificationArn": plan.auto_labeling_algorithm_arn
        }
    return request


class SageMakerLabelingJobs:
    """Ground Truth labeling jobs in the client's region."""

    def __init__(self, client: "SageMakerClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> "SageMakerClient":
        return self._given or sagemaker_client()

    @property
    def region(self) -> str:
        """The region jobs are created in."""
        return self._client.meta.region_name

    def console_url(self, job_name: str) -> str:
        """The job's page in the SageMaker console."""
        return console_url(self.region, "labeling-jobs", job_name)

    def create(self, plan: LabelingJobPlan) -> bool:
        """Create the job: True when created now, False when a job of that name already exists.

        A refusal a retry cannot fix (a quota, a value, a permission, something missing) raises
        RequestRefusedError; a transient error (throttling, 5xx) propagates for the caller's retry.
        """
        try:
            self._client.create_labeling_job(**create_labeling_job_request(plan))
        except ClientError as err:
            if is_already_exists(err):
                return False
            refused = refusal(err, "CreateLabelingJob")
            if refused is None:
                raise
            raise refused from err
        return True
