"""From a run's spec and its split data to complete SageMaker requests: one training job, one
per hyperparameter set, or one hyperparameter tuning job.

Built-in algorithms train on the augmented manifests in Pipe mode; their required
hyperparameters come from the data (builtin_algorithms.py), the rest from
training.hyperparameters, else the algorithm's documented defaults. Custom containers get
the manifests as files (File or FastFile) or, in Pipe mode, as RecordIO records like the
built-in algorithms, plus any extra channels, the spec's hyperparameters, environment and
metric definitions. With training.channels a custom container chooses each channel: the
manifest as above, the split's images as files (an S3Prefix of copies under
runs/<run_id>/channels/<channel>/, start_training makes them), or a folder of the dataset, each
with its own input mode (docs/container.md); training.objective names the metric its jobs are
compared and gated on. Requests are plain dicts in the API's shape; tests prove each variant
against botocore's model.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sagechain import names
from sagechain.errors import TrainingNotStartedError
from sagechain.records import ObjectiveMetric
from sagechain.spec import (
    CHANNEL_NAME,
    DATA_CHANNELS,
    ChannelSource,
    ChannelSpec,
    DatasetSpec,
    HyperparameterValue,
    TrainingSpec,
    TuningSpec,
)
from sagechain.training import builtin_algorithms

TrainingJobRequest = dict[str, Any]
TuningJobRequest = dict[str, Any]

MANIFEST_LINES = "application/jsonlines"
# MaxRuntimeInSeconds may be at most 28 days (CreateTrainingJob, StoppingCondition); the
# spot wait defaults to twice the runtime, capped there (the spec caps max_wait_seconds too).
SPOT_MAX_WAIT_SECONDS = 28 * 24 * 3600
_CHANNEL_NAME = re.compile(CHANNEL_NAME)
_DATA_CHANNELS = DATA_CHANNELS


@dataclass(frozen=True)
class TrainingData:
    """The split manifests and what the data says about the model."""

    train_uri: str
    validation_uri: str
    train_objects: int
    validation_objects: int
    max_boxes: int
    label_attribute: str
    # training.channels' files and dataset-folder channels: channel -> s3:// prefix.
    channel_uris: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingTarget:
    """Where and as whom the jobs run, and the run they belong to."""

    run_id: str
    region: str
    role_arn: str
    name_prefix: str
    stack_name: str
    output_uri: str
    checkpoint_uri: str
    # Whether a custom image may reach the network (stack parameter AllowCustomNetworkAccess).
    allow_custom_network_access: bool = False
    # The run attempt (attempts.py): a retry's jobs get an a<N> name part and the attempt tag.
    attempt: int = 1

    def job_name(self, *parts: str, max_length: int = names.SAGEMAKER_NAME_MAX) -> str:
        """A job name of this run and attempt: <prefix>-<run>-<parts>[-a<N>]."""
        return names.sagemaker_name(
            self.name_prefix, self.run_id, *parts, *names.attempt_parts(self.attempt), max_length=max_length
        )


@dataclass(frozen=True)
class TrainingPlan:
    """The requests to send, in order, and what training.json records about them."""

    algorithm: Literal["builtin", "custom"]
    algorithm_label: str
    training_image: str
    mode: Literal["single", "sets", "tuning"]
    training_jobs: list[TrainingJobRequest]
    tuning_job: TuningJobRequest | None
    hyperparameters: list[dict[str, str]]
    objective: ObjectiveMetric | None

    @property
    def job_names(self) -> list[str]:
        """Training job names, in request order."""
        return [request["TrainingJobName"] for request in self.training_jobs]

    @property
    def tuning_job_name(self) -> str | None:
        """The tuning job's name, if this plan tunes."""
        return None if self.tuning_job is None else str(self.tuning_job["HyperParameterTuningJobName"])


def _is_builtin(training: TrainingSpec) -> bool:
    return training.algorithm == "builtin"


