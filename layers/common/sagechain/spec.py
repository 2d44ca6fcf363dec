"""The dataset spec (dataset.json): what a team uploads to start a run.

Only `task` and `labels` are required; the rest defaults from the stack's parameters.
`python -m sagechain.spec` prints the JSON Schema published in docs/.
"""

import json
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from sagechain import names
from sagechain.errors import DatasetRejectedError
from sagechain.settings import SpecDefaults

SCHEMA_ID = "https://sagechain.dev/schemas/dataset-spec.json"
_ARN_WORKTEAM = r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.+$"
_IMAGE_URI = r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/[^\s]+$"
_INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
# Fields the stack's parameters bound say so in the published schema: the uploader is not
# the operator (sagechain.guardrails checks them at upload).
_BOUNDED = "Bounded by the stack (parameter {}): a spec beyond it is rejected at upload."

LEGACY_ALLOW_WORSE_MODEL = "allow_worse_model"

Label = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=256)]
HyperparameterValue = str | int | float | bool
Hyperparameters = dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], HyperparameterValue]


class TaskType(StrEnum):
    """What the model learns to do."""

    IMAGE_CLASSIFICATION = "image-classification"
    IMAGE_CLASSIFICATION_MULTILABEL = "image-classification-multilabel"
    OBJECT_DETECTION = "object-detection"

    @property
    def is_classification(self) -> bool:
        """True for single- and multi-label classification."""
        return self is not TaskType.OBJECT_DETECTION


class LabelingMode(StrEnum):
    """Who labels the images: the team in its own tool (Label Studio, CVAT), a Ground Truth job,
    or the team before upload."""

    LABEL_STUDIO = "label-studio"
    CVAT = "cvat"
    GROUND_TRUTH = "ground-truth"
    PROVIDED = "provided"

    @property
    def is_own_tool(self) -> bool:
        """True for the team's own labeling tool (Label Studio, CVAT): annotations come back by upload."""
        return self in (LabelingMode.LABEL_STUDIO, LabelingMode.CVAT)


class _Section(BaseModel):
    # Unknown keys are typos a person wants to hear about, not silently ignore.
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class LabelingSpec(_Section):
    """How the images get labels."""

    # Ground Truth is closed to new AWS customers; labeling in the team's own Label Studio works
    # in every account, so it is what a spec that names no mode gets.
    mode: LabelingMode = Field(
        default=LabelingMode.LABEL_STUDIO,
        description=(
            "label-studio (default: works in every account), cvat, ground-truth (accounts that have "
            "Ground Truth; it is closed to new AWS customers) or provided (labels come with the dataset)."
        ),
    )
    labels_file: str | None = Field(
        default=None,
        description=(
            "mode=provided: a file in the dataset folder holding the labels. "
            "'*.manifest' is a Ground Truth output manifest, '*.json' is COCO "
            "(Label Studio, CVAT). Absent: class folders images/<label>/..."
        ),
        pattern=r"^[^/\\]+\.(manifest|json)$",
    )
    label_attribute: str = Field(
        default="label",
        description="The label attribute name in the manifests (not ending in -metadata).",
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        max_length=127,
    )
    workteam_arn: str | None = Field(
        default=None,
        pattern=_ARN_WORKTEAM,
        description=(
            "Ground Truth work team; default DefaultWorkteamArn. "
            + _BOUNDED.format("DefaultWorkteamArn, AllowedWorkteamArns; the public one: AllowPublicWorkforce")
        ),
    )
    workers_per_object: int = Field(default=1, ge=1, le=9)
    price_per_task_usd: Decimal | None = Field(
        default=None,
        ge=0,
        description="Public workforce only: what each worker is paid per task (AWS's price list).",
    )
    task_title: str | None = Field(default=None, min_length=1, max_length=128)
    task_description: str | None = Field(default=None, min_length=1, max_length=255)
    instructions: str | None = Field(default=None, min_length=1, max_length=10_000)
    task_time_limit_seconds: int = Field(default=300, ge=30, le=28_800)
    task_availability_lifetime_seconds: int = Field(default=864_000, ge=60, le=864_000)
    max_concurrent_tasks: int | None = Field(default=None, ge=1, le=5_000)
    auto_labeling: bool = False
    max_cost_usd: Decimal | None = Field(
        default=None,
        ge=0,
        description=(
            "A run whose estimated labeling cost is higher is rejected; default MaxLabelingCostUsd, "
            "which a spec may lower, never raise. " + _BOUNDED.format("MaxLabelingCostUsd")
        ),
    )

    @model_validator(mode="after")
    def _labels_file_needs_provided(self) -> Self:
        if self.labels_file and self.mode is not LabelingMode.PROVIDED:
            raise ValueError("labels_file is read only with mode 'provided'")
        return self

    @field_validator("label_attribute")
    @classmethod
    def _not_metadata(cls, value: str) -> str:
        if value.endswith("-metadata"):
            raise ValueError("label_attribute must not end in '-metadata' (Ground Truth reserves it)")
        return value


