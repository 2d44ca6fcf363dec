"""The operator's bounds on what a dataset spec may ask for: the uploader is not the operator.

Whoever can write to the data bucket writes dataset.json; whoever deploys the stack sets its
parameters, and those bound every field that spends money or runs code. prepare_dataset
checks each spec against them before anything is written or started; deploy_model re-checks
what its own settings cover. Every refusal names the field, the value asked, the bound and
the stack parameter that sets it, so the uploader knows whom to ask.
"""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field

from sagechain.errors import DatasetRejectedError
from sagechain.layout import deploying_key, model_key
from sagechain.ports import ObjectStore
from sagechain.pricing import is_public_workforce
from sagechain.records import ModelInfo, read_record
from sagechain.settings import EnvironmentSettings, NamePrefix, OptionalStr
from sagechain.spec import (
    CANARY_MAX_PERCENT,
    LINEAR_MAX_PERCENT,
    LINEAR_MIN_PERCENT,
    DatasetSpec,
    DeploymentSpec,
    LabelingMode,
    RolloutStrategy,
    TrainingSpec,
)

HOUR = 3600
# CreateTrainingJob's MaxWaitTimeInSeconds is at most 28 days; without max_wait_seconds a spot
# job waits twice its runtime, capped there (training/plan.py builds the request the same way).
_SPOT_WAIT_CAP_SECONDS = 28 * 24 * HOUR


def _comma_list(value: object) -> object:
    # CloudFormation passes a CommaDelimitedList to an environment variable joined by commas.
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _price_overrides(value: object) -> object:
    """'ml.p3.2xlarge=3.825,ml.m5.large=0.115' as {instance type: USD per hour}."""
    if not isinstance(value, str):
        return value
    prices: dict[str, Decimal] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        instance_type, _, price = item.partition("=")
        try:
            prices[instance_type.strip()] = Decimal(price.strip())
        except InvalidOperation:
            raise ValueError(f"{item!r} is not instance-type=USD-per-hour") from None
    return prices


CommaList = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]
PriceOverrides = Annotated[dict[str, Annotated[Decimal, Field(ge=0)]], BeforeValidator(_price_overrides)]


class Guardrails(EnvironmentSettings):
    """Stack parameters that bound what any spec may ask for (prepare_dataset's environment)."""

    account_id: str = Field(alias="ACCOUNT_ID", pattern=r"^[0-9]{12}$")
    # Lambda sets AWS_REGION itself (a reserved variable); tests and tools set AWS_DEFAULT_REGION.
    region: str = Field(validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"), min_length=1)
    name_prefix: NamePrefix
    allowed_training_image_repositories: CommaList = Field(alias="ALLOWED_TRAINING_IMAGE_REPOSITORIES")
    allowed_training_instance_types: CommaList = Field(alias="ALLOWED_TRAINING_INSTANCE_TYPES", min_length=1)
    allowed_endpoint_instance_types: CommaList = Field(alias="ALLOWED_ENDPOINT_INSTANCE_TYPES", min_length=1)
    max_training_hours: int = Field(alias="MAX_TRAINING_HOURS", ge=1, le=672)
    max_training_instances: int = Field(alias="MAX_TRAINING_INSTANCES", ge=1)
    max_training_volume_gb: int = Field(alias="MAX_TRAINING_VOLUME_GB", ge=1)
    max_spot_wait_hours: int = Field(alias="MAX_SPOT_WAIT_HOURS", ge=1)
    max_hyperparameter_sets: int = Field(alias="MAX_HYPERPARAMETER_SETS", ge=1)
    max_tuning_jobs: int = Field(alias="MAX_TUNING_JOBS", ge=1)
    max_parallel_tuning_jobs: int = Field(alias="MAX_PARALLEL_TUNING_JOBS", ge=1)
    max_endpoint_instances: int = Field(alias="MAX_ENDPOINT_INSTANCES", ge=1)
    # 0: endpoints may live until someone deletes them.
    max_endpoint_ttl_hours: int = Field(alias="MAX_ENDPOINT_TTL_HOURS", ge=0)
    # The same variable SpecDefaults fills an absent labeling.max_cost_usd from.
    max_labeling_cost_usd: Decimal = Field(alias="DEFAULT_MAX_LABELING_COST_USD", ge=0)
    allow_public_workforce: bool = Field(alias="ALLOW_PUBLIC_WORKFORCE")
    allowed_workteam_arns: CommaList = Field(alias="ALLOWED_WORKTEAM_ARNS")
    default_workteam_arn: OptionalStr = Field(default=None, alias="DEFAULT_WORKTEAM_ARN")
    max_run_cost_usd: Decimal = Field(alias="MAX_RUN_COST_USD", ge=0)
    instance_price_overrides: PriceOverrides = Field(alias="INSTANCE_PRICE_OVERRIDES")
    # deployment.rollout and deployment.max_latency_p99_ms (stack parameters MaxRolloutBakingMinutes,
    # MaxRolloutMinutes, MaxModelLatencyMs). SageMaker caps an update at 8 hours
    # (MaximumExecutionTimeoutInSeconds 28,800); an hour of it is left for provisioning.
    max_rollout_baking_minutes: int = Field(default=60, alias="MAX_ROLLOUT_BAKING_MINUTES", ge=0, le=60)
    max_rollout_minutes: int = Field(default=240, alias="MAX_ROLLOUT_MINUTES", ge=0, le=420)
    max_model_latency_ms: int = Field(default=5_000, alias="MAX_MODEL_LATENCY_MS", gt=0)

    def image_repository_prefixes(self) -> tuple[str, ...]:
        """Where custom training images may come from: the parameter's list, else this
        account's repositories named with the stack's NamePrefix in the stack's region."""
        if self.allowed_training_image_repositories:
            return self.allowed_training_image_repositories
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        registry = f"{self.account_id}.dkr.ecr.{self.region}.{suffix}"
        return (f"{registry}/{self.name_prefix}-", f"{registry}/{self.name_prefix}/")

    def workteams(self) -> tuple[str, ...]:
        """The private or vendor work teams a spec may name (the public one aside)."""
        default = (self.default_workteam_arn,) if self.default_workteam_arn else ()
        return tuple(dict.fromkeys((*default, *self.allowed_workteam_arns)))


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values) or "(none)"