def hyperparameter_value(value: HyperparameterValue) -> str:
    """A spec value as SageMaker takes it: a string (bools as the built-ins spell them, True)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def check_training_spec(spec: DatasetSpec, region: str) -> None:
    """Reject, before any data is read, what no request could satisfy."""
    training = spec.training
    if training.tuning is not None and isinstance(training.hyperparameters, list):
        raise TrainingNotStartedError(
            "training.tuning and a list of training.hyperparameters sets exclude each other: "
            "keep one set (the static hyperparameters of the tuning job) or remove tuning."
        )
    if _is_builtin(training):
        builtin_algorithms.builtin_algorithm(spec.task).image_uri(region)
        if training.input_mode not in (None, "Pipe"):
            raise TrainingNotStartedError(
                f"training.input_mode {training.input_mode} cannot feed the built-in algorithms, which "
                "read the labeled manifest as an augmented manifest in Pipe mode: remove input_mode."
            )
        if training.extra_channels or training.metric_definitions:
            raise TrainingNotStartedError(
                "training.extra_channels and training.metric_definitions are for custom containers; "
                "the built-in algorithm reads train and validation and reports its own metrics. "
                "Remove them, or set training.algorithm to your container image."
            )
        return
    for channel, uri in training.extra_channels.items():
        if not _CHANNEL_NAME.match(channel) or channel in _DATA_CHANNELS:
            raise TrainingNotStartedError(
                f"training.extra_channels: {channel!r} is not a channel name you can use (letters, digits, "
                "'.', '-', '_', at most 64; not train or validation)."
            )
        if not uri.startswith("s3://"):
            raise TrainingNotStartedError(f"training.extra_channels.{channel}: {uri!r} is not an s3:// URI.")
    tuning = training.tuning
    if tuning is not None and tuning.objective_metric not in {m.name for m in training.metric_definitions}:
        raise TrainingNotStartedError(
            f"training.tuning.objective_metric {tuning.objective_metric!r} must be one of "
            "training.metric_definitions, so SageMaker can read it from your container's logs."
        )


def _spot_wait(training: TrainingSpec) -> int:
    if training.max_wait_seconds is not None:
        return training.max_wait_seconds
    return max(training.max_runtime_seconds, min(2 * training.max_runtime_seconds, SPOT_MAX_WAIT_SECONDS))


def _augmented_channel(name: str, uri: str, attribute: str, content_type: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "AugmentedManifestFile",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
                "AttributeNames": ["source-ref", attribute],
            }
        },
        "ContentType": content_type,
        "RecordWrapperType": "RecordIO",
    }


def _prefix_channel(name: str, uri: str, content_type: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
    if content_type:
        channel["ContentType"] = content_type
    return channel


def _input_mode(spec: DatasetSpec) -> str:
    if _is_builtin(spec.training):
        return "Pipe"
    return spec.training.input_mode or "File"


def _chosen_channel(
    name: str, channel: ChannelSpec, spec: DatasetSpec, data: TrainingData, uris: dict[str, str]
) -> dict[str, Any]:
    """One channel of training.channels, with its own InputMode when it differs from the job's."""
    mode = spec.training.channel_mode(name)
    if channel.source == ChannelSource.MANIFEST and mode == "Pipe":
        request = _augmented_channel(name, uris[name], data.label_attribute, builtin_algorithms.RECORDIO)
    elif channel.source == ChannelSource.MANIFEST:
        request = _prefix_channel(name, uris[name], MANIFEST_LINES)
    else:
        # files: the split's copies; a dataset folder: as it is. Both are prefixes SageMaker downloads
        # (File), mounts (FastFile, S3Prefix only) or streams (Pipe) as they are.
        request = _prefix_channel(name, data.channel_uris[name])
    if mode != _input_mode(spec):
        request["InputMode"] = mode
    return request


