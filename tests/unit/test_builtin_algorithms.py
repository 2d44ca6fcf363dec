"""Built-in algorithm images per region and the hyperparameters the data decides."""

import pytest

from sagechain.errors import TrainingNotStartedError
from sagechain.spec import TaskType
from sagechain.training.builtin_algorithms import (
    IMAGE_CLASSIFICATION,
    OBJECT_DETECTION,
    computed_hyperparameters,
    label_width,
)


@pytest.mark.parametrize(
    ("region", "uri"),
    [
        ("us-east-1", "811284229777.dkr.ecr.us-east-1.amazonaws.com/object-detection:1"),
        ("ap-northeast-3", "867004704886.dkr.ecr.ap-northeast-3.amazonaws.com/object-detection:1"),
        ("cn-north-1", "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/object-detection:1"),
        ("us-iso-east-1", "490574956308.dkr.ecr.us-iso-east-1.c2s.ic.gov/object-detection:1"),
    ],
)
def test_images_come_from_the_regions_registry_on_its_partitions_domain(region: str, uri: str) -> None:
    assert OBJECT_DETECTION.image_uri(region) == uri


def test_a_region_offering_only_classification_refuses_detection_and_says_where_it_runs() -> None:
    assert IMAGE_CLASSIFICATION.image_uri("ca-west-1").startswith("190319476487.dkr.ecr.ca-west-1.")

    with pytest.raises(TrainingNotStartedError, match="not offered in ca-west-1") as refused:
        OBJECT_DETECTION.image_uri("ca-west-1")

    assert "eu-central-2" in refused.value.reason


@pytest.mark.parametrize(("boxes", "width"), [(0, None), (69, None), (70, 360), (10 * 10, 510)])
def test_label_width_grows_only_when_an_image_has_more_boxes_than_the_default_holds(
    boxes: int, width: int | None
) -> None:
    assert label_width(boxes) == width


def test_the_data_decides_classes_samples_and_multi_label() -> None:
    assert computed_hyperparameters(TaskType.IMAGE_CLASSIFICATION_MULTILABEL, 4, 120, 0) == {
        "num_classes": "4",
        "num_training_samples": "120",
        "multi_label": "1",
    }
    assert computed_hyperparameters(TaskType.OBJECT_DETECTION, 2, 30, 3) == {
        "num_classes": "2",
        "num_training_samples": "30",
    }
