"""Ground Truth's bill for a run, estimated before the job starts.

Ground Truth charges per labeled object in monthly tiers (first 50,000 objects $0.08,
the next 950,000 $0.04, beyond that $0.02: the AWS Ground Truth pricing page), plus,
for the public (Mechanical Turk) workforce, the price per task for every worker who
labels an object. A run is priced as if it were the month's first, which errs high.
"""

from decimal import Decimal

from sagechain.errors import DatasetRejectedError
from sagechain.events import LabelingCostEstimate
from sagechain.spec import TaskType

# (objects in the tier, USD per object); None = no upper bound.
PER_OBJECT_TIERS: tuple[tuple[int | None, Decimal], ...] = (
    (50_000, Decimal("0.08")),
    (950_000, Decimal("0.04")),
    (None, Decimal("0.02")),
)

# The prices AWS accepts for PublicWorkforceTaskPrice (API reference), in USD.
_CLASSIFICATION_PRICES = (
    "0.012 0.024 0.036 0.048 0.060 0.072 0.120 0.240 0.360 0.480 0.600 0.720 0.840 0.960 1.080 1.200"
)
_BOUNDING_BOX_PRICES = "0.036 0.048 0.060 0.072 0.120 0.240 0.360 0.480 0.600 0.720 0.840 0.960 1.080 1.200"
PUBLIC_TASK_PRICES: dict[TaskType, tuple[Decimal, ...]] = {
    TaskType.IMAGE_CLASSIFICATION: tuple(map(Decimal, _CLASSIFICATION_PRICES.split())),
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: tuple(map(Decimal, _CLASSIFICATION_PRICES.split())),
    TaskType.OBJECT_DETECTION: tuple(map(Decimal, _BOUNDING_BOX_PRICES.split())),
}
_CENT = Decimal("0.01")


def is_public_workforce(workteam_arn: str | None) -> bool:
    """Whether the workteam is Amazon Mechanical Turk's public crowd."""
    return workteam_arn is not None and ":workteam/public-crowd/" in workteam_arn


def per_object_fees(objects: int) -> Decimal:
    """Ground Truth's tiered per-object fee for this many objects."""
    total = Decimal(0)
    remaining = objects
    for size, price in PER_OBJECT_TIERS:
        in_tier = remaining if size is None else min(remaining, size)
        total += in_tier * price
        remaining -= in_tier
        if remaining == 0:
            break
    return total


def estimate_labeling_cost(
    task: TaskType,
    objects: int,
    workers_per_object: int,
    workteam_arn: str | None,
    price_per_task_usd: Decimal | None,
) -> LabelingCostEstimate:
    """The estimate; a public workforce needs a price from AWS's list."""
    workforce = Decimal(0)
    if is_public_workforce(workteam_arn):
        allowed = PUBLIC_TASK_PRICES[task]
        if price_per_task_usd is None or price_per_task_usd not in allowed:
            raise DatasetRejectedError(
                "The public workforce needs labeling.price_per_task_usd set to one of AWS's prices "
                f"for {task.value}: {', '.join(str(p) for p in allowed)} (USD)."
            )
        workforce = objects * workers_per_object * price_per_task_usd
    fees = per_object_fees(objects)
    return LabelingCostEstimate(
        objects=objects,
        per_object_fees_usd=fees.quantize(_CENT),
        workforce_fees_usd=workforce.quantize(_CENT),
        total_usd=(fees + workforce).quantize(_CENT),
    )
