"""Ground Truth's regions, Lambdas, algorithms and prices, as AWS documents them."""

from decimal import Decimal

import pytest

from sagechain.adapters.labeling_jobs import usd_amount
from sagechain.labeling.ground_truth import (
    SUPPORTED_REGIONS,
    UnsupportedRegionError,
    auto_labeling_algorithm_arn,
    task_lambdas,
    workforce_of,
)
from sagechain.pricing import PUBLIC_TASK_PRICES
from sagechain.spec import TaskType


@pytest.mark.parametrize(
    ("region", "task", "pre", "acs"),
    [
        (
            "us-east-1",
            TaskType.IMAGE_CLASSIFICATION,
            "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass",
            "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass",
        ),
        (
            "us-west-2",
            TaskType.OBJECT_DETECTION,
            "arn:aws:lambda:us-west-2:081040173940:function:PRE-BoundingBox",
            "arn:aws:lambda:us-west-2:081040173940:function:ACS-BoundingBox",
        ),
        (
            "eu-central-1",
            TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
            "arn:aws:lambda:eu-central-1:203001061592:function:PRE-ImageMultiClassMultiLabel",
            "arn:aws:lambda:eu-central-1:203001061592:function:ACS-ImageMultiClassMultiLabel",
        ),
        (
            "ap-northeast-1",
            TaskType.OBJECT_DETECTION,
            "arn:aws:lambda:ap-northeast-1:477331159723:function:PRE-BoundingBox",
            "arn:aws:lambda:ap-northeast-1:477331159723:function:ACS-BoundingBox",
        ),
        (
            "ca-central-1",
            TaskType.IMAGE_CLASSIFICATION,
            "arn:aws:lambda:ca-central-1:918755190332:function:PRE-ImageMultiClass",
            "arn:aws:lambda:ca-central-1:918755190332:function:ACS-ImageMultiClass",
        ),
        (
            "ap-south-1",
            TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
            "arn:aws:lambda:ap-south-1:565803892007:function:PRE-ImageMultiClassMultiLabel",
            "arn:aws:lambda:ap-south-1:565803892007:function:ACS-ImageMultiClassMultiLabel",
        ),
    ],
)
def test_each_region_has_its_documented_lambdas(region: str, task: TaskType, pre: str, acs: str) -> None:
    lambdas = task_lambdas(region, task)

    assert (lambdas.pre_human_task, lambdas.annotation_consolidation) == (pre, acs)


def test_every_region_ground_truth_offers_is_supported() -> None:
    assert SUPPORTED_REGIONS == (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "us-east-1",
        "us-east-2",
        "us-west-2",
    )


@pytest.mark.parametrize("region", ["us-west-1", "eu-north-1", "sa-east-1", "cn-north-1"])
def test_a_region_without_ground_truth_is_named_with_the_supported_ones(region: str) -> None:
    with pytest.raises(UnsupportedRegionError) as raised:
        task_lambdas(region, TaskType.IMAGE_CLASSIFICATION)

    assert f"not offered in {region}" in raised.value.reason
    assert ", ".join(SUPPORTED_REGIONS) in raised.value.reason


def test_auto_labeling_algorithms_exist_for_single_label_classification_and_boxes_only() -> None:
    assert auto_labeling_algorithm_arn("eu-west-2", TaskType.IMAGE_CLASSIFICATION) == (
        "arn:aws:sagemaker:eu-west-2:027400017018:labeling-job-algorithm-specification/image-classification"
    )
    assert auto_labeling_algorithm_arn("us-east-2", TaskType.OBJECT_DETECTION) == (
        "arn:aws:sagemaker:us-east-2:027400017018:labeling-job-algorithm-specification/object-detection"
    )
    assert auto_labeling_algorithm_arn("us-east-1", TaskType.IMAGE_CLASSIFICATION_MULTILABEL) is None
    assert auto_labeling_algorithm_arn("eu-north-1", TaskType.IMAGE_CLASSIFICATION) is None


@pytest.mark.parametrize(
    ("arn", "workforce"),
    [
        ("arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default", "public"),
        ("arn:aws:sagemaker:us-east-1:123456789012:workteam/vendor-crowd/acme", "vendor"),
        ("arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team", "private"),
    ],
)
def test_the_workforce_kind_is_read_from_the_work_team_arn(arn: str, workforce: str) -> None:
    assert workforce_of(arn) == workforce


@pytest.mark.parametrize(
    ("price", "amount"),
    [
        ("0.012", (0, 1, 2)),
        ("0.036", (0, 3, 6)),
        ("0.120", (0, 12, 0)),
        ("0.960", (0, 96, 0)),
        ("1.200", (1, 20, 0)),
    ],
)
def test_public_prices_are_sent_as_dollars_cents_and_tenths_of_a_cent(
    price: str, amount: tuple[int, int, int]
) -> None:
    assert usd_amount(Decimal(price)) == dict(
        zip(("Dollars", "Cents", "TenthFractionsOfACent"), amount, strict=True)
    )


def test_every_listed_public_price_survives_the_conversion() -> None:
    for prices in PUBLIC_TASK_PRICES.values():
        for price in prices:
            sent = usd_amount(price)
            assert (
                Decimal(sent["Dollars"])
                + Decimal(sent["Cents"]) / 100
                + Decimal(sent["TenthFractionsOfACent"]) / 1000
                == price
            )
