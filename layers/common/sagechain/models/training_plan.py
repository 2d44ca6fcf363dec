"""runs/<run_id>/training.json: what start_training started, for deploy_model to choose from.

start_training writes it before creating any job; deploy_model reads it to know the
run's sibling jobs (several hyperparameter sets), the tuning job, the objective metric
and its direction, the labels and the image the model serves with.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainingPlan(BaseModel):
    """The training jobs of one run and how to judge them."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    dataset: str
    task: Literal["image-classification", "image-classification-multilabel", "object-detection"]
    algorithm: Literal["builtin", "custom"]
    image_uri: str = Field(
        description="The training image; for built-in algorithms it also serves inference."
    )
    label_attribute: str
    labels: list[str]
    objective_metric: str | None = Field(
        default=None, description="e.g. validation:accuracy; None when a custom container names none."
    )
    objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    training_job_names: list[str] = Field(
        default_factory=list, description="One job, or one per hyperparameter set (siblings)."
    )
    tuning_job_name: str | None = None