def _at_most(field: str, asked: int | Decimal, bound: int | Decimal, parameter: str, unit: str = "") -> str:
    return f"{field} is {asked}{unit}; this stack allows at most {bound}{unit} (stack parameter {parameter})"


def spot_wait_seconds(training: TrainingSpec) -> int:
    """How long a spot job may wait in all: max_wait_seconds, else twice the runtime (capped)."""
    if training.max_wait_seconds is not None:
        return training.max_wait_seconds
    return max(training.max_runtime_seconds, min(2 * training.max_runtime_seconds, _SPOT_WAIT_CAP_SECONDS))


def training_violations(training: TrainingSpec, bounds: Guardrails) -> list[str]:
    """What the training section asks beyond the stack's bounds."""
    found = []
    sources = bounds.image_repository_prefixes()
    if training.algorithm != "builtin" and not training.algorithm.startswith(sources):
        found.append(
            f"training.algorithm is {training.algorithm}; this stack runs only 'builtin' and images "
            f"whose URI starts with {_listed(sources)} (stack parameter AllowedTrainingImageRepositories)"
        )
    allowed_types = bounds.allowed_training_instance_types
    if training.instance_type not in allowed_types:
        found.append(
            f"training.instance_type is {training.instance_type}; this stack allows {_listed(allowed_types)} "
            "(stack parameter AllowedTrainingInstanceTypes)"
        )
    count, most = training.instance_count, bounds.max_training_instances
    if count > most:
        found.append(_at_most("training.instance_count", count, most, "MaxTrainingInstances"))
    volume, most = training.volume_size_gb, bounds.max_training_volume_gb
    if volume > most:
        found.append(_at_most("training.volume_size_gb", volume, most, "MaxTrainingVolumeGb", " GB"))
    runtime, hours = training.max_runtime_seconds, bounds.max_training_hours
    if runtime > hours * HOUR:
        found.append(
            f"training.max_runtime_seconds is {runtime} ({runtime / HOUR:g} hours); this stack allows at "
            f"most {hours * HOUR} ({hours} hours) (stack parameter MaxTrainingHours)"
        )
    wait, hours = spot_wait_seconds(training), bounds.max_spot_wait_hours
    if training.spot and wait > hours * HOUR:
        implied = "" if training.max_wait_seconds is not None else ", by default twice max_runtime_seconds"
        found.append(
            f"training.max_wait_seconds is {wait} ({wait / HOUR:g} hours{implied}); this stack allows at "
            f"most {hours * HOUR} ({hours} hours) (stack parameter MaxSpotWaitHours)"
        )
    sets, most = training.hyperparameters, bounds.max_hyperparameter_sets
    if isinstance(sets, list) and len(sets) > most:
        found.append(_at_most("training.hyperparameters", len(sets), most, "MaxHyperparameterSets", " sets"))
    tuning = training.tuning
    if tuning is not None and tuning.max_jobs > bounds.max_tuning_jobs:
        found.append(
            _at_most("training.tuning.max_jobs", tuning.max_jobs, bounds.max_tuning_jobs, "MaxTuningJobs")
        )
    if tuning is not None and tuning.max_parallel_jobs > bounds.max_parallel_tuning_jobs:
        found.append(
            _at_most(
                "training.tuning.max_parallel_jobs",
                tuning.max_parallel_jobs,
                bounds.max_parallel_tuning_jobs,
                "MaxParallelTuningJobs",
            )
        )
    return found