class MetricDefinition(_Section):
    """A metric a custom container prints, and the regex that finds it in the logs."""

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from err
        return value


class ParameterRange(_Section):
    """One hyperparameter range to tune."""

    name: str = Field(min_length=1, max_length=256)
    type: Literal["continuous", "integer", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = Field(default=None, min_length=1, max_length=30)
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds_or_values(self) -> Self:
        if self.type == "categorical":
            if not self.values:
                raise ValueError(f"categorical range {self.name!r} needs values")
        elif self.min is None or self.max is None or self.min >= self.max:
            raise ValueError(f"range {self.name!r} needs min < max")
        return self


class TuningSpec(_Section):
    """A hyperparameter tuning job instead of a single training job."""

    strategy: Literal["Random", "Bayesian", "Hyperband"] = "Bayesian"
    objective_metric: str = Field(min_length=1, max_length=255)
    objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    max_jobs: int = Field(default=10, ge=1, le=500, description=_BOUNDED.format("MaxTuningJobs"))
    max_parallel_jobs: int = Field(
        default=2, ge=1, le=100, description=_BOUNDED.format("MaxParallelTuningJobs")
    )
    ranges: list[ParameterRange] = Field(min_length=1, max_length=30)


# CreateTrainingJob's Channel.ChannelName (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html).
CHANNEL_NAME = r"^[A-Za-z0-9.\-_]{1,64}$"
# The data channels sagechain fills from the run's labeled images.
DATA_CHANNELS = ("train", "validation")
# A folder of the dataset itself: datasets/<name>/<folder>/ (ChannelSpec refuses "." and ".." segments).
_DATASET_FOLDER = r"^datasets/[^/]+/([^/]+/)+$"
# ContainerDefinition.Environment of CreateModel: at most 100 entries, keys [a-zA-Z_][a-zA-Z0-9_]*, each key
# and value at most 1,024 characters, all of them together at most 32 KB
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html).
SERVING_ENVIRONMENT_MAX_ENTRIES = 100
SERVING_ENVIRONMENT_MAX_LENGTH = 1_024
SERVING_ENVIRONMENT_MAX_TOTAL = 32 * 1_024
_ENVIRONMENT_KEY = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


class ChannelSource(StrEnum):
    """What sagechain puts in a channel besides a dataset folder."""

    MANIFEST = "manifest"
    FILES = "files"


class FilesLayout(StrEnum):
    """How a files channel arranges the split's images."""

    CLASS_FOLDERS = "class-folders"
    LABELS_FILE = "labels-file"


