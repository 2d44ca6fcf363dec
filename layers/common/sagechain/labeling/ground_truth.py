"""What Ground Truth offers, per region and per task, taken from AWS's documentation.

Every table here cites its page. The built-in task types' Lambdas (pre-annotation
PRE-<Task>, annotation consolidation ACS-<Task>) live in one AWS-owned account per
region; only the regions listed have them, so only they can run sagechain's labeling jobs.
"""

from dataclasses import dataclass
from typing import Literal

from sagechain.errors import DatasetRejectedError
from sagechain.pricing import is_public_workforce
from sagechain.spec import TaskType

# Region -> the AWS account that owns Ground Truth's built-in Lambdas there. Source: the
# SageMaker API reference, HumanTaskConfig.PreHumanTaskLambdaArn and
# AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AnnotationConsolidationConfig.html):
# both pages list the same twelve regions, one account each, for every image task type.
LAMBDA_ACCOUNTS: dict[str, str] = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
SUPPORTED_REGIONS: tuple[str, ...] = tuple(sorted(LAMBDA_ACCOUNTS))

# LabelingJobAlgorithmsConfig.LabelingJobAlgorithmSpecificationArn (API reference,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_LabelingJobAlgorithmsConfig.html):
# arn:aws:sagemaker:<region>:027400017018:labeling-job-algorithm-specification/<algorithm>,
# offered for image classification, text classification, object detection and semantic
# segmentation: not for multi-label image classification.
ALGORITHM_ACCOUNT = "027400017018"
# "The system minimum for automated labeling is 1,250 objects" (we strongly suggest 5,000):
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-automated-labeling.html
AUTO_LABELING_MIN_OBJECTS = 1_250
AUTO_LABELING_SUGGESTED_OBJECTS = 5_000

# Amazon Mechanical Turk's work team is the same ARN in every region:
# arn:aws:sagemaker:<region>:394669845002:workteam/public-crowd/default
# (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-workforce-management-public.html).
# HumanTaskConfig.TaskAvailabilityLifetimeInSeconds: at most 12 hours for that workforce.
PUBLIC_WORKFORCE_MAX_AVAILABILITY_SECONDS = 43_200

Workforce = Literal["private", "vendor", "public"]


@dataclass(frozen=True)
class TaskProfile:
    """How one sagechain task runs as a Ground Truth built-in task type."""

    lambda_suffix: str
    algorithm: str | None
    # The crowd HTML element of AWS's worker task template for the task type, the name
    # its answer is stored under (the consolidation Lambda reads it), and the attribute
    # that receives the label list.
    element: str
    element_name: str
    labels_attribute: str
    keywords: tuple[str, ...]
    default_title: str
    default_question: str
    default_instructions: str
    min_labels: int
    max_labels: int | None


# Lambda suffixes, templates and label limits per task type, from each task type's page:
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-image-classification.html
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-image-classification-multilabel.html (up to 50 labels)
# https://docs.aws.amazon.com/sagemaker/latest/dg/sms-bounding-box.html (up to 50 labels)
# Classification needs at least two label categories (CreateLabelingJob, LabelCategoryConfigS3Uri).
TASK_PROFILES: dict[TaskType, TaskProfile] = {
    TaskType.IMAGE_CLASSIFICATION: TaskProfile(
        lambda_suffix="ImageMultiClass",
        algorithm="image-classification",
        element="crowd-image-classifier",
        element_name="crowd-image-classifier",
        labels_attribute="categories",
        keywords=("Images", "Image Classification"),
        default_title="Classify images",
        default_question="Which label fits this image best?",
        default_instructions="Look at the whole image, then choose the one label that fits it best.",
        min_labels=2,
        max_labels=None,
    ),
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: TaskProfile(
        lambda_suffix="ImageMultiClassMultiLabel",
        algorithm=None,
        element="crowd-image-classifier-multi-select",
        element_name="crowd-image-classifier-multi-select",
        labels_attribute="categories",
        keywords=("Images", "Image Classification"),
        default_title="Tag images with every label that applies",
        default_question="Which labels apply to this image? Choose all that do.",
        default_instructions="Look at the whole image, then choose every label that applies to it.",
        min_labels=2,
        max_labels=50,
    ),
    TaskType.OBJECT_DETECTION: TaskProfile(
        lambda_suffix="BoundingBox",
        algorithm="object-detection",
        element="crowd-bounding-box",
        element_name="boundingBox",
        labels_attribute="labels",
        keywords=("Images", "Bounding Box"),
        default_title="Draw boxes around objects",
        default_question="Draw a box around every object of the listed labels.",
        default_instructions=(
            "Draw one tight box around each object of a listed label, choose its label, and leave "
            "out shadows. If an object runs off the image, draw the box to the image's edge."
        ),
        min_labels=1,
        max_labels=50,
    ),
}


class UnsupportedRegionError(DatasetRejectedError):
    """The stack's region has no Ground Truth built-in task types."""

    def __init__(self, region: str) -> None:
        super().__init__(
            f"Ground Truth's built-in image labeling is not offered in {region}; it runs in "
            f"{', '.join(SUPPORTED_REGIONS)}. Deploy the stack in one of those regions, or "
            "provide the labels yourself (labeling.mode = provided)."
        )
        self.region = region


@dataclass(frozen=True)
class TaskLambdas:
    """The pre-annotation and annotation-consolidation Lambdas of one task type in one region."""

    pre_human_task: str
    annotation_consolidation: str


def task_lambdas(region: str, task: TaskType) -> TaskLambdas:
    """The built-in Lambdas of a task in a region; UnsupportedRegionError where there are none."""
    account = LAMBDA_ACCOUNTS.get(region)
    if account is None:
        raise UnsupportedRegionError(region)
    suffix = TASK_PROFILES[task].lambda_suffix
    prefix = f"arn:aws:lambda:{region}:{account}:function"
    return TaskLambdas(f"{prefix}:PRE-{suffix}", f"{prefix}:ACS-{suffix}")


def auto_labeling_algorithm_arn(region: str, task: TaskType) -> str | None:
    """The automated data labeling algorithm of a task in a region (None: not offered)."""
    algorithm = TASK_PROFILES[task].algorithm
    if algorithm is None or region not in LAMBDA_ACCOUNTS:
        return None
    return f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{algorithm}"


def workforce_of(workteam_arn: str) -> Workforce:
    """Which kind of workforce a work team ARN names (…:workteam/<kind>-crowd/<name>)."""
    if is_public_workforce(workteam_arn):
        return "public"
    if ":workteam/vendor-crowd/" in workteam_arn:
        return "vendor"
    return "private"


def region_of(arn: str) -> str:
    """The region field of an ARN (arn:partition:service:region:account:resource)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""
