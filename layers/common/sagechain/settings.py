"""Typed settings, one model per function, read from the environment once at cold start."""

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _empty_as_none(value: object) -> object:
    return None if value == "" else value


OptionalStr = Annotated[str | None, BeforeValidator(_empty_as_none)]

GIB = 1024**3


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Validate the environment (os.environ unless given) into settings."""
        return cls.model_validate(dict(os.environ if environ is None else environ))


class SpecDefaults(_Settings):
    """Stack parameters that fill in what a dataset spec leaves out."""

    workteam_arn: OptionalStr = Field(default=None, alias="DEFAULT_WORKTEAM_ARN")
    max_labeling_cost_usd: Decimal = Field(alias="DEFAULT_MAX_LABELING_COST_USD", ge=0)
    training_instance_type: str = Field(alias="DEFAULT_TRAINING_INSTANCE_TYPE", min_length=1)
    endpoint_instance_type: str = Field(alias="DEFAULT_ENDPOINT_INSTANCE_TYPE", min_length=1)


class ZipLimits(_Settings):
    """What a dataset archive may expand to before it is rejected as a zip bomb."""

    max_total_bytes: int = Field(default=50 * GIB, alias="ZIP_MAX_TOTAL_BYTES", gt=0)
    max_ratio: int = Field(default=100, alias="ZIP_MAX_RATIO", gt=1)
    # zipfile holds the archive's directory in memory, about 0.5 KB an entry (measured):
    # 200,000 entries stay near 100 MB of a 512 MB function.
    max_entries: int = Field(default=200_000, alias="ZIP_MAX_ENTRIES", gt=0)


class PrepareDatasetSettings(_Settings):
    """prepare_dataset: where datasets live, where events go, how runs are guarded."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=r"^[a-z0-9](-?[a-z0-9])*$", max_length=20)
    spec_defaults: SpecDefaults
    zip_limits: ZipLimits

    @model_validator(mode="before")
    @classmethod
    def _nest_groups(cls, data: object) -> object:
        # The environment is flat; the groups read their own variables from it.
        if isinstance(data, dict):
            return {"spec_defaults": data, "zip_limits": data, **data}
        return data


class StartLabelingSettings(_Settings):
    """start_labeling: where runs live, the role Ground Truth runs as, where events go."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=r"^[a-z0-9](-?[a-z0-9])*$", max_length=20)
    sagemaker_role_arn: str = Field(
        alias="SAGEMAKER_ROLE_ARN", pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"
    )


class TrainingEnvironment(_Settings):
    """start_training: where SageMaker jobs run, as whom, and under which names."""

    # Lambda sets AWS_REGION itself (a reserved variable); tests and tools set AWS_DEFAULT_REGION.
    region: str = Field(validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"), min_length=1)
    role_arn: str = Field(alias="SAGEMAKER_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=r"^[a-z0-9](-?[a-z0-9])*$", max_length=20)
    default_instance_type: str = Field(alias="DEFAULT_TRAINING_INSTANCE_TYPE", min_length=1)


class StartTrainingSettings(_Settings):
    """start_training: the data bucket, the idempotency table, the bus, and the training environment."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    training: TrainingEnvironment

    @model_validator(mode="before")
    @classmethod
    def _nest_groups(cls, data: object) -> object:
        if isinstance(data, dict):
            return {"training": data, **data}
        return data


# ---------------------------------------------------------------- notifications and run history
_NAME_PREFIX_PATTERN = r"^[a-z0-9](-?[a-z0-9])*$"


class NotifySettings(_Settings):
    """notify: where emails go, what reads a run's dataset, which resources are ours."""

    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=_NAME_PREFIX_PATTERN, max_length=20)


class TrackRunSettings(_Settings):
    """track_run: the runs table, and what it reads to name a run's dataset."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=_NAME_PREFIX_PATTERN, max_length=20)


class StatusApiSettings(_Settings):
    """status_api: the runs table, the live models' model.json, and our endpoints' prefix."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=_NAME_PREFIX_PATTERN, max_length=20)


# ---------------------------------------------------------------- deployment
class DeployModelSettings(_Settings):
    """deploy_model: where runs live, the role models run as, where events go."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=_NAME_PREFIX_PATTERN, max_length=20)
    sagemaker_role_arn: str = Field(
        alias="SAGEMAKER_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/.+$"
    )


class ConfigureAutoscalingSettings(_Settings):
    """configure_autoscaling: where runs and live models live, the predict URL, where events go."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    name_prefix: str = Field(alias="NAME_PREFIX", pattern=_NAME_PREFIX_PATTERN, max_length=20)
    predict_url_template: str = Field(alias="PREDICT_URL_TEMPLATE", pattern=r"^https://.*\{model\}")


# ---------------------------------------------------------------- inference API
class PredictSettings(_Settings):
    """predict: where the live models are and how long a request may take."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    # models/<model>/model.json is read again after this long (a new model goes live
    # within it); unknown names are asked again after at most 5 s.
    model_cache_ttl_seconds: float = Field(default=60, alias="MODEL_CACHE_TTL_SECONDS", gt=0, le=3600)
    # API Gateway gives up after 29 s; answer before that, leaving room for a cold start.
    deadline_seconds: float = Field(default=25, alias="PREDICT_DEADLINE_SECONDS", gt=2, le=28)
    max_attempts: int = Field(default=5, alias="PREDICT_MAX_ATTEMPTS", ge=1, le=20)