class ChannelSpec(_Section):
    """One input channel of a custom container (docs/container.md)."""

    source: ChannelSource | Annotated[str, StringConstraints(pattern=_DATASET_FOLDER, max_length=1_024)] = (
        Field(
            description=(
                "'manifest': the split's augmented manifest (channels train and validation); 'files': the "
                "split's images, copied under runs/<run_id>/channels/<channel>/ (train and validation); or a "
                "folder of this dataset, datasets/<name>/<folder>/ (config/, pretrained/, evaluation/...)."
            )
        )
    )
    input_mode: Literal["File", "FastFile", "Pipe"] | None = Field(
        default=None,
        description="How SageMaker hands the channel over; default training.input_mode, else File.",
    )
    layout: FilesLayout = Field(
        default=FilesLayout.CLASS_FOLDERS,
        description=(
            "source 'files': class-folders (<channel>/<label>/<image>, single-label classification) or "
            "labels-file (<channel>/<image> plus <channel>/labels.jsonl, one manifest line per image)."
        ),
    )

    @model_validator(mode="after")
    def _files_are_files(self) -> Self:
        if any(part in (".", "..") for part in str(self.source).split("/")):
            raise ValueError(
                f"source {self.source!r} has a '.' or '..' folder: name the dataset's folder itself"
            )
        if self.source == ChannelSource.FILES and self.input_mode == "Pipe":
            raise ValueError(
                "a 'files' channel cannot be read in Pipe mode, which streams objects without their names: "
                "use File or FastFile, or source 'manifest' for Pipe"
            )
        return self


class ObjectiveSpec(_Section):
    """The metric that ranks a custom container's jobs, gates the model and compares it with the live one."""

    metric: str = Field(min_length=1, max_length=255, description="A name from training.metric_definitions.")
    type: Literal["Maximize", "Minimize"] = "Maximize"


