"""The files one stage writes for the next, in the run's prefix of the data bucket.

- runs/<run_id>/run.json (RunInfo): written by prepare_dataset; what later stages need to
  know about a run besides its spec.
- runs/<run_id>/training.json (TrainingRecord): what start_training started, for the deploy
  stage to choose from. start_training writes it before it creates any job, so it is in
  place when SageMaker's first "Training Job State Change" or "HyperParameter Tuning Job
  State Change" arrives. The deploy stage reads `job_names` (one job, or the sibling jobs of
  a list of hyperparameter sets, in set order) or `tuning_job_name`, and compares jobs on
  `objective`. When SageMaker refuses some jobs, start_training rewrites it at once: job_names
  then lists only the jobs created, and `refused` the others with AWS's error.
- runs/<run_id>/model.json and models/<model>/model.json (ModelInfo): what the predict proxy
  needs to call an endpoint and read its answers. deploy_model writes the run's copy; when
  the endpoint is in service, configure_autoscaling copies it to models/<model>/model.json,
  the live pointer that predict and the status API read (<model> is the endpoint name).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagechain.errors import ObjectNotFoundError
from sagechain.events import BatchCostEstimate, EndpointHourlyCost, RefusedTrainingJob

if TYPE_CHECKING:  # ports imports the run history, which imports ModelMetric from here
    from sagechain.ports import ObjectStore

# A record is a small JSON object; anything larger is not one of ours.
RECORD_MAX_BYTES = 1024 * 1024
JSON = "application/json"


class RunInfo(BaseModel):
    """The run's identity and where its data is."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    dataset: str
    source_uri: str
    source_version: str | None
    task: str
    labeling_mode: str
    label_attribute: str
    manifest_uri: str
    objects: int
    created_at: datetime
    # Who uploaded the dataset, as S3's event said (absent in run.json written before this).
    uploaded_by: str | None = None
    uploaded_from: str | None = None


# ---------------------------------------------------------------- training.json
class ObjectiveMetric(BaseModel):
    """The metric jobs are compared on, and which way is better."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    type: Literal["Maximize", "Minimize"]


class ClassSplit(BaseModel):
    """How many kept lines carrying one class went to each channel."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    train: int
    validation: int


class TrainingRecord(BaseModel):
    """One run's training: the jobs, what they were given, and how the data was split."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    dataset: str
    task: str
    labels: list[str]
    label_attribute: str
    labeling_job_name: str | None = None
    algorithm: Literal["builtin", "custom"]
    training_image: str
    mode: Literal["single", "sets", "tuning"]
    # Training jobs sagechain created, in hyperparameter-set order (empty for tuning:
    # SageMaker names the tuning job's training jobs itself).
    job_names: list[str]
    tuning_job_name: str | None = None
    # One entry per job in job_names; for tuning, the static hyperparameters.
    hyperparameters: list[dict[str, str]]
    # None for a custom container trained without tuning: there is no metric to compare on.
    objective: ObjectiveMetric | None
    train_manifest_uri: str
    validation_manifest_uri: str
    output_uri: str
    train_objects: int
    validation_objects: int
    dropped: dict[str, int]
    class_split: dict[str, ClassSplit]
    created_at: datetime
    # Jobs SageMaker refused to create (a quota, a value): not in job_names, never deployed.
    refused: list[RefusedTrainingJob] = Field(default_factory=list)
    # The run attempt this training belongs to (1, or a retry's; see attempts.py). job_names may
    # hold jobs of earlier attempts that completed and are reused by this one.
    attempt: int = Field(default=1, ge=1)

    @property
    def objective_metric(self) -> str | None:
        """The metric jobs are compared on, if there is one."""
        return self.objective.name if self.objective else None

    @property
    def objective_type(self) -> Literal["Maximize", "Minimize"]:
        """Which way the objective is better (Maximize when there is none)."""
        return self.objective.type if self.objective else "Maximize"


# ---------------------------------------------------------------- model.json
class ModelMetric(BaseModel):
    """The objective metric the model was chosen on."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    value: float


class RolloutRecord(BaseModel):
    """How an update moved (or meant to move) traffic to the model, and the fleet it replaced."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    traffic: str
    alarms: list[str] = Field(default_factory=list)
    instances_before: int | None = None
    instance_type_before: str | None = None


class ModelInfo(BaseModel):
    """One deployed model."""

    model_config = ConfigDict(defer_build=True, frozen=True)

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
    # Set by DELETE /models/{model} on models/<model>/model.json: the endpoint is gone, predict
    # answers 404 and no stage reads this as the live model; the next Model Live replaces it.
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    # Written when the model goes live (models/<model>/model.json): what it bills, the configuration it
    # runs on, and the model live before it, kept for a rollback (older ones are deleted).
    hourly_cost: EndpointHourlyCost | None = None
    endpoint_config_name: str | None = None
    previous: "ModelInfo | None" = None
    # deployment.ttl_hours: when the endpoint is deleted (None: never), and when it was.
    expires_at: datetime | None = None
    expired_at: datetime | None = None
    # The run attempt that deployed it (see attempts.py): the events about it carry it.
    attempt: int = Field(default=1, ge=1)
    # An update of a live endpoint (deploying.json, then model.json): how traffic moves to this model.
    rollout: RolloutRecord | None = None
    # How its training job was chosen (Deployment Started says more): Model Live repeats it.
    final_metrics: dict[str, float] = Field(default_factory=dict)
    chosen_because: str | None = None


# ---------------------------------------------------------------- reading and writing them
BatchStatus = Literal["InProgress", "Completed", "Failed", "Stopped"]


class BatchRecord(BaseModel):
    """models/<model>/batches/<name>.json: one batch, as start_batch began it and collect_batch ended it."""

    batch_id: str
    model: str
    batch_name: str
    batch_uri: str
    status: BatchStatus
    transform_job_name: str
    scored_by: ModelInfo = Field(description="The model the batch runs, as it was when the batch started.")
    k: int
    threshold: float
    images: int
    skipped: dict[str, int]
    content_type: str
    instance_type: str
    instance_count: int
    max_runtime_minutes: int
    deadline_at: datetime | None = Field(
        default=None, description="When the batch is stopped if still running: created + max_runtime_minutes."
    )
    cost_estimate: BatchCostEstimate | None = None
    console_url: str
    created_at: datetime
    ended_at: datetime | None = None
    scored: int | None = None
    failed: int | None = None
    label_counts: dict[str, int] | None = None
    predictions_uri: str | None = None
    summary_uri: str | None = None
    failure_reason: str | None = None


def read_record[Record: BaseModel](store: "ObjectStore", key: str, model: type[Record]) -> Record | None:
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


def write_record(store: "ObjectStore", key: str, record: BaseModel) -> None:
    """A model as a small JSON object."""
    store.put_bytes(key, record.model_dump_json(indent=2).encode(), JSON)
