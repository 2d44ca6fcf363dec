"""The `sagechain` events contract: what each stage puts on the bus (source `sagechain`).

track_run records and emails every one of them; docs/events.schema.json is their published
JSON Schema (`make schema`), kept current by a test.
"""

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from sagechain.aws_errors import AwsErrorExplanation
from sagechain.event_sources.sagemaker import StateChange

EVENT_SOURCE = "sagechain"


class SagechainEvent(BaseModel):
    """Base of the details sagechain puts on the bus (source `sagechain`)."""

    model_config = ConfigDict(defer_build=True, frozen=True)
    DETAIL_TYPE: ClassVar[str]

    run_id: str
    dataset: str
    attempt: int = Field(
        default=1,
        ge=1,
        description="The run attempt the event is about: 1, then one more per POST /runs/{run_id}/retry.",
    )
    sagemaker_change: StateChange | None = Field(
        default=None,
        description="The SageMaker state change this event answers, when only the stage heard it: "
        "the run's history records it with the event (one observer invocation, not two).",
    )


class LabelingCostEstimate(BaseModel):
    """What Ground Truth will charge for a run, before it starts."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    objects: int
    per_object_fees_usd: Decimal
    workforce_fees_usd: Decimal
    total_usd: Decimal


class WorstCaseCost(BaseModel):
    """The most a run can cost, in USD, before anything starts (on-demand prices, dated table)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    prices_as_of: str = Field(
        description="Date of the price table; 'override' when both prices were overridden."
    )
    region: str
    labeling_usd: Decimal = Field(description="Ground Truth's estimate; 0 when labels are provided.")
    training_instance_type: str
    training_instance_count: int
    training_jobs: int = Field(description="1, the hyperparameter sets, or the tuning job's max_jobs.")
    training_hours_per_job: Decimal = Field(description="training.max_runtime_seconds in hours.")
    training_usd_per_instance_hour: Decimal
    training_usd: Decimal = Field(description="On-demand; with spot it is at most this, usually less.")
    spot: bool
    endpoint_instance_type: str
    endpoint_usd_per_instance_hour: Decimal
    endpoint_min_instances: int
    endpoint_max_instances: int
    endpoint_per_day_min_usd: Decimal
    endpoint_per_day_max_usd: Decimal
    total_usd: Decimal = Field(description="labeling + training + one day of the endpoint at max instances.")
    max_run_cost_usd: Decimal = Field(description="The stack's MaxRunCostUsd the total is held to.")


class EndpointHourlyCost(BaseModel):
    """What a live endpoint bills per hour, at its autoscaling range's ends (on-demand, dated table)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    prices_as_of: str = Field(description="Date of the price table; 'override' for InstancePriceOverrides.")
    region: str
    instance_type: str
    usd_per_instance_hour: Decimal
    min_instances: int
    max_instances: int
    min_usd_per_hour: Decimal
    max_usd_per_hour: Decimal


class DatasetPrepared(SagechainEvent):
    """The dataset is valid and its manifest is written."""

    DETAIL_TYPE: ClassVar[str] = "Dataset Prepared"

    task: str
    labeling_mode: str
    manifest_uri: str
    spec_uri: str
    source_uri: str
    objects: int
    skipped: dict[str, int]
    label_counts: dict[str, int] | None = None
    cost_estimate: LabelingCostEstimate | None = None
    uploaded_by: str | None = Field(default=None, description="The requester S3 reported for the upload.")
    uploaded_from: str | None = Field(default=None, description="The upload's source IP address.")
    worst_case: WorstCaseCost | None = None


class DatasetRejected(SagechainEvent):
    """The dataset cannot become a run; it is kept as uploaded."""

    DETAIL_TYPE: ClassVar[str] = "Dataset Rejected"

    reason: str
    source_uri: str
    dataset_uri: str
    skipped: dict[str, int] = Field(default_factory=dict)
    cost_estimate: LabelingCostEstimate | None = None
    uploaded_by: str | None = Field(default=None, description="The requester S3 reported for the upload.")
    uploaded_from: str | None = Field(default=None, description="The upload's source IP address.")
    worst_case: WorstCaseCost | None = None


# ---------------------------------------------------------------- later stages
# The contract between stages and with notify/track_run: each stage emits these.


class LabelingStarted(SagechainEvent):
    """A Ground Truth labeling job was created (or already existed) for the run."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Started"

    job_name: str
    task: str
    objects: int
    workforce: Literal["private", "vendor", "public"]
    auto_labeling: bool
    console_url: str
    output_uri: str
    cost_estimate: LabelingCostEstimate | None = None
    # Set when the spec asked for automated data labeling and the job runs without it.
    auto_labeling_refused_reason: str | None = None
    workteam_arn: str | None = Field(default=None, description="The work team the tasks go to.")


