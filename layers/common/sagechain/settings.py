"""Typed settings, read from the environment once at cold start.

Every function's settings extend one of three bases, so what the stack shares is declared
once: FunctionSettings (the data bucket and the name prefix), IdempotentSettings (and the
idempotency table), StageSettings (and the event bus it publishes on). Each stage's
settings module adds only what that function alone reads.
"""

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _empty_as_none(value: object) -> object:
    return None if value == "" else value


OptionalStr = Annotated[str | None, BeforeValidator(_empty_as_none)]
# The stack parameter NamePrefix: lower-case words joined by single hyphens.
NAME_PREFIX_PATTERN = r"^[a-z0-9](-?[a-z0-9])*$"
NamePrefix = Annotated[str, Field(alias="NAME_PREFIX", pattern=NAME_PREFIX_PATTERN, max_length=20)]
# The SageMaker execution role (SageMakerExecutionRole in template.yaml).
SageMakerRoleArn = Annotated[
    str, Field(alias="SAGEMAKER_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/.+$")
]


class EnvironmentSettings(BaseModel):
    """A group of settings validated from the environment."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Validate the environment (os.environ unless given) into settings."""
        return cls.model_validate(dict(os.environ if environ is None else environ))


class FunctionSettings(EnvironmentSettings):
    """What every function of the stack reads: its data bucket, the name prefix and the stack."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    name_prefix: NamePrefix
    stack_name: str = Field(alias="STACK_NAME", min_length=1)
    # The stack's ARN (AWS::StackId): every sagechain event names it in `resources`, and the
    # observers' rules and parse_bus_event keep only events that do.
    stack_id: str = Field(alias="STACK_ID", pattern=r"^arn:aws[a-z-]*:cloudformation:")


class IdempotentSettings(FunctionSettings):
    """A function that acts once per fact: and the idempotency table."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)


class StageSettings(IdempotentSettings):
    """A stage of the chain: and the event bus its `sagechain` events go to."""

    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)


class SpecDefaults(EnvironmentSettings):
    """Stack parameters that fill in what a dataset spec leaves out."""

    workteam_arn: OptionalStr = Field(default=None, alias="DEFAULT_WORKTEAM_ARN")
    max_labeling_cost_usd: Decimal = Field(alias="DEFAULT_MAX_LABELING_COST_USD", ge=0)
    training_instance_type: str = Field(alias="DEFAULT_TRAINING_INSTANCE_TYPE", min_length=1)
    endpoint_instance_type: str = Field(alias="DEFAULT_ENDPOINT_INSTANCE_TYPE", min_length=1)
    # Hours a live endpoint lasts when the spec does not say; 0: until someone deletes it.
    endpoint_ttl_hours: int = Field(alias="DEFAULT_ENDPOINT_TTL_HOURS", ge=0)
    # deployment.rollout and deployment.max_latency_p99_ms when the spec leaves them out (stack
    # parameters DefaultRolloutStrategy, DefaultRolloutBakingMinutes, MaxModelLatencyMs).
    rollout_strategy: str = Field(
        default="all-at-once", alias="DEFAULT_ROLLOUT_STRATEGY", pattern=r"^(all-at-once|canary|linear)$"
    )
    rollout_baking_minutes: int = Field(default=10, alias="DEFAULT_ROLLOUT_BAKING_MINUTES", ge=0, le=60)
    max_model_latency_ms: int = Field(default=5_000, alias="MAX_MODEL_LATENCY_MS", gt=0)