def endpoint_violations(
    deployment: DeploymentSpec, allowed_instance_types: tuple[str, ...], max_instances: int
) -> list[str]:
    """What the deployment section asks beyond the stack's bounds."""
    found = []
    if deployment.instance_type not in allowed_instance_types:
        found.append(
            f"deployment.instance_type is {deployment.instance_type}; this stack allows "
            f"{_listed(allowed_instance_types)} (stack parameter AllowedEndpointInstanceTypes)"
        )
    if deployment.max_instances > max_instances:
        found.append(
            _at_most(
                "deployment.max_instances", deployment.max_instances, max_instances, "MaxEndpointInstances"
            )
        )
    return found


def ttl_violations(deployment: DeploymentSpec, max_hours: int) -> list[str]:
    """An endpoint asked to live longer than the stack allows (ttl_hours 0 is forever)."""
    hours = deployment.ttl_hours or 0
    if max_hours == 0 or 0 < hours <= max_hours:
        return []
    asked = "0 (never expires, by default DefaultEndpointTtlHours)" if hours == 0 else f"{hours} hours"
    return [
        f"deployment.ttl_hours is {asked}; this stack deletes endpoints after at most {max_hours} hours "
        "(stack parameter MaxEndpointTtlHours)"
    ]


def rollout_violations(deployment: DeploymentSpec, bounds: Guardrails) -> list[str]:
    """An update that would bake or take longer, or tolerate more latency, than the stack allows, or
    a canary or linear step outside SageMaker's rules (the spec has its defaults)."""
    rollout, found = deployment.rollout, []
    baking = rollout.baking_minutes or 0
    if baking > bounds.max_rollout_baking_minutes:
        found.append(
            _at_most(
                "deployment.rollout.baking_minutes",
                baking,
                bounds.max_rollout_baking_minutes,
                "MaxRolloutBakingMinutes",
                " minutes",
            )
        )
    size, strategy = rollout.step_size(), rollout.strategy
    if rollout.size_unit == "percent" and strategy == RolloutStrategy.CANARY and size > CANARY_MAX_PERCENT:
        found.append(
            f"deployment.rollout.size is {size} %; a canary is at most {CANARY_MAX_PERCENT} % of the new "
            "fleet "
            "(SageMaker deployment guardrails)"
        )
    if (
        rollout.size_unit == "percent"
        and strategy == RolloutStrategy.LINEAR
        and not (LINEAR_MIN_PERCENT <= size <= LINEAR_MAX_PERCENT)
    ):
        found.append(
            f"deployment.rollout.size is {size} %; a linear step is "
            f"{LINEAR_MIN_PERCENT}-{LINEAR_MAX_PERCENT} % "
            "of the new fleet (SageMaker deployment guardrails)"
        )
    fleet = deployment.min_instances
    total, most = rollout.total_minutes(fleet), bounds.max_rollout_minutes
    if total > most:
        shifts = rollout.shifts(fleet)
        unit = "%" if rollout.size_unit == "percent" else " instances"
        how = (
            f"a linear step of {size}{unit} every {rollout.wait_minutes} minutes reaches 100 % only after "
            f"{shifts} steps"
            if strategy == RolloutStrategy.LINEAR
            else f"{strategy} with {rollout.wait_minutes} minutes of waiting"
        )
        found.append(
            f"deployment.rollout: {how}, {total} minutes with {baking} minutes of baking; this stack lets an "
            f"update take at most {most} minutes (stack parameter MaxRolloutMinutes)"
        )
    latency, most = deployment.max_latency_p99_ms, bounds.max_model_latency_ms
    if latency is not None and latency > most:
        found.append(_at_most("deployment.max_latency_p99_ms", latency, most, "MaxModelLatencyMs", " ms"))
    return found