class LabelingFailed(SagechainEvent):
    """AWS refused to create the run's labeling job for good (a quota, a value, a permission)."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Failed"

    job_name: str
    reason: str = Field(description="What failed and why, the cause in its first sentence.")
    error: AwsErrorExplanation
    cost_estimate: LabelingCostEstimate | None = None


OwnTool = Literal["label-studio", "cvat"]


class LabelingRequested(SagechainEvent):
    """The run waits for labels from the team's own tool: what to import is written under the run."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Requested"

    tool: OwnTool
    task: str
    labels: list[str]
    objects: int
    bucket: str
    tasks_uri: str | None = Field(default=None, description="Label Studio: tasks.json, one task per image.")
    config_uri: str | None = Field(default=None, description="Label Studio: the labeling config XML.")
    cvat_labels_uri: str | None = Field(default=None, description="CVAT: the task's label specification.")
    images_uri: str = Field(
        description="The dataset's images, which the tool reads (s3:// URIs in tasks.json)."
    )
    annotations_uri: str = Field(
        description="Label Studio S3 target storage prefix: one object per annotation."
    )
    done_uri: str = Field(description="Upload any object here to finish early with what is labeled.")
    exports_uri: str = Field(description="Upload a whole export here (Label Studio JSON, JSON-MIN, COCO).")


class LabelingProgress(SagechainEvent):
    """An annotation arrived from the team's tool: how far labeling is (not emailed)."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Progress"

    labeled: int = Field(
        description="Images with a usable annotation so far, each counted once as it arrives (an atomic "
        "counter, not a listing: a function killed between counting an image and marking it counted "
        "may count it twice until completion's listing sets it right; Labeling Completed is exact)."
    )
    unusable: int = Field(
        description="Images whose annotations so far are cancelled, empty or unusable (counted the same way)."
    )
    total: int
    source_uri: str = Field(description="The annotation object that arrived.")
    problems: dict[str, int] = Field(
        default_factory=dict, description="What this object's annotation lost, by reason."
    )


class LabelingCompleted(SagechainEvent):
    """The team's labels are in: labeled.manifest is written and training starts from it."""

    DETAIL_TYPE: ClassVar[str] = "Labeling Completed"

    tool: OwnTool
    labeled: int
    total: int
    label_counts: dict[str, int]
    skipped: dict[str, int] = Field(
        default_factory=dict,
        description="Images and regions left out, by reason (cancelled, empty, unknown_label:<name>, "
        "box_outside_image, not_in_run, unlabeled, ...).",
    )
    manifest_uri: str
    completed_by: str = Field(
        description="What completed it: every image annotated, the done marker, an export."
    )
    source_uri: str


class LabelsRejected(SagechainEvent):
    """Labels uploaded for the run could not be used: nothing changed, the run waits for a corrected one."""

    DETAIL_TYPE: ClassVar[str] = "Labels Rejected"

    source_uri: str
    reason: str = Field(description="What is wrong with the file and what to fix.")
    skipped: dict[str, int] = Field(default_factory=dict)