class TrainingSpec(_Section):
    """How the model is trained."""

    algorithm: Literal["builtin"] | Annotated[str, StringConstraints(pattern=_IMAGE_URI)] = Field(
        default="builtin",
        description=(
            "'builtin' for SageMaker's algorithm for the task, or a custom ECR image URI. "
            + _BOUNDED.format("AllowedTrainingImageRepositories")
        ),
    )
    instance_type: str | None = Field(
        default=None,
        pattern=_INSTANCE_TYPE,
        description="Default TrainingInstanceType. " + _BOUNDED.format("AllowedTrainingInstanceTypes"),
    )
    instance_count: int = Field(default=1, ge=1, le=100, description=_BOUNDED.format("MaxTrainingInstances"))
    volume_size_gb: int = Field(
        default=50, ge=1, le=16_384, description=_BOUNDED.format("MaxTrainingVolumeGb")
    )
    max_runtime_seconds: int = Field(
        default=86_400, ge=60, le=2_419_200, description=_BOUNDED.format("MaxTrainingHours")
    )
    spot: bool = False
    max_wait_seconds: int | None = Field(
        default=None,
        ge=60,
        le=2_419_200,
        description="Spot only; default twice max_runtime_seconds. " + _BOUNDED.format("MaxSpotWaitHours"),
    )
    hyperparameters: Hyperparameters | list[Hyperparameters] = Field(
        default_factory=dict,
        description=(
            "One set, or a list of up to 10 sets to train side by side. "
            + _BOUNDED.format("MaxHyperparameterSets")
        ),
    )
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    tuning: TuningSpec | None = None
    validation_fraction: float = Field(default=0.2, gt=0, lt=1)
    input_mode: Literal["Pipe", "File", "FastFile"] | None = None
    environment: dict[str, str] = Field(default_factory=dict, max_length=100)
    extra_channels: dict[str, str] = Field(
        default_factory=dict,
        description="Custom containers: channel name -> s3:// prefix (pretrained weights, config).",
    )
    channels: dict[Annotated[str, StringConstraints(pattern=CHANNEL_NAME)], ChannelSpec] = Field(
        default_factory=dict,
        max_length=20,
        description=(
            "Custom containers: each input channel and what feeds it (docs/container.md). Absent: train and "
            "validation get the split manifests. Given: exactly these channels (train and validation must "
            "come from 'manifest' or 'files')."
        ),
    )
    objective: ObjectiveSpec | None = Field(
        default=None,
        description=(
            "Custom containers without tuning: the metric (from metric_definitions) that picks the best "
            "hyperparameter set, meets deployment.min_objective_metric and is compared with the live model."
        ),
    )

    @field_validator("hyperparameters")
    @classmethod
    def _at_most_ten_sets(
        cls, value: Hyperparameters | list[Hyperparameters]
    ) -> Hyperparameters | list[Hyperparameters]:
        if isinstance(value, list) and not 1 <= len(value) <= 10:
            raise ValueError("a list of hyperparameter sets holds 1 to 10 sets")
        return value

    @model_validator(mode="after")
    def _spot_wait(self) -> Self:
        if self.max_wait_seconds is not None and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be at least max_runtime_seconds")
        return self

    @model_validator(mode="after")
    def _custom_container_fields(self) -> Self:
        custom = [name for name in ("channels", "objective") if getattr(self, name)]
        if self.algorithm == "builtin" and custom:
            raise ValueError(
                f"{' and '.join(custom)} are for custom containers (the built-in algorithm reads train and "
                "validation and reports its own objective): remove them, or set algorithm to your image"
            )
        metrics = {m.name for m in self.metric_definitions}
        if self.objective is not None and self.objective.metric not in metrics:
            raise ValueError(
                f"objective.metric {self.objective.metric!r} is not one of metric_definitions "
                f"({', '.join(sorted(metrics)) or 'none'}): SageMaker reads only those from the logs"
            )
        if self.objective is not None and self.tuning is not None:
            raise ValueError(
                "objective and tuning exclude each other: the tuning job names its objective_metric"
            )
        for name, channel in self.channels.items():
            if channel.source in (ChannelSource.MANIFEST, ChannelSource.FILES) and name not in DATA_CHANNELS:
                raise ValueError(
                    f"channel {name!r}: source {channel.source} fills only the train and validation channels "
                    "(the run's split); give another channel a dataset folder datasets/<name>/<folder>/"
                )
            if name in DATA_CHANNELS and channel.source not in (ChannelSource.MANIFEST, ChannelSource.FILES):
                raise ValueError(
                    f"channel {name!r} holds the run's split: its source is 'manifest' or 'files'"
                )
            if name in self.extra_channels:
                raise ValueError(f"channel {name!r} is in both channels and extra_channels")
        for name, channel in self.channels.items():
            if channel.source == ChannelSource.FILES and self.channel_mode(name) == "Pipe":
                raise ValueError(
                    f"channel {name!r} holds files but would be read in Pipe mode (training.input_mode): "
                    "give it input_mode File or FastFile"
                )
        if self.channels and not all(name in self.channels for name in DATA_CHANNELS):
            raise ValueError("channels must include train and validation (source 'manifest' or 'files')")
        return self

    def channel_mode(self, name: str) -> str:
        """The input mode of a channel: its own, else training.input_mode, else File."""
        channel = self.channels.get(name)
        return (channel.input_mode if channel else None) or self.input_mode or "File"


# SageMaker's deployment guardrails (blue/green updates of a live endpoint), whose rules these
# fields follow: https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html
# (canary: at most 50 % of the new fleet, .../deployment-guardrails-blue-green-canary.html; linear:
# steps of 10-50 %, .../deployment-guardrails-blue-green-linear.html; waits and baking at most 3,600 s
# and the whole update at most 8 hours: BlueGreenUpdatePolicy and TrafficRoutingConfig in
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html).
CANARY_MAX_PERCENT = 50
LINEAR_MIN_PERCENT = 10
LINEAR_MAX_PERCENT = 50


class RolloutStrategy(StrEnum):
    """How an update of a live endpoint moves traffic to the new model."""

    ALL_AT_ONCE = "all-at-once"
    CANARY = "canary"
    LINEAR = "linear"


