"""What the deploy stage keeps in the data bucket, and the names it gives SageMaker resources.

    runs/<run_id>/model.json                   the model a run deployed (ModelInfo)
    runs/<run_id>/deployment/siblings/<job>.json  how each sibling job ended (several hyperparameter sets)
    runs/<run_id>/deployment/decision.json     which sibling's completion chose the model (written once)
    models/<model>/deploying.json              the deploy in flight on endpoint <model> (ModelInfo)
    models/<model>/model.json                  the live model (ModelInfo): what predict reads

None of these keys matches a trigger's pattern.
"""

import json
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagechain import names
from sagechain.errors import ObjectNotFoundError
from sagechain.models.events import SagechainEvent
from sagechain.models.model_info import ModelInfo
from sagechain.models.spec import DatasetSpec
from sagechain.models.training_plan import TrainingPlan
from sagechain.ports import ObjectStore
from sagechain.services.dataset_layout import model_key, run_key

JSON = "application/json"
VARIANT = "AllTraffic"
RECORD_MAX_BYTES = 1024 * 1024


class Outcome(NamedTuple):
    """What one trigger led to: an event published, or why nothing was."""

    outcome: str
    reason: str | None = None
    event: SagechainEvent | None = None

    def summary(self) -> dict[str, object]:
        """The handler's return value: the outcome, its reason, the published event's detail."""
        summary: dict[str, object] = {"outcome": self.outcome}
        if self.reason:
            summary["reason"] = self.reason
        if self.event is not None:
            summary["detail_type"] = self.event.DETAIL_TYPE
            summary["detail"] = json.loads(self.event.model_dump_json())
        return summary


def deploying_key(model: str) -> str:
    """models/<model>/deploying.json: the deploy in flight on that endpoint."""
    return f"models/{model}/deploying.json"


def live_key(model: str) -> str:
    """models/<model>/model.json: the live pointer."""
    return model_key(model)


def run_model_key(run_id: str) -> str:
    """runs/<run_id>/model.json."""
    return run_key(run_id, "model.json")


def read_record[Record: BaseModel](store: ObjectStore, key: str, model: type[Record]) -> Record | None:
    """A small JSON object as a model, or None when it does not exist.

    A record that exists but does not parse is a bug or a hand edit: it raises, so the
    event is retried and ends in the failure queue rather than being silently ignored.
    """
    try:
        raw = store.read_bytes(key, RECORD_MAX_BYTES)
    except ObjectNotFoundError:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        raise ValueError(f"{store.uri(key)} is not a valid {model.__name__}: {err}") from err


def write_record(store: ObjectStore, key: str, record: BaseModel) -> None:
    """A model as a small JSON object."""
    store.put_bytes(key, record.model_dump_json(indent=2).encode(), JSON)


class _Objective(BaseModel):
    name: str
    type: Literal["Maximize", "Minimize"] = "Maximize"


class _StartTrainingRecord(BaseModel):
    """training.json in the shape start_training writes it (models/training.py TrainingRecord on
    main): the same facts as TrainingPlan under other names. Read until the two are one."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    dataset: str
    task: Literal["image-classification", "image-classification-multilabel", "object-detection"]
    algorithm: Literal["builtin", "custom"]
    training_image: str
    label_attribute: str
    labels: list[str]
    objective: _Objective | None = None
    job_names: list[str] = Field(default_factory=list)
    tuning_job_name: str | None = None

    def as_plan(self) -> TrainingPlan:
        return TrainingPlan(
            run_id=self.run_id,
            dataset=self.dataset,
            task=self.task,
            algorithm=self.algorithm,
            image_uri=self.training_image,
            label_attribute=self.label_attribute,
            labels=self.labels,
            objective_metric=self.objective.name if self.objective else None,
            objective_type=self.objective.type if self.objective else "Maximize",
            training_job_names=self.job_names,
            tuning_job_name=self.tuning_job_name,
        )


def read_training_plan(store: ObjectStore, run_id: str) -> TrainingPlan | None:
    """runs/<run_id>/training.json as a TrainingPlan (either shape), or None when missing."""
    key = run_key(run_id, "training.json")
    try:
        raw = store.read_bytes(key, RECORD_MAX_BYTES)
    except ObjectNotFoundError:
        return None
    try:
        document = json.loads(raw)
        if isinstance(document, dict) and "training_image" in document:
            return _StartTrainingRecord.model_validate(document).as_plan()
        return TrainingPlan.model_validate(document)
    except (ValueError, ValidationError) as err:
        raise ValueError(f"{store.uri(key)} is not a valid training plan: {err}") from err


def read_run(store: ObjectStore, run_id: str) -> tuple[TrainingPlan, DatasetSpec] | None:
    """The run's training plan and accepted spec, or None when either is missing."""
    plan = read_training_plan(store, run_id)
    spec = read_record(store, run_key(run_id, "spec.json"), DatasetSpec)
    if plan is None or spec is None:
        return None
    return plan, spec


def read_model_info(store: ObjectStore, key: str) -> ModelInfo | None:
    """A model.json (or deploying.json), or None."""
    return read_record(store, key, ModelInfo)


def endpoint_name_for(spec: DatasetSpec, dataset: str, name_prefix: str) -> str:
    """The run's endpoint: the spec's name (prefixed when it lacks the stack's prefix, which
    the functions' permissions require), else <prefix>-<dataset>."""
    chosen = spec.deployment.endpoint_name
    if chosen is None:
        return names.sagemaker_name(name_prefix, dataset)
    if chosen.startswith(f"{name_prefix}-"):
        return chosen
    return names.sagemaker_name(name_prefix, chosen)


def model_name_for(training_job: str, name_prefix: str) -> str:
    """The SageMaker model of a training job: named after the job (already prefixed)."""
    if training_job.startswith(f"{name_prefix}-"):
        return training_job
    return names.sagemaker_name(name_prefix, training_job)


def endpoint_config_name_for(training_job: str, name_prefix: str) -> str:
    """A new endpoint configuration per deployed job, the same for every delivery of its event."""
    return names.sagemaker_name(model_name_for(training_job, name_prefix), "config")