class RefusedTrainingJob(BaseModel):
    """A training job (one hyperparameter set, or the tuning job) AWS refused to create."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    job_name: str
    tuning: bool = Field(default=False, description="Whether it is the run's hyperparameter tuning job.")
    hyperparameter_set: int | None = Field(
        default=None, description="Its index in training.hyperparameters, for a list of sets."
    )
    error: AwsErrorExplanation


class TrainingStarted(SagechainEvent):
    """Training (one job, several sibling jobs, or one tuning job) was started for the run."""

    DETAIL_TYPE: ClassVar[str] = "Training Started"

    job_names: list[str]
    tuning_job_name: str | None = None
    algorithm: str
    instance_type: str
    instance_count: int
    spot: bool
    train_objects: int
    validation_objects: int
    dropped: dict[str, int] = Field(default_factory=dict)
    console_urls: list[str] = Field(default_factory=list)
    refused: list[RefusedTrainingJob] = Field(
        default_factory=list,
        description="Hyperparameter sets AWS refused; job_names lists only the jobs created.",
    )
    reused_jobs: list[str] = Field(
        default_factory=list,
        description="Jobs of an earlier attempt that completed and are reused, not trained again "
        "(a retry with several hyperparameter sets); job_names lists them too.",
    )
    may_have_ended: bool = Field(
        default=False,
        description="Whether a job may have ended before this event: one is reused, or was created "
        "by an earlier delivery that crashed before publishing (the deploy stage then looks).",
    )


class TrainingFailed(SagechainEvent):
    """AWS refused every training (or tuning) job of the run for good: nothing trains."""

    DETAIL_TYPE: ClassVar[str] = "Training Failed"

    reason: str = Field(description="What failed and why, the cause in its first sentence.")
    error: AwsErrorExplanation = Field(description="The first refusal (every one is in refused).")
    # At least one: with nothing refused there is no failure to tell (and notify reads the first).
    refused: list[RefusedTrainingJob] = Field(min_length=1)
    instance_type: str
    instance_count: int
    labeling_job_name: str | None = None


class TrainingSkipped(SagechainEvent):
    """Nothing was trained, and why (e.g. the labeling job labeled nothing)."""

    DETAIL_TYPE: ClassVar[str] = "Training Skipped"

    reason: str
    labeling_job_name: str | None = None


class JobComparison(BaseModel):
    """One training job of a run's comparison (hyperparameter sets, or a tuning job's trials)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    job_name: str
    status: str = Field(description="How the job ended: Completed, Failed, Stopped.")
    objective_value: float | None = Field(
        default=None, description="Its objective metric; absent when it reported none."
    )
    hyperparameters: dict[str, str] = Field(
        default_factory=dict,
        description="Only the hyperparameters whose values differ between the compared jobs (long "
        "values shortened); a key the job did not set is left out.",
    )
    training_seconds: int | None = Field(default=None, description="How long it trained.")
    chosen: bool = Field(default=False, description="The job whose model was judged by the quality gate.")


class ModelChoice(BaseModel):
    """Which job's model was chosen, how it did, and how the others did (Deployment Started/Rejected)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    final_metrics: dict[str, float] = Field(
        default_factory=dict, description="Every final metric of the chosen job (FinalMetricDataList)."
    )
    comparison: list[JobComparison] = Field(
        default_factory=list,
        description="The run's sibling or tuning jobs, best first on the objective metric, at most 20 "
        "(the chosen one always among them); empty for a single job.",
    )
    jobs_compared: int = Field(
        default=0, description="How many jobs were compared (comparison holds at most 20)."
    )
    chosen_because: str | None = Field(
        default=None, description="Why this job's model was chosen among the jobs compared, in words."
    )


class DeploymentStarted(SagechainEvent, ModelChoice):
    """A model passed the quality gate and its endpoint is being created or updated."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Started"

    endpoint_name: str
    model_name: str
    endpoint_config_name: str
    training_job_name: str
    action: Literal["create", "update"]
    instance_type: str
    metric_name: str | None = None
    metric_value: float | None = None
    console_url: str
    live_value: float | None = Field(
        default=None, description="The objective value of the model live before, when it has the same metric."
    )
    live_model_name: str | None = Field(
        default=None, description="The model live before, when live_value is set."
    )


