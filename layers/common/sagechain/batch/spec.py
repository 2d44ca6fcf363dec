"""batch.json: what an uploader may ask of a batch, and the operator's bounds on it.

The uploader is not the operator: instance type, count and runtime are chosen within the
stack's endpoint bounds (AllowedEndpointInstanceTypes, MaxEndpointInstances) and MaxBatchHours.
"""

import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagechain.errors import BatchRejectedError

BATCH_JSON_MAX_BYTES = 64 * 1024
DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.5
DEFAULT_MAX_RUNTIME_MINUTES = 60


class BatchSpec(BaseModel):
    """batch.json; every field is optional (`{}` scores with the live model on the defaults)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    k: int = Field(default=DEFAULT_TOP_K, ge=1, description="image-classification: labels kept per image.")
    threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        ge=0,
        le=1,
        description="Multi-label and object detection: lowest score kept.",
    )
    instance_type: str | None = Field(default=None, description="Default: the first allowed endpoint type.")
    instance_count: int = Field(default=1, ge=1)
    max_runtime_minutes: int = Field(default=DEFAULT_MAX_RUNTIME_MINUTES, ge=1)
    training_job_name: str | None = Field(
        default=None, description="Score with this run's model instead of the live one (if it still exists)."
    )


@dataclass(frozen=True)
class BatchBounds:
    """The stack's bounds on a batch (stack parameters)."""

    allowed_instance_types: tuple[str, ...]
    max_instances: int
    max_hours: int


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "(none)"


def batch_violations(spec: BatchSpec, bounds: BatchBounds) -> list[str]:
    """What batch.json asks beyond the stack's bounds, one sentence each."""
    found = []
    if spec.instance_type is not None and spec.instance_type not in bounds.allowed_instance_types:
        found.append(
            f"instance_type is {spec.instance_type}; this stack allows "
            f"{_listed(bounds.allowed_instance_types)} (stack parameter AllowedEndpointInstanceTypes)"
        )
    if spec.instance_count > bounds.max_instances:
        found.append(
            f"instance_count is {spec.instance_count}; at most {bounds.max_instances} "
            "(stack parameter MaxEndpointInstances)"
        )
    if spec.max_runtime_minutes > bounds.max_hours * 60:
        found.append(
            f"max_runtime_minutes is {spec.max_runtime_minutes}; at most {bounds.max_hours * 60} "
            "(stack parameter MaxBatchHours)"
        )
    return found


def parse_batch_spec(raw: bytes, bounds: BatchBounds) -> BatchSpec:
    """batch.json as a BatchSpec within bounds; BatchRejectedError says what to fix."""
    try:
        document = json.loads(raw or b"{}")
    except ValueError as err:
        raise BatchRejectedError(f"batch.json is not JSON ({err}); upload {{}} for the defaults") from None
    if not isinstance(document, dict):
        raise BatchRejectedError("batch.json must be a JSON object; upload {} for the defaults")
    try:
        spec = BatchSpec.model_validate(document)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'batch.json'}: {error['msg']}" for error in err.errors()
        )
        raise BatchRejectedError(f"batch.json is not valid: {problems}") from None
    violations = batch_violations(spec, bounds)
    if violations:
        raise BatchRejectedError("batch.json asks beyond this stack's bounds: " + "; ".join(violations))
    return spec


def instance_type_of(spec: BatchSpec, bounds: BatchBounds) -> str:
    """The instance type the transform job runs on."""
    return spec.instance_type or bounds.allowed_instance_types[0]
