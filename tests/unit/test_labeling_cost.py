"""The labeling cost estimate: Ground Truth's tiers plus the public workforce's price per task."""

from decimal import Decimal

import pytest

from sagechain.errors import DatasetRejectedError
from sagechain.pricing import estimate_labeling_cost, per_object_fees
from sagechain.spec import TaskType

PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"


@pytest.mark.parametrize(
    ("objects", "fees"),
    [
        (0, "0"),
        (1, "0.08"),
        (50_000, "4000.00"),
        (50_001, "4000.04"),
        (1_000_000, "42000.00"),
        (1_000_001, "42000.02"),
    ],
)
def test_per_object_fees_follow_ground_truths_tiers(objects: int, fees: str) -> None:
    assert per_object_fees(objects) == Decimal(fees)


def test_private_workforce_pays_only_ground_truth_fees() -> None:
    estimate = estimate_labeling_cost(TaskType.OBJECT_DETECTION, 100, 3, PRIVATE, None)

    assert (estimate.per_object_fees_usd, estimate.workforce_fees_usd) == (Decimal("8.00"), Decimal("0.00"))


def test_public_workforce_adds_workers_times_price_per_task() -> None:
    estimate = estimate_labeling_cost(TaskType.OBJECT_DETECTION, 100, 3, PUBLIC, Decimal("0.036"))

    assert estimate.workforce_fees_usd == Decimal("10.80")
    assert estimate.total_usd == Decimal("18.80")


def test_bounding_boxes_on_the_public_workforce_refuse_a_classification_only_price() -> None:
    with pytest.raises(DatasetRejectedError, match=r"object-detection: 0\.036, 0\.048"):
        estimate_labeling_cost(TaskType.OBJECT_DETECTION, 10, 1, PUBLIC, Decimal("0.012"))