class DeploymentRejected(SagechainEvent, ModelChoice):
    """The quality gate kept a model from replacing what is live (or from going live)."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Rejected"

    training_job_name: str
    reason: str
    metric_name: str | None = None
    metric_value: float | None = None
    minimum: float | None = None
    live_value: float | None = None


class DeploymentWaiting(SagechainEvent):
    """The run's endpoint is busy with another change: the model is deployed at its next state change."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Waiting"

    endpoint_name: str
    endpoint_status: str = Field(description="DescribeEndpoint's status when the deployment arrived.")
    model_name: str
    endpoint_config_name: str
    training_job_name: str
    waiting_behind: int = Field(description="Deployments to this endpoint that arrived before this one.")
    console_url: str


class DeploymentFailed(SagechainEvent):
    """The endpoint could not be created or updated."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Failed"

    endpoint_name: str
    reason: str
    console_url: str
    aws_error: AwsErrorExplanation | None = Field(
        default=None, description="The refused request, when AWS refused one."
    )


class ModelLive(SagechainEvent):
    """The endpoint is in service with autoscaling; the predict URL works."""

    DETAIL_TYPE: ClassVar[str] = "Model Live"

    endpoint_name: str
    model_name: str
    instance_type: str
    min_instances: int
    max_instances: int
    predict_url: str
    console_url: str
    endpoint_config_name: str | None = None
    hourly_cost: EndpointHourlyCost | None = Field(
        default=None, description="Absent when the instance type has no known price in the region."
    )
    expires_at: datetime | None = Field(
        default=None,
        description=(
            "When the endpoint is deleted (deployment.ttl_hours after this model went live, UTC); "
            "absent when it never expires. A newer model going live restarts the count."
        ),
    )
    traffic: str | None = Field(
        default=None,
        description="How the update moved traffic to this model (absent for a new endpoint).",
    )
    instances_before: int | None = Field(
        default=None, description="Instances serving before the update (absent for a new endpoint)."
    )
    instances_after: int | None = Field(default=None, description="Instances serving now.")
    final_metrics: dict[str, float] = Field(
        default_factory=dict, description="Every final metric of the model's training job."
    )
    chosen_because: str | None = Field(
        default=None,
        description="Why its training job was chosen among several (Deployment Started has the table).",
    )


class FiredAlarmDetail(BaseModel):
    """A rollback alarm that fired during an update: its metric, CloudWatch's reason, the values."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    alarm_name: str
    metric: str
    reason: str
    values: list[float] = Field(default_factory=list)
    threshold: float | None = None


class DeploymentRolledBack(SagechainEvent):
    """SageMaker rolled an update back (an alarm fired while traffic shifted or baked): the model live
    before stays live and this run's model is not promoted. run_id and dataset are the rolled-back run's."""

    DETAIL_TYPE: ClassVar[str] = "Deployment Rolled Back"

    endpoint_name: str
    model_name: str = Field(description="The model that was rolled back.")
    live_model_name: str = Field(description="The model that stays live.")
    live_run_id: str
    alarms: list[FiredAlarmDetail] = Field(default_factory=list)
    traffic: str | None = Field(default=None, description="How the update was moving traffic.")
    reason: str
    console_url: str


class ModelExpired(SagechainEvent):
    """deployment.ttl_hours passed: the endpoint, its configurations and models were deleted."""

    DETAIL_TYPE: ClassVar[str] = "Model Expired"

    endpoint_name: str
    model_name: str
    expires_at: datetime = Field(description="When the schedule was due (UTC).")
    expired_at: datetime = Field(description="When the endpoint was deleted (UTC).")
    deleted: list[str] = Field(description="What was deleted: 'endpoint <name>', 'model <name>', ...")
    not_deleted: list[str] = Field(
        default_factory=list, description="What AWS refused to delete, with its error: delete it by hand."
    )
    console_url: str


# ---------------------------------------------------------------- run control (API routes)


