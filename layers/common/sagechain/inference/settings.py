"""predict's settings."""

from pydantic import Field

from sagechain.settings import FunctionSettings


class PredictSettings(FunctionSettings):
    """predict: and how long a request may take."""

    # models/<model>/model.json is read again after this long (a new model goes live
    # within it); unknown names are asked again after at most 5 s.
    model_cache_ttl_seconds: float = Field(default=60, alias="MODEL_CACHE_TTL_SECONDS", gt=0, le=3600)
    # API Gateway gives up after 29 s; answer before that, leaving room for a cold start.
    deadline_seconds: float = Field(default=25, alias="PREDICT_DEADLINE_SECONDS", gt=2, le=28)
    max_attempts: int = Field(default=5, alias="PREDICT_MAX_ATTEMPTS", ge=1, le=20)
