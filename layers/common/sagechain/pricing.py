"""What a run can cost, estimated before anything starts: labeling, training, the endpoint.

Ground Truth charges per labeled object in monthly tiers (first 50,000 objects $0.08,
the next 950,000 $0.04, beyond that $0.02: the AWS Ground Truth pricing page), plus,
for the public (Mechanical Turk) workforce, the price per task for every worker who
labels an object. A run is priced as if it were the month's first, which errs high.

Training and the endpoint are priced from a dated table of on-demand prices per instance hour
(below), which the stack parameter InstancePriceOverrides corrects or extends.
"""

from collections.abc import Mapping
from decimal import Decimal

from sagechain.errors import DatasetRejectedError
from sagechain.events import BatchCostEstimate, EndpointHourlyCost, LabelingCostEstimate, WorstCaseCost
from sagechain.spec import DatasetSpec, TaskType

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


# On-demand USD per instance hour, SageMaker AI training and real-time inference, US East
# (N. Virginia), for the instance types the stack allows by default. Source: the SageMaker AI
# pricing page (https://aws.amazon.com/sagemaker/pricing/, on-demand tab) and AWS's Price List
# offer file (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/
# us-east-1/index.json), as quoted in public projects' price tables of 2025-2026 (one read the
# offer file in 2026-08); collected 2026-12-01, not re-read from AWS itself. Where quotes
# disagreed (ml.g4dn.2xlarge 0.94 or 1.0528, ml.g5.xlarge 1.006 or 1.408, ml.g5.2xlarge 1.515
# or 1.52, ml.m5.xlarge hosting 0.23 or 0.269) the higher is kept: a worst case should err
# high. Other regions have no entry: set InstancePriceOverrides there.
PRICES_AS_OF = "2026-12-01"
TRAINING_PRICES: dict[str, dict[str, Decimal]] = {
    "us-east-1": {
        "ml.p3.2xlarge": Decimal("3.825"),
        "ml.g4dn.xlarge": Decimal("0.7364"),
        "ml.g4dn.2xlarge": Decimal("1.0528"),
        "ml.g5.xlarge": Decimal("1.408"),
        "ml.g5.2xlarge": Decimal("1.52"),
    },
}
ENDPOINT_PRICES: dict[str, dict[str, Decimal]] = {
    "us-east-1": {
        "ml.m5.large": Decimal("0.115"),
        "ml.m5.xlarge": Decimal("0.269"),
        "ml.c5.large": Decimal("0.102"),
        "ml.c5.xlarge": Decimal("0.204"),
        "ml.g4dn.xlarge": Decimal("0.7364"),
    },
}
HOURS_PER_DAY = 24


def _price(
    table: Mapping[str, Mapping[str, Decimal]],
    region: str,
    instance_type: str,
    overrides: Mapping[str, Decimal],
    field: str,
) -> Decimal:
    if instance_type in overrides:
        return overrides[instance_type]
    price = table.get(region, {}).get(instance_type)
    if price is None:
        raise DatasetRejectedError(
            f"{field} is {instance_type}, which has no known on-demand price in {region} (the price table "
            f"is dated {PRICES_AS_OF}), so the run's worst-case cost cannot be checked. Ask whoever deploys "
            f'the stack to add an override, e.g. InstancePriceOverrides="{instance_type}=<USD per hour>".'
        )
    return price


def training_job_count(spec: DatasetSpec) -> int:
    """How many training jobs the run may start: 1, the hyperparameter sets, or tuning's max_jobs."""
    training = spec.training
    if training.tuning is not None:
        return training.tuning.max_jobs
    if isinstance(training.hyperparameters, list):
        return len(training.hyperparameters)
    return 1


def check_prices_known(spec: DatasetSpec, region: str, overrides: Mapping[str, Decimal]) -> None:
    """Reject, before any image is listed, a run whose instance types have no price."""
    _price(TRAINING_PRICES, region, str(spec.training.instance_type), overrides, "training.instance_type")
    _price(ENDPOINT_PRICES, region, str(spec.deployment.instance_type), overrides, "deployment.instance_type")


