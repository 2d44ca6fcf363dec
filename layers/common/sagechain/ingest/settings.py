"""prepare_dataset's settings: the stage's, the spec defaults, and the zip limits."""

from pydantic import Field, model_validator

from sagechain.guardrails import Guardrails
from sagechain.settings import EnvironmentSettings, SpecDefaults, StageSettings

GIB = 1024**3


class ZipLimits(EnvironmentSettings):
    """What a dataset archive may expand to before it is rejected as a zip bomb."""

    max_total_bytes: int = Field(default=50 * GIB, alias="ZIP_MAX_TOTAL_BYTES", gt=0)
    max_ratio: int = Field(default=100, alias="ZIP_MAX_RATIO", gt=1)
    # zipfile holds the archive's directory in memory, about 0.5 KB an entry (measured):
    # 200,000 entries stay near 100 MB of a 512 MB function.
    max_entries: int = Field(default=200_000, alias="ZIP_MAX_ENTRIES", gt=0)


class PrepareDatasetSettings(StageSettings):
    """prepare_dataset: where datasets live, where events go, how runs are guarded."""

    spec_defaults: SpecDefaults
    guardrails: Guardrails
    zip_limits: ZipLimits

    @model_validator(mode="before")
    @classmethod
    def _nest_groups(cls, data: object) -> object:
        # The environment is flat; the groups read their own variables from it.
        if isinstance(data, dict):
            return {"spec_defaults": data, "guardrails": data, "zip_limits": data, **data}
        return data
