"""SageMaker's built-in image classification and object detection algorithms: where their
images live in each region, what they report, and which hyperparameters they require.

Sources (AWS's own publications):
- Registry accounts: "Docker Registry Paths and Example Code" (docs.aws.amazon.com/sagemaker/
  latest/dg-ecr-paths/), as kept in the SageMaker Python SDK, which AWS maintains: the group
  ("seq2seq", "image-classification", "blazingtext", "object-detection",
  "semantic-segmentation") of tests/unit/sagemaker/image_uris/test_algos.py, and
  src/sagemaker/image_uri_config/image-classification.json, which adds ca-west-1 for image
  classification only. Spot-checked against the per-region pages for ap-northeast-3,
  ap-southeast-3, ap-southeast-4, ap-south-2, eu-central-2 and us-east-1.
- Image URI: <account>.dkr.ecr.<region>.<domain>/<algorithm>:1 ("use the :1 version tag to
  ensure that you are using a stable version of the algorithm"), the domain being the
  partition's DNS suffix (botocore's partitions.json).
- Hyperparameters: "Image Classification Hyperparameters" (IC-Hyperparameter) and "Object
  Detection Hyperparameters" (object-detection-api-config): num_classes and
  num_training_samples are required; multi_label (0 or 1, default 0) turns on multi-label
  classification; label_width (default 350) must hold 5 numbers per box plus a 2-number
  header, "slightly larger" recommended (60 for 52).
- Metrics: "Tune an Image Classification Model" (validation:accuracy, Maximize) and "Tune an
  Object Detection Model" (validation:mAP, Maximize).
- Channels: "Train with Augmented Manifest Image Format" in both algorithms' pages: train
  and validation, AttributeNames image first then label, RecordWrapperType RecordIO, Pipe
  mode; multi-label labels in Ground Truth's class-id form need the content type
  "application/x-recordio; label-format=class-id".
"""

from dataclasses import dataclass
from types import MappingProxyType

from sagechain.errors import TrainingNotStartedError
from sagechain.spec import TaskType

IMAGE_TAG = "1"
RECORDIO = "application/x-recordio"
CLASS_ID_LABELS = "application/x-recordio; label-format=class-id"
LABEL_WIDTH_DEFAULT = 350
_LABEL_HEADER = 2
_NUMBERS_PER_BOX = 5

# Region -> registry account of image-classification and object-detection.
_SHARED_ACCOUNTS = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-iso-east-1": "490574956308",
    "us-isob-east-1": "765400339828",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}
_IMAGE_CLASSIFICATION_ACCOUNTS = {**_SHARED_ACCOUNTS, "ca-west-1": "190319476487"}
# Partitions whose DNS suffix is not amazonaws.com (botocore's partitions.json).
_DOMAINS = {
    "cn-north-1": "amazonaws.com.cn",
    "cn-northwest-1": "amazonaws.com.cn",
    "us-iso-east-1": "c2s.ic.gov",
    "us-isob-east-1": "sc2s.sgov.gov",
}


@dataclass(frozen=True)
class BuiltinAlgorithm:
    """One built-in algorithm as sagechain trains it."""

    name: str
    objective_metric: str
    accounts: MappingProxyType[str, str]
    # Documented defaults, sent explicitly so the console and training.json show them.
    defaults: MappingProxyType[str, str]

    def image_uri(self, region: str) -> str:
        """The training image in region; an unsupported region is a reason to not start."""
        account = self.accounts.get(region)
        if account is None:
            raise TrainingNotStartedError(
                f"The built-in {self.name} algorithm is not offered in {region}. It is offered in: "
                f"{', '.join(sorted(self.accounts))}. Deploy the stack in one of those regions, or set "
                "training.algorithm in dataset.json to your own container image."
            )
        return f"{account}.dkr.ecr.{region}.{_DOMAINS.get(region, 'amazonaws.com')}/{self.name}:{IMAGE_TAG}"


IMAGE_CLASSIFICATION = BuiltinAlgorithm(
    name="image-classification",
    objective_metric="validation:accuracy",
    accounts=MappingProxyType(_IMAGE_CLASSIFICATION_ACCOUNTS),
    defaults=MappingProxyType({"epochs": "30", "learning_rate": "0.1", "mini_batch_size": "32"}),
)
OBJECT_DETECTION = BuiltinAlgorithm(
    name="object-detection",
    objective_metric="validation:mAP",
    accounts=MappingProxyType(_SHARED_ACCOUNTS),
    defaults=MappingProxyType({"epochs": "30", "learning_rate": "0.001", "mini_batch_size": "32"}),
)


def builtin_algorithm(task: TaskType) -> BuiltinAlgorithm:
    """The built-in algorithm that trains task."""
    return OBJECT_DETECTION if task is TaskType.OBJECT_DETECTION else IMAGE_CLASSIFICATION


def label_width(max_boxes: int) -> int | None:
    """object-detection's label_width when the busiest image needs more than the default."""
    needed = _LABEL_HEADER + _NUMBERS_PER_BOX * max_boxes
    if needed <= LABEL_WIDTH_DEFAULT:
        return None
    # "Slightly larger": the next multiple of 10 above what is needed (AWS's example: 52 -> 60).
    return (needed // 10 + 1) * 10


def computed_hyperparameters(
    task: TaskType, num_classes: int, train_objects: int, max_boxes: int
) -> dict[str, str]:
    """What the data decides: the required hyperparameters and the label format."""
    computed = {"num_classes": str(num_classes), "num_training_samples": str(train_objects)}
    if task is TaskType.IMAGE_CLASSIFICATION_MULTILABEL:
        computed["multi_label"] = "1"
    width = label_width(max_boxes) if task is TaskType.OBJECT_DETECTION else None
    if width is not None:
        computed["label_width"] = str(width)
    return computed


def channel_content_type(task: TaskType) -> str:
    """The content type of the augmented-manifest channels for task."""
    return CLASS_ID_LABELS if task is TaskType.IMAGE_CLASSIFICATION_MULTILABEL else RECORDIO