def estimate_worst_case(
    spec: DatasetSpec,
    region: str,
    labeling_usd: Decimal,
    overrides: Mapping[str, Decimal],
    max_run_cost_usd: Decimal,
) -> WorstCaseCost:
    """The run's worst case: every job runs its full max_runtime on demand, the endpoint at max."""
    training, deployment = spec.training, spec.deployment
    training_type, endpoint_type = str(training.instance_type), str(deployment.instance_type)
    training_price = _price(TRAINING_PRICES, region, training_type, overrides, "training.instance_type")
    endpoint_price = _price(ENDPOINT_PRICES, region, endpoint_type, overrides, "deployment.instance_type")
    jobs = training_job_count(spec)
    hours = Decimal(training.max_runtime_seconds) / 3600
    training_usd = training.instance_count * hours * jobs * training_price
    per_day_min = deployment.min_instances * HOURS_PER_DAY * endpoint_price
    per_day_max = deployment.max_instances * HOURS_PER_DAY * endpoint_price
    all_overridden = all(t in overrides for t in (training_type, endpoint_type))
    return WorstCaseCost(
        prices_as_of="override" if all_overridden else PRICES_AS_OF,
        region=region,
        labeling_usd=labeling_usd.quantize(_CENT),
        training_instance_type=training_type,
        training_instance_count=training.instance_count,
        training_jobs=jobs,
        training_hours_per_job=hours.quantize(_CENT),
        training_usd_per_instance_hour=training_price,
        training_usd=training_usd.quantize(_CENT),
        spot=training.spot,
        endpoint_instance_type=endpoint_type,
        endpoint_usd_per_instance_hour=endpoint_price,
        endpoint_min_instances=deployment.min_instances,
        endpoint_max_instances=deployment.max_instances,
        endpoint_per_day_min_usd=per_day_min.quantize(_CENT),
        endpoint_per_day_max_usd=per_day_max.quantize(_CENT),
        total_usd=(labeling_usd + training_usd + per_day_max).quantize(_CENT),
        max_run_cost_usd=max_run_cost_usd,
    )


def describe_worst_case(cost: WorstCaseCost) -> str:
    """The worst case in one sentence, for reasons and emails."""
    spot = " (spot: at most this, usually less)" if cost.spot else ""
    return (
        f"${cost.total_usd} = labeling ${cost.labeling_usd} + training ${cost.training_usd} "
        f"({cost.training_jobs} job(s) x {cost.training_instance_count} x {cost.training_instance_type} x "
        f"{cost.training_hours_per_job} h at ${cost.training_usd_per_instance_hour}/h{spot}) + one day "
        f"of the endpoint at {cost.endpoint_max_instances} x {cost.endpoint_instance_type} "
        f"${cost.endpoint_per_day_max_usd} (${cost.endpoint_per_day_min_usd}/day at "
        f"{cost.endpoint_min_instances})"
    )


def endpoint_hourly_cost(
    region: str, instance_type: str, min_instances: int, max_instances: int, overrides: Mapping[str, Decimal]
) -> EndpointHourlyCost | None:
    """What the endpoint bills per hour at min and max instances; None when the price is unknown."""
    price = overrides.get(instance_type, ENDPOINT_PRICES.get(region, {}).get(instance_type))
    if price is None:
        return None
    return EndpointHourlyCost(
        prices_as_of="override" if instance_type in overrides else PRICES_AS_OF,
        region=region,
        instance_type=instance_type,
        usd_per_instance_hour=price,
        min_instances=min_instances,
        max_instances=max_instances,
        min_usd_per_hour=(min_instances * price).quantize(_CENT),
        max_usd_per_hour=(max_instances * price).quantize(_CENT),
    )


def delete_endpoint_commands(endpoint_name: str, config_name: str | None, model_name: str) -> list[str]:
    """The AWS CLI commands that stop an endpoint's bill: the endpoint, then its configuration and model."""
    describe = f"aws sagemaker describe-endpoint --endpoint-name {endpoint_name}"
    config = config_name or f"$({describe} --query EndpointConfigName --output text)"
    return [
        f"aws sagemaker delete-endpoint --endpoint-name {endpoint_name}",
        f"aws sagemaker delete-endpoint-config --endpoint-config-name {config}",
        f"aws sagemaker delete-model --model-name {model_name}",
    ]


def batch_cost_estimate(
    region: str,
    instance_type: str,
    instance_count: int,
    max_runtime_minutes: int,
    overrides: Mapping[str, Decimal],
) -> BatchCostEstimate | None:
    """The most a transform job bills: its instances for its max runtime; None when the price is unknown.

    Batch transform bills per instance-hour; the table's real-time inference rates stand in for it
    (the same instance types; set InstancePriceOverrides where the region's batch rates differ)."""
    price = overrides.get(instance_type, ENDPOINT_PRICES.get(region, {}).get(instance_type))
    if price is None:
        return None
    hours = (Decimal(max_runtime_minutes) / 60).quantize(_CENT)
    return BatchCostEstimate(
        prices_as_of="override" if instance_type in overrides else PRICES_AS_OF,
        region=region,
        instance_type=instance_type,
        instance_count=instance_count,
        usd_per_instance_hour=price,
        max_runtime_hours=hours,
        max_usd=(instance_count * price * Decimal(max_runtime_minutes) / 60).quantize(_CENT),
    )