def labeling_violations(spec: DatasetSpec, bounds: Guardrails) -> list[str]:
    """What the labeling section asks beyond the stack's bounds (the spec has its defaults)."""
    labeling = spec.labeling
    found = []
    if labeling.max_cost_usd is not None and labeling.max_cost_usd > bounds.max_labeling_cost_usd:
        found.append(
            f"labeling.max_cost_usd is {labeling.max_cost_usd}; a spec may lower the stack's ceiling of "
            f"{bounds.max_labeling_cost_usd}, never raise it (stack parameter MaxLabelingCostUsd)"
        )
    workteam = labeling.workteam_arn
    if labeling.mode is not LabelingMode.GROUND_TRUTH or workteam is None:
        return found
    if is_public_workforce(workteam):
        if not bounds.allow_public_workforce:
            found.append(
                f"labeling.workteam_arn is {workteam}, the public Mechanical Turk workforce; this stack "
                "does not send images to it (stack parameter AllowPublicWorkforce)"
            )
    elif workteam not in bounds.workteams():
        found.append(
            f"labeling.workteam_arn is {workteam}; this stack labels only with {_listed(bounds.workteams())} "
            "(stack parameters DefaultWorkteamArn and AllowedWorkteamArns)"
        )
    return found


def serving_image_violations(deployment: DeploymentSpec, bounds: Guardrails) -> list[str]:
    """A serving image from outside the repositories training images may come from."""
    sources = bounds.image_repository_prefixes()
    if deployment.image is None or deployment.image.startswith(sources):
        return []
    return [
        f"deployment.image is {deployment.image}; this stack serves only images whose URI starts with "
        f"{_listed(sources)} (stack parameter AllowedTrainingImageRepositories)"
    ]


def spec_violations(spec: DatasetSpec, bounds: Guardrails) -> list[str]:
    """Every way the spec (with the stack's defaults filled in) exceeds the stack's bounds."""
    return [
        *labeling_violations(spec, bounds),
        *training_violations(spec.training, bounds),
        *serving_image_violations(spec.deployment, bounds),
        *endpoint_violations(
            spec.deployment, bounds.allowed_endpoint_instance_types, bounds.max_endpoint_instances
        ),
        *ttl_violations(spec.deployment, bounds.max_endpoint_ttl_hours),
        *rollout_violations(spec.deployment, bounds),
    ]


def check_spec(spec: DatasetSpec, bounds: Guardrails) -> None:
    """Reject a spec that asks for more than the stack allows, naming every excess."""
    found = spec_violations(spec, bounds)
    if found:
        raise DatasetRejectedError(
            "dataset.json asks for more than this stack allows: "
            + "; ".join(found)
            + ". Change dataset.json, or ask whoever deploys the stack to change the parameter."
        )


def endpoint_owner(store: ObjectStore, endpoint: str) -> ModelInfo | None:
    """The model that claims the endpoint: the live one (models/<endpoint>/model.json), else the
    deployment in flight (deploying.json); None when no dataset has deployed there."""
    return read_record(store, model_key(endpoint), ModelInfo) or read_record(
        store, deploying_key(endpoint), ModelInfo
    )


def foreign_endpoint(owner: ModelInfo | None, dataset: str, endpoint: str) -> str | None:
    """Why the dataset may not deploy onto the endpoint, or None when it may."""
    if owner is None or owner.dataset == dataset:
        return None
    return (
        f"deployment.endpoint_name is {endpoint}, the endpoint of dataset {owner.dataset!r} (run "
        f"{owner.run_id}); an endpoint belongs to the dataset that created it, so dataset {dataset!r} "
        "cannot deploy onto it. Choose another deployment.endpoint_name, or leave it out to get your own"
    )