class RolloutSpec(_Section):
    """How a new model replaces the live one on an existing endpoint (the first deployment creates it)."""

    strategy: RolloutStrategy | None = Field(
        default=None,
        description=(
            "all-at-once, canary (size, then the rest after wait_minutes) or linear (steps of size every "
            "wait_minutes); default DefaultRolloutStrategy."
        ),
    )
    size_unit: Literal["percent", "instances"] = Field(
        default="percent",
        description="Whether size is a percentage of the new fleet or a number of instances.",
    )
    size: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "canary: the canary's share of the new fleet (default 10 %, at most 50 %); linear: each step "
            "(default 20 %, 10-50 %). In instances: at most half of min_instances."
        ),
    )
    wait_minutes: int = Field(
        default=10, ge=0, le=60, description="canary and linear: minutes between traffic shifts."
    )
    baking_minutes: int | None = Field(
        default=None,
        ge=0,
        le=60,
        description=(
            "Minutes the new fleet serves all traffic, watched by the rollback alarms, before the old one is "
            "terminated; default DefaultRolloutBakingMinutes. " + _BOUNDED.format("MaxRolloutBakingMinutes")
        ),
    )

    @model_validator(mode="after")
    def _size_fits_strategy(self) -> Self:
        if self.size is None or self.size_unit != "percent":
            return self
        if self.strategy == RolloutStrategy.CANARY and self.size > CANARY_MAX_PERCENT:
            raise ValueError(
                f"a canary is at most {CANARY_MAX_PERCENT} % of the new fleet "
                "(SageMaker deployment guardrails)"
            )
        if (
            self.strategy == RolloutStrategy.LINEAR
            and not LINEAR_MIN_PERCENT <= self.size <= LINEAR_MAX_PERCENT
        ):
            raise ValueError(
                f"a linear step is {LINEAR_MIN_PERCENT}-{LINEAR_MAX_PERCENT} % of the new fleet "
                "(SageMaker deployment guardrails)"
            )
        return self

    def step_size(self) -> int:
        """The canary's size or the linear step, in size_unit (the defaults: 10 % and 20 %)."""
        if self.size is not None:
            return self.size
        return 20 if self.strategy == RolloutStrategy.LINEAR else 10

    def shifts(self, fleet: int) -> int:
        """How many waits traffic shifting takes for a new fleet of `fleet` instances."""
        if self.strategy == RolloutStrategy.CANARY:
            return 1
        if self.strategy != RolloutStrategy.LINEAR:
            return 0
        step = self.step_size()
        whole = 100 if self.size_unit == "percent" else fleet
        return max(1, -(-whole // step))

    def total_minutes(self, fleet: int) -> int:
        """The waits and the baking: how long the update takes besides provisioning."""
        return self.shifts(fleet) * self.wait_minutes + (self.baking_minutes or 0)


class DeploymentSpec(_Section):
    """Where the model serves, how it scales, and what it must beat to go live."""

    endpoint_name: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
        description=(
            "Default <NamePrefix>-<dataset>. An endpoint belongs to the dataset that created it: "
            "another dataset's endpoint is rejected at upload."
        ),
    )
    instance_type: str | None = Field(
        default=None,
        pattern=_INSTANCE_TYPE,
        description="Default EndpointInstanceType. " + _BOUNDED.format("AllowedEndpointInstanceTypes"),
    )
    min_instances: int = Field(default=1, ge=1, le=100)
    max_instances: int = Field(default=2, ge=1, le=100, description=_BOUNDED.format("MaxEndpointInstances"))
    target_invocations_per_instance: int = Field(default=50, ge=1, le=100_000)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3_600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3_600)
    min_objective_metric: float | None = None
    image: Annotated[str, StringConstraints(pattern=_IMAGE_URI)] | None = Field(
        default=None,
        description=(
            "Custom containers: the serving image (default: the training image); it serves the training "
            "job's model.tar.gz. " + _BOUNDED.format("AllowedTrainingImageRepositories")
        ),
    )
    environment: dict[
        Annotated[
            str, StringConstraints(pattern=_ENVIRONMENT_KEY, max_length=SERVING_ENVIRONMENT_MAX_LENGTH)
        ],
        Annotated[str, StringConstraints(max_length=SERVING_ENVIRONMENT_MAX_LENGTH)],
    ] = Field(
        default_factory=dict,
        max_length=SERVING_ENVIRONMENT_MAX_ENTRIES,
        description=(
            "Custom containers: the serving container's environment (CreateModel's Environment: at most 100 "
            "variables, each key and value at most 1,024 characters, 32 KB in all)."
        ),
    )
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)
    max_latency_p99_ms: int | None = Field(
        default=None,
        gt=0,
        le=600_000,
        description=(
            "An update rolls back when the new model's p99 ModelLatency exceeds this many milliseconds; "
            "default MaxModelLatencyMs, which a spec may lower, never raise. "
            + _BOUNDED.format("MaxModelLatencyMs")
        ),
    )
    disable_scale_in: bool = Field(
        default=False,
        description="Autoscaling only adds instances (the target-tracking policy's DisableScaleIn).",
    )
    ttl_hours: int | None = Field(
        default=None,
        ge=0,
        le=8_760,
        description=(
            "Hours after its newest model goes live that the endpoint (its configurations and models) is "
            "deleted; 0 = never. Default DefaultEndpointTtlHours. " + _BOUNDED.format("MaxEndpointTtlHours")
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_allow_worse_model(cls, data: object) -> object:
        # spec.json records written before AllowWorseModel became the operator's setting carry
        # the field; they still read. An upload that sets it is rejected by parse_spec.
        if isinstance(data, dict) and LEGACY_ALLOW_WORSE_MODEL in data:
            return {key: value for key, value in data.items() if key != LEGACY_ALLOW_WORSE_MODEL}
        return data

    @field_validator("environment")
    @classmethod
    def _environment_fits(cls, value: dict[str, str]) -> dict[str, str]:
        total = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
        if total > SERVING_ENVIRONMENT_MAX_TOTAL:
            raise ValueError(
                f"{total:,} bytes of variables; CreateModel takes {SERVING_ENVIRONMENT_MAX_TOTAL:,} at most"
            )
        return value

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances must not exceed max_instances")
        rollout = self.rollout
        if rollout.size is not None and rollout.size_unit == "instances":
            half = self.min_instances // 2
            if rollout.strategy in (RolloutStrategy.CANARY, RolloutStrategy.LINEAR) and rollout.size > half:
                raise ValueError(
                    f"rollout.size is {rollout.size} instances; a canary or linear step is at most half "
                    f"of the new fleet, which starts at min_instances {self.min_instances} (at most {half}), "
                    "SageMaker deployment guardrails"
                )
        return self


class DatasetSpec(_Section):
    """dataset.json: the task and its labels; every other section is optional."""

    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": SCHEMA_ID, "title": "sagechain dataset spec"},
    )

    schema_uri: str | None = Field(
        default=None,
        alias="$schema",
        exclude=True,
        description="Optional: where editors find this schema (docs/dataset-spec.schema.json).",
    )
    task: TaskType
    labels: list[Label] = Field(
        min_length=1, max_length=1_000, description="Class names; order = class index."
    )
    labeling: LabelingSpec = Field(default_factory=LabelingSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)

    @field_validator("labels")
    @classmethod
    def _distinct_clean_labels(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if label != label.strip() or "/" in label:
                raise ValueError(f"label {label!r} has surrounding spaces or a '/'")
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"labels appear more than once: {', '.join(duplicates)}")
        return labels

    @model_validator(mode="after")
    def _labels_fit_task(self) -> Self:
        if self.task is TaskType.IMAGE_CLASSIFICATION and len(self.labels) < 2:
            raise ValueError("image-classification needs at least 2 labels")
        return self

    @model_validator(mode="after")
    def _serving_fits_training(self) -> Self:
        deployment = self.deployment
        if self.training.algorithm == "builtin" and (deployment.image or deployment.environment):
            raise ValueError(
                "deployment.image and deployment.environment are for custom containers: the built-in "
                "algorithm serves its own model"
            )
        for name, channel in self.training.channels.items():
            if (
                channel.source == ChannelSource.FILES
                and channel.layout == FilesLayout.CLASS_FOLDERS
                and self.task is not TaskType.IMAGE_CLASSIFICATION
            ):
                raise ValueError(
                    f"training.channels.{name}: class folders hold one label per image; {self.task} needs "
                    "layout 'labels-file'"
                )
        return self

    def serving_image(self, training_image: str) -> str:
        """The image that serves the model: deployment.image, else the training image."""
        return self.deployment.image or training_image

    def foreign_channel_folders(self, dataset: str) -> list[str]:
        """The channels whose folder is not this dataset's (each a sentence); empty when all are."""
        own = f"datasets/{dataset}/"
        return [
            f"training.channels.{name}.source {channel.source} is not a folder of this dataset ({own}...)"
            for name, channel in sorted(self.training.channels.items())
            if channel.source not in (ChannelSource.MANIFEST, ChannelSource.FILES)
            and not str(channel.source).startswith(own)
        ]

    def endpoint_name(self, dataset: str, name_prefix: str) -> str:
        """The run's endpoint: deployment.endpoint_name (prefixed when it lacks the stack's prefix,
        which the functions' permissions require), else <prefix>-<dataset>."""
        chosen = self.deployment.endpoint_name
        if chosen is None:
            return names.sagemaker_name(name_prefix, dataset)
        if chosen.startswith(f"{name_prefix}-"):
            return chosen
        return names.sagemaker_name(name_prefix, chosen)

    def with_defaults(self, defaults: SpecDefaults) -> "DatasetSpec":
        """The spec as the run uses it: stack defaults fill what the upload left out."""
        labeling = self.labeling.model_copy(
            update={
                "workteam_arn": self.labeling.workteam_arn or defaults.workteam_arn,
                "max_cost_usd": (
                    defaults.max_labeling_cost_usd
                    if self.labeling.max_cost_usd is None
                    else self.labeling.max_cost_usd
                ),
            }
        )
        training = self.training.model_copy(
            update={"instance_type": self.training.instance_type or defaults.training_instance_type}
        )
        deployment = self.deployment.model_copy(
            update={
                "instance_type": self.deployment.instance_type or defaults.endpoint_instance_type,
                "ttl_hours": (
                    defaults.endpoint_ttl_hours
                    if self.deployment.ttl_hours is None
                    else self.deployment.ttl_hours
                ),
                "max_latency_p99_ms": self.deployment.max_latency_p99_ms or defaults.max_model_latency_ms,
                "rollout": self.deployment.rollout.model_copy(
                    update={
                        "strategy": self.deployment.rollout.strategy
                        or RolloutStrategy(defaults.rollout_strategy),
                        "baking_minutes": (
                            defaults.rollout_baking_minutes
                            if self.deployment.rollout.baking_minutes is None
                            else self.deployment.rollout.baking_minutes
                        ),
                    }
                ),
            }
        )
        return self.model_copy(update={"labeling": labeling, "training": training, "deployment": deployment})


def json_schema_document() -> str:
    """The spec's JSON Schema as published in docs/dataset-spec.schema.json."""
    schema = DatasetSpec.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def describe_validation_error(err: ValidationError) -> str:
    """A pydantic error as one line per problem, named by its path in dataset.json."""
    problems = []
    for error in err.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{path}: {error['msg']}")
    return "; ".join(problems)


def parse_spec(raw: bytes, where: str) -> DatasetSpec:
    """dataset.json's bytes as a spec, or a rejection that says what to fix."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        detail = (
            f"{err.msg} at line {err.lineno} column {err.colno}"
            if isinstance(err, json.JSONDecodeError)
            else str(err)
        )
        raise DatasetRejectedError(f"{where} is not valid JSON: {detail}") from None
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if isinstance(deployment, dict) and LEGACY_ALLOW_WORSE_MODEL in deployment:
        raise DatasetRejectedError(
            f"{where}: deployment.allow_worse_model is not a spec field any more: whether a worse model may "
            "replace a live one is the operator's setting (stack parameter AllowWorseModel). Remove it."
        )
    try:
        return DatasetSpec.model_validate(document)
    except ValidationError as err:
        raise DatasetRejectedError(
            f"{where} is not a valid dataset spec: {describe_validation_error(err)}"
        ) from None


if __name__ == "__main__":
    print(json_schema_document(), end="")