StoppableJob = Literal["labeling", "training", "tuning"]
StoppableStage = Literal["dataset", "labeling", "training", "deployment"]


class StoppedJob(BaseModel):
    """A labeling, training or tuning job a stop request stopped."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: StoppableJob
    name: str


class RunStopped(SagechainEvent):
    """Someone stopped the run (POST /runs/{run_id}/stop): its jobs are stopping and it ends "stopped"."""

    DETAIL_TYPE: ClassVar[str] = "Run Stopped"

    stage: StoppableStage = Field(description="Where the run was when it was stopped.")
    stopped_jobs: list[StoppedJob] = Field(
        default_factory=list, description="The jobs SageMaker was asked to stop (those still running)."
    )
    cancelled_deployment: str | None = Field(
        default=None, description="The endpoint whose waiting deployment of this run was cancelled."
    )
    requested_by: str | None = Field(default=None, description="The caller API Gateway identified.")


class ModelDeleted(SagechainEvent):
    """Someone deleted a model (DELETE /models/{model}): its endpoint, autoscaling, configurations
    and models are gone, and predict answers 404. run_id and dataset are the live model's."""

    DETAIL_TYPE: ClassVar[str] = "Model Deleted"

    endpoint_name: str
    model_name: str = Field(description="The model that was live.")
    deleted_endpoint_configs: list[str]
    deleted_models: list[str]
    deregistered_variants: list[str] = Field(
        description="Variants whose autoscaling target was deregistered."
    )
    deleted_expiry_schedule: str | None = Field(
        default=None,
        description="The endpoint's expiry schedule (deployment.ttl_hours), deleted with it; None when "
        "the model was not due to expire.",
    )
    requested_by: str | None = Field(default=None, description="The caller API Gateway identified.")


class StageFailed(SagechainEvent):
    """A stage of the run failed on every try, and report_failures parked its event: the run stops
    at that stage until someone redrives the event (report_failures' email says how; track_run
    records it, no second email)."""

    DETAIL_TYPE: ClassVar[str] = "Stage Failed"

    stage: str = Field(description="The function that failed: prepare_dataset, start_training, ...")
    stage_label: str = Field(description="The step in words: Dataset preparation, Training start, ...")
    run_stage: Literal["dataset", "labeling", "training", "deployment"] = Field(
        description="Where the run stops."
    )
    reason: str = Field(description="How it failed (the stage's log has the error).")
    saved_event_uri: str = Field(description="The parked event, for the redrive: s3://.../failures/...")
    message_id: str = Field(description="The parked message's SQS id.")


class ModelRolledBack(SagechainEvent):
    """Someone rolled a model back (POST /models/{model}/rollback): the endpoint is being updated to
    the previous live model, which goes live again (Model Live). run_id and dataset are its run's."""

    DETAIL_TYPE: ClassVar[str] = "Model Rolled Back"

    endpoint_name: str
    model_name: str = Field(description="The previous model, going back on the endpoint.")
    endpoint_config_name: str
    replaced_model_name: str = Field(description="The model that was live until now.")
    replaced_run_id: str
    requested_by: str | None = Field(default=None, description="The caller API Gateway identified.")


RetryStage = Literal["labeling", "training", "deployment"]


class RunRetried(SagechainEvent):
    """Someone retried a failed or stopped run (POST /runs/{run_id}/retry): `attempt` starts again
    at `from_stage`, reusing what the stages before it produced. The stage's function starts it."""

    DETAIL_TYPE: ClassVar[str] = "Run Retried"

    from_stage: RetryStage = Field(description="The stage the attempt starts at.")
    previous_status: Literal["failed", "stopped"] = Field(description="How the previous attempt ended.")
    previous_stage: StoppableStage = Field(description="Where the previous attempt ended.")
    labeling_job_name: str | None = Field(
        default=None,
        description="The labeling job whose labels the attempt reuses (a retry from training or deployment).",
    )
    reused_jobs: list[str] = Field(
        default_factory=list,
        description="Training jobs that completed in an earlier attempt and are reused, not trained again.",
    )
    requested_by: str | None = Field(default=None, description="The caller API Gateway identified.")


