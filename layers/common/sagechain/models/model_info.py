"""model.json: what the predict proxy needs to call an endpoint and read its answers.

deploy_model writes runs/<run_id>/model.json; when the endpoint is in service,
configure_autoscaling copies it to models/<model>/model.json, the live pointer that
predict and the status API read (<model> is the endpoint name).
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class ModelMetric(BaseModel):
    """The objective metric the model was chosen on."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: float


class ModelInfo(BaseModel):
    """One deployed model."""

    model_config = ConfigDict(frozen=True)

    model: str
    endpoint_name: str
    variant_name: str = "AllTraffic"
    task: Literal["image-classification", "image-classification-multilabel", "object-detection"]
    labels: list[str]
    algorithm: Literal["builtin", "custom"]
    model_name: str
    training_job_name: str
    run_id: str
    dataset: str
    metric: ModelMetric | None = None
    deployed_at: datetime
