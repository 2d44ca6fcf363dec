"""What the deploy stage keeps in the data bucket, and the names it gives SageMaker resources.

    runs/<run_id>/model.json                   the model a run deployed (ModelInfo)
    runs/<run_id>/deployment/siblings/<job>.json  how each sibling job ended (several hyperparameter sets)
    runs/<run_id>/deployment/decision.json     which sibling's completion chose the model (written once)
    runs/<run_id>/deployment/decision-a<N>.json  the same, for attempt N of a retried run
    models/<model>/deploying.json              the deploy in flight on endpoint <model> (ModelInfo)
    models/<model>/model.json                  the live model (ModelInfo): what predict reads

None of these keys matches a trigger's pattern.
"""

import json
from typing import NamedTuple

from sagechain import names
from sagechain.events import SagechainEvent
from sagechain.layout import (
    MODEL_INFO_FILE,
    SPEC_RECORD_FILE,
    TRAINING_RECORD_FILE,
    model_key,
    run_key,
)
from sagechain.ports import ObjectStore
from sagechain.records import ModelInfo, TrainingRecord, read_record
from sagechain.spec import DatasetSpec

JSON = "application/json"
VARIANT = "AllTraffic"


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


def live_key(model: str) -> str:
    """models/<model>/model.json: the live pointer."""
    return model_key(model)


def run_model_key(run_id: str) -> str:
    """runs/<run_id>/model.json."""
    return run_key(run_id, MODEL_INFO_FILE)


def read_training_plan(store: ObjectStore, run_id: str) -> TrainingRecord | None:
    """runs/<run_id>/training.json as start_training wrote it, or None when missing."""
    return read_record(store, run_key(run_id, TRAINING_RECORD_FILE), TrainingRecord)


def read_run(store: ObjectStore, run_id: str) -> tuple[TrainingRecord, DatasetSpec] | None:
    """The run's training plan and accepted spec, or None when either is missing."""
    plan = read_training_plan(store, run_id)
    spec = read_record(store, run_key(run_id, SPEC_RECORD_FILE), DatasetSpec)
    if plan is None or spec is None:
        return None
    return plan, spec


def read_model_info(store: ObjectStore, key: str) -> ModelInfo | None:
    """A model.json (or deploying.json), or None."""
    info = read_record(store, key, ModelInfo)
    # A deleted model (DELETE /models/{model}) is no live model to compare with or replace.
    return None if info is None or info.deleted_at is not None else info


def endpoint_name_for(spec: DatasetSpec, dataset: str, name_prefix: str) -> str:
    """The run's endpoint (DatasetSpec.endpoint_name)."""
    return spec.endpoint_name(dataset, name_prefix)


def model_name_for(training_job: str, name_prefix: str) -> str:
    """The SageMaker model of a training job: named after the job (already prefixed)."""
    if training_job.startswith(f"{name_prefix}-"):
        return training_job
    return names.sagemaker_name(name_prefix, training_job)


def endpoint_config_name_for(training_job: str, name_prefix: str) -> str:
    """A new endpoint configuration per deployed job, the same for every delivery of its event."""
    return names.sagemaker_name(model_name_for(training_job, name_prefix), "config")