# ---------------------------------------------------------------- batch predictions
# A batch is not a run: its events carry the run of the model that scores it (run_id, dataset)
# so it appears in that run's history, keyed on its own batch_id. A batch rejected before a model
# is known carries its batch_id as run_id and the model's name as dataset.


class BatchCostEstimate(BaseModel):
    """The most a batch can cost: its instances for its max runtime (on-demand, dated table)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    prices_as_of: str = Field(description="Date of the price table; 'override' for InstancePriceOverrides.")
    region: str
    instance_type: str
    instance_count: int
    usd_per_instance_hour: Decimal
    max_runtime_hours: Decimal
    max_usd: Decimal


class BatchEvent(SagechainEvent):
    """Base of the batch events."""

    batch_id: str = Field(description="The batch's own id: the same upload delivered twice has the same id.")
    model: str = Field(description="The model (endpoint) named by batches/<model>/<name>/.")
    batch_name: str
    batch_uri: str = Field(description="s3://<bucket>/batches/<model>/<name>/")


class BatchStarted(BatchEvent):
    """batch.json arrived: a transform job scores the batch's images with the model."""

    DETAIL_TYPE: ClassVar[str] = "Batch Started"

    transform_job_name: str
    model_name: str = Field(description="The SageMaker model the transform job runs.")
    training_job_name: str
    task: str
    images: int
    skipped: dict[str, int] = Field(description="Files under images/ that are not scored, by reason.")
    content_type: str
    instance_type: str
    instance_count: int
    cost_estimate: BatchCostEstimate | None = None
    console_url: str


class BatchRejected(BatchEvent):
    """The batch cannot start (bad batch.json, unknown model, no images): nothing started, the upload kept."""

    DETAIL_TYPE: ClassVar[str] = "Batch Rejected"

    reason: str
    skipped: dict[str, int] = Field(default_factory=dict)


class BatchCompleted(BatchEvent):
    """The transform job completed: predictions.jsonl and summary.json are written."""

    DETAIL_TYPE: ClassVar[str] = "Batch Completed"

    transform_job_name: str
    images: int
    scored: int
    failed: int
    label_counts: dict[str, int]
    predictions_uri: str
    summary_uri: str
    console_url: str


class BatchFailed(BatchEvent):
    """The transform job failed or was stopped, or SageMaker refused it: no predictions."""

    DETAIL_TYPE: ClassVar[str] = "Batch Failed"

    transform_job_name: str
    reason: str = Field(description="What failed and why, as SageMaker said it, and what to do.")
    status: str = Field(description="Failed, Stopped, or Refused (CreateTransformJob was refused).")
    console_url: str | None = None


SAGECHAIN_EVENTS: tuple[type[SagechainEvent], ...] = (
    DatasetPrepared,
    DatasetRejected,
    LabelingStarted,
    LabelingFailed,
    LabelingRequested,
    LabelingProgress,
    LabelingCompleted,
    LabelsRejected,
    TrainingStarted,
    TrainingFailed,
    TrainingSkipped,
    DeploymentWaiting,
    DeploymentStarted,
    DeploymentRejected,
    DeploymentFailed,
    DeploymentRolledBack,
    ModelLive,
    RunStopped,
    RunRetried,
    ModelDeleted,
    StageFailed,
    ModelRolledBack,
    ModelExpired,
    BatchStarted,
    BatchRejected,
    BatchCompleted,
    BatchFailed,
)


def events_schema_document() -> str:
    """JSON Schemas of every `sagechain` event's detail, keyed by detail-type (docs/events.schema.json)."""
    import json  # noqa: PLC0415 - only the schema export needs it

    schemas = {event.DETAIL_TYPE: event.model_json_schema(mode="serialization") for event in SAGECHAIN_EVENTS}
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "sagechain events (EventBridge source 'sagechain'): detail by detail-type",
        "detail_types": schemas,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(events_schema_document(), end="")