def _channels(spec: DatasetSpec, data: TrainingData) -> list[dict[str, Any]]:
    uris = {"train": data.train_uri, "validation": data.validation_uri}
    mode = _input_mode(spec)
    if spec.training.channels:
        chosen = spec.training.channels
        # train and validation first, then the others by name: a stable request.
        order = [*_DATA_CHANNELS, *sorted(n for n in chosen if n not in _DATA_CHANNELS)]
        channels = [_chosen_channel(name, chosen[name], spec, data, uris) for name in order]
    elif _is_builtin(spec.training):
        content_type = builtin_algorithms.channel_content_type(spec.task)
        return [_augmented_channel(n, uris[n], data.label_attribute, content_type) for n in _DATA_CHANNELS]
    elif mode == "Pipe":
        channels = [
            _augmented_channel(n, uris[n], data.label_attribute, builtin_algorithms.RECORDIO)
            for n in _DATA_CHANNELS
        ]
    else:
        # The manifest itself, one JSON line per image: the container reads the images from S3.
        channels = [_prefix_channel(n, uris[n], MANIFEST_LINES) for n in _DATA_CHANNELS]
    for name, uri in sorted(spec.training.extra_channels.items()):
        extra = _prefix_channel(name, uri)
        if mode == "Pipe":
            # Weights and config are files, whatever the data channels stream.
            extra["InputMode"] = "File"
        channels.append(extra)
    return channels


def _job_parts(spec: DatasetSpec, data: TrainingData, target: TrainingTarget) -> dict[str, Any]:
    """What a training job and a tuning job's job definition share."""
    training = spec.training
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": training.max_runtime_seconds}
    parts: dict[str, Any] = {
        "RoleArn": target.role_arn,
        "InputDataConfig": _channels(spec, data),
        "OutputDataConfig": {"S3OutputPath": target.output_uri},
        "ResourceConfig": {
            "InstanceType": training.instance_type,
            "InstanceCount": training.instance_count,
            "VolumeSizeInGB": training.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": _network_isolation(spec, target),
    }
    if training.spot:
        stopping["MaxWaitTimeInSeconds"] = _spot_wait(training)
        parts["EnableManagedSpotTraining"] = True
    if training.environment:
        parts["Environment"] = dict(training.environment)
    return parts


def _algorithm_specification(spec: DatasetSpec, image: str) -> dict[str, Any]:
    algorithm: dict[str, Any] = {"TrainingImage": image, "TrainingInputMode": _input_mode(spec)}
    if spec.training.metric_definitions:
        algorithm["MetricDefinitions"] = [
            {"Name": m.name, "Regex": m.regex} for m in spec.training.metric_definitions
        ]
    return algorithm


def _hyperparameter_sets(spec: DatasetSpec, data: TrainingData) -> list[dict[str, str]]:
    """One dict per job: defaults, then the spec's set, then what the data decides."""
    given = spec.training.hyperparameters
    sets = given if isinstance(given, list) else [given]
    if not _is_builtin(spec.training):
        return [{k: hyperparameter_value(v) for k, v in chosen.items()} for chosen in sets]
    algorithm = builtin_algorithms.builtin_algorithm(spec.task)
    defaults = dict(algorithm.defaults)
    # A batch larger than the training set would never fill.
    defaults["mini_batch_size"] = str(min(int(defaults["mini_batch_size"]), data.train_objects))
    computed = builtin_algorithms.computed_hyperparameters(
        spec.task, len(spec.labels), data.train_objects, data.max_boxes
    )
    return [
        {**defaults, **{k: hyperparameter_value(v) for k, v in chosen.items()}, **computed} for chosen in sets
    ]


def _objective(spec: DatasetSpec) -> ObjectiveMetric | None:
    tuning = spec.training.tuning
    if tuning is not None:
        return ObjectiveMetric(name=tuning.objective_metric, type=tuning.objective_type)
    if _is_builtin(spec.training):
        return ObjectiveMetric(
            name=builtin_algorithms.builtin_algorithm(spec.task).objective_metric, type="Maximize"
        )
    objective = spec.training.objective
    if objective is not None:
        return ObjectiveMetric(name=objective.metric, type=objective.type)
    return None


def _parameter_ranges(tuning: TuningSpec) -> dict[str, Any]:
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for item in tuning.ranges:
        if item.type == "categorical":
            ranges["CategoricalParameterRanges"].append(
                {"Name": item.name, "Values": list(item.values or [])}
            )
            continue
        # The spec guarantees min < max for numeric ranges.
        low, high = float(item.min or 0), float(item.max or 0)
        if item.type == "integer":
            bounds = (str(int(low)), str(int(high)))
            kind = "IntegerParameterRanges"
        else:
            bounds = (repr(low), repr(high))
            kind = "ContinuousParameterRanges"
        ranges[kind].append(
            {"Name": item.name, "MinValue": bounds[0], "MaxValue": bounds[1], "ScalingType": item.scaling}
        )
    return {kind: values for kind, values in ranges.items() if values}


def _tags(target: TrainingTarget) -> list[dict[str, str]]:
    tags = names.resource_tags(target.run_id, target.stack_name, target.attempt)
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _network_isolation(spec: DatasetSpec, target: TrainingTarget) -> bool:
    """Built-in algorithms always train isolated: image classification and object detection
    support it (only Semantic Segmentation does not: CreateTrainingJob's EnableNetworkIsolation,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html).
    A custom image is isolated unless the operator allows it the network."""
    return _is_builtin(spec.training) or not target.allow_custom_network_access


def _training_job(
    name: str,
    hyperparameters: dict[str, str],
    spec: DatasetSpec,
    data: TrainingData,
    target: TrainingTarget,
    image: str,
) -> TrainingJobRequest:
    request: TrainingJobRequest = {
        "TrainingJobName": name,
        "AlgorithmSpecification": _algorithm_specification(spec, image),
        "HyperParameters": hyperparameters,
        **_job_parts(spec, data, target),
        "Tags": _tags(target),
    }
    if spec.training.spot:
        request["CheckpointConfig"] = {"S3Uri": f"{target.checkpoint_uri}{name}/"}
    return request


def _tuning_job(
    tuning: TuningSpec,
    static: dict[str, str],
    spec: DatasetSpec,
    data: TrainingData,
    target: TrainingTarget,
    image: str,
) -> TuningJobRequest:
    name = target.job_name("tune", max_length=names.TUNING_JOB_NAME_MAX)
    tuned = {item.name for item in tuning.ranges}
    definition: dict[str, Any] = {
        "StaticHyperParameters": {k: v for k, v in static.items() if k not in tuned},
        "AlgorithmSpecification": _algorithm_specification(spec, image),
        **_job_parts(spec, data, target),
    }
    if spec.training.spot:
        definition["CheckpointConfig"] = {"S3Uri": f"{target.checkpoint_uri}{name}/"}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": tuning.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": tuning.objective_type,
                "MetricName": tuning.objective_metric,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": tuning.max_jobs,
                # More in parallel than in all would be refused; run them all at once instead.
                "MaxParallelTrainingJobs": min(tuning.max_parallel_jobs, tuning.max_jobs),
            },
            "ParameterRanges": _parameter_ranges(tuning),
        },
        "TrainingJobDefinition": definition,
        "Tags": _tags(target),
    }


def plan_training(spec: DatasetSpec, data: TrainingData, target: TrainingTarget) -> TrainingPlan:
    """The complete requests for this run's training (TrainingNotStartedError if none can be)."""
    check_training_spec(spec, target.region)
    training = spec.training
    kind: Literal["builtin", "custom"] = "builtin" if _is_builtin(training) else "custom"
    if kind == "builtin":
        algorithm = builtin_algorithms.builtin_algorithm(spec.task)
        image, label = algorithm.image_uri(target.region), algorithm.name
    else:
        image, label = training.algorithm, training.algorithm
    hyperparameters = _hyperparameter_sets(spec, data)
    objective = _objective(spec)
    if training.tuning is not None:
        tuning_job = _tuning_job(training.tuning, hyperparameters[0], spec, data, target, image)
        static = tuning_job["TrainingJobDefinition"]["StaticHyperParameters"]
        return TrainingPlan(kind, label, image, "tuning", [], tuning_job, [static], objective)
    if isinstance(training.hyperparameters, list):
        jobs = [
            _training_job(
                target.job_name("train", str(i)),
                chosen,
                spec,
                data,
                target,
                image,
            )
            for i, chosen in enumerate(hyperparameters)
        ]
        return TrainingPlan(kind, label, image, "sets", jobs, None, hyperparameters, objective)
    name = target.job_name("train")
    job = _training_job(name, hyperparameters[0], spec, data, target, image)
    return TrainingPlan(kind, label, image, "single", [job], None, hyperparameters, objective)
