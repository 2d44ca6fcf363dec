"""What the stages need from AWS, as protocols: adapters implement them, tests fake them.

The values the adapters hand back (what a Describe* call tells, what a Create* call is
sent) live here too, so adapters depend on this module and on nothing in a stage.
Statuses are kept as the API spells them.
"""

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sagechain.event_sources.sagemaker import JobKind, StatusTransition
from sagechain.events import SagechainEvent
from sagechain.run_history import RunChange, RunItem, RunRecord, ScalingRange

# ---------------------------------------------------------------- the data bucket and the event bus


class StoredObject(NamedTuple):
    """One listed object: key as stored, size in bytes."""

    key: str
    size: int


class ObjectPage(NamedTuple):
    """One page of a listing: keys as stored, in key order, and their sizes in bytes."""

    keys: list[str]
    sizes: list[int]


class ObjectWriter(Protocol):
    """A streamed upload: nothing is visible until commit; abort leaves nothing behind."""

    def write(self, data: bytes) -> None:
        """Append bytes."""

    def commit(self) -> None:
        """Make the object visible."""

    def abort(self) -> None:
        """Discard everything written."""


class ObjectStore(Protocol):
    """The data bucket."""

    bucket: str

    def uri(self, key: str) -> str:
        """s3://bucket/key for a key as stored."""

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        """A whole small object (the given version, else the latest); ObjectNotFoundError or
        ObjectTooLargeError otherwise."""

    def exists(self, key: str) -> bool:
        """Whether the object exists."""

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under prefix, page by page, in key order."""

    def iter_object_pages(self, prefix: str) -> Iterator[ObjectPage]:
        """Every object under prefix in key order, a page at a time (what iter_objects yields)."""

    def iter_lines(self, key: str) -> Iterator[bytes]:
        """An object's lines, streamed."""

    def open_writer(self, key: str, content_type: str) -> ObjectWriter:
        """A streamed upload to key."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """A small object in one request."""

    def open_random_access(self, key: str, version_id: str | None = None) -> BinaryIO:
        """A read-only, seekable view of an object that fetches ranges on demand."""

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str) -> None:
        """Copy a readable stream to key without holding it whole in memory."""

    def copy(self, source_key: str, key: str) -> None:
        """Copy an object of this bucket to key, server-side (CopyObject); ObjectNotFoundError if absent."""


class EventPublisher(Protocol):
    """The event bus."""

    def publish(self, event: SagechainEvent) -> None:
        """Put one `sagechain` event on the bus."""


# ---------------------------------------------------------------- Ground Truth (labeling, training)


class LabelingJobPlan(BaseModel):
    """Everything CreateLabelingJob is sent, in sagechain's terms (the adapter spells it out)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    job_name: str
    label_attribute: str
    manifest_uri: str
    output_uri: str
    role_arn: str
    label_categories_uri: str
    ui_template_uri: str
    workteam_arn: str
    pre_human_task_lambda_arn: str
    annotation_consolidation_lambda_arn: str
    title: str
    description: str
    keywords: tuple[str, ...]
    workers_per_object: int
    task_time_limit_seconds: int
    task_availability_lifetime_seconds: int
    max_concurrent_tasks: int | None = None
    # Public workforce only: what each Mechanical Turk worker is paid per task, in USD.
    public_task_price_usd: Decimal | None = None
    # Automated data labeling: the region's algorithm, or None for humans only.
    auto_labeling_algorithm_arn: str | None = None
    tags: dict[str, str]


class LabelingJobSummary(BaseModel):
    """What start_training needs to know about a finished Ground Truth labeling job."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str
    # The job's tags: sagechain:run-id names its run, sagechain:stack the stack that made it.
    tags: dict[str, str]
    label_attribute: str | None
    output_manifest_uri: str | None
    labeled: int
    failed: int
    unlabeled: int


class LabelingJobs(Protocol):
    """Ground Truth in one region."""

    @property
    def region(self) -> str:
        """The region jobs are created in."""

    def create(self, plan: LabelingJobPlan) -> bool:
        """Create the job: True when created now, False when it already existed;
        RequestRefusedError when SageMaker refuses it for good (throttling and 5xx propagate)."""

    def console_url(self, job_name: str) -> str:
        """The job's page in the SageMaker console."""


# ---------------------------------------------------------------- training (start_training)


class TrainingJobs(Protocol):
    """SageMaker, as the training stage uses it."""

    def labeling_job(self, name: str) -> LabelingJobSummary | None:
        """The labeling job called name, or None when there is none."""

    def training_job_status(self, name: str) -> str | None:
        """A training job's status (DescribeTrainingJob), or None when there is none."""

    def create_training_job(self, request: dict[str, Any]) -> bool:
        """Create a training job (False: the name was taken); RequestRefusedError when refused."""

    def create_tuning_job(self, request: dict[str, Any]) -> bool:
        """Create a tuning job (False: the name was taken); RequestRefusedError when refused."""

    def console_url(self, kind: Literal["jobs", "hyper-tuning-jobs"], name: str) -> str:
        """The SageMaker console page of a training job (jobs) or tuning job."""


class TransformJobs(Protocol):
    """SageMaker, as the batch stage uses it (CreateTransformJob, DescribeModel)."""

    @property
    def region(self) -> str:
        """The region the jobs run in."""

    def model_exists(self, name: str) -> bool:
        """Whether the SageMaker model called name exists (DescribeModel)."""

    def create_transform_job(self, request: dict[str, Any]) -> bool:
        """Create a transform job (False: the name was taken); RequestRefusedError when refused."""

    def console_url(self, name: str) -> str:
        """The SageMaker console page of a transform job."""


class TransformStopper(Protocol):
    """StopTransformJob, for a batch past its max runtime."""

    def stop_transform_job(self, name: str) -> bool:
        """Ask SageMaker to stop the job; False when it is no longer running."""


class BatchDeadlines(Protocol):
    """One-time schedules (EventBridge Scheduler), one per batch, that end it at its max runtime."""

    def put(self, name: str, at: datetime, payload: str) -> None:
        """Create the schedule, or replace the one of that name: it fires once at `at` (UTC)."""

    def remove(self, name: str) -> None:
        """Delete the schedule; no-op when there is none."""


class MessageQueue(Protocol):
    """A stage's own SQS queue, for the work it hands itself (a big batch's shards)."""

    def send_all(self, bodies: list[str]) -> None:
        """Send each body as one message."""


# ---------------------------------------------------------------- hosting and autoscaling (deployment)


class TrainedJob(NamedTuple):
    """A training job as DescribeTrainingJob tells it."""

    name: str
    arn: str
    status: str
    metrics: dict[str, float]
    model_data_url: str | None
    tuning_job_arn: str | None
    failure_reason: str | None
    # TrainingTimeInSeconds, once the job has ended.
    training_seconds: int | None = None


class TuningTrial(NamedTuple):
    """One training job a tuning job launched, as ListTrainingJobsForHyperParameterTuningJob tells it."""

    name: str
    status: str
    hyperparameters: dict[str, str]
    objective_value: float | None
    training_seconds: int | None


class TuningOutcome(NamedTuple):
    """A tuning job as DescribeHyperParameterTuningJob tells it, with its best training job."""

    name: str
    arn: str
    status: str
    best_training_job: str | None
    objective_metric: str | None
    objective_value: float | None


class EndpointState(NamedTuple):
    """An endpoint as DescribeEndpoint tells it."""

    name: str
    status: str
    config_name: str
    pending_config_name: str | None
    failure_reason: str | None
    # The instances serving now (CurrentInstanceCount, every variant); None while Creating.
    instance_count: int | None = None


class Variant(NamedTuple):
    """One production variant of an endpoint configuration."""

    name: str
    model_name: str
    instance_type: str | None


class EndpointConfig(NamedTuple):
    """An endpoint configuration as DescribeEndpointConfig tells it."""

    name: str
    arn: str
    variants: list[Variant]


class ScalableTarget(NamedTuple):
    """A variant's registration with Application Auto Scaling (deploy stage)."""

    min_capacity: int
    max_capacity: int


class TrafficShift(NamedTuple):
    """How a blue/green update moves traffic (TrafficRoutingConfig): the type, the wait between
    shifts, and the canary or linear step (unit CAPACITY_PERCENT or INSTANCE_COUNT)."""

    kind: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    wait_seconds: int
    size_unit: Literal["CAPACITY_PERCENT", "INSTANCE_COUNT"] | None = None
    size: int | None = None


class BlueGreenUpdate(NamedTuple):
    """UpdateEndpoint's DeploymentConfig: blue/green with traffic shifting, baking, alarm rollback."""

    traffic: TrafficShift
    termination_wait_seconds: int
    max_execution_seconds: int
    alarms: tuple[str, ...] = ()


class RollbackAlarm(NamedTuple):
    """A CloudWatch alarm an update rolls back on (PutMetricAlarm, one metric, one threshold)."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    threshold: float
    statistic: Literal["Average", "Sum", "Maximum"] | None = None
    extended_statistic: str | None = None
    period_seconds: int = 60
    evaluation_periods: int = 2


class FiredAlarm(NamedTuple):
    """An alarm in ALARM state (DescribeAlarms): why, in CloudWatch's words, and the values it saw."""

    name: str
    metric: str
    reason: str
    values: tuple[float, ...] = ()
    threshold: float | None = None


class RollbackAlarms(Protocol):
    """CloudWatch alarms the stack owns for its endpoints' updates."""

    def put(self, alarm: RollbackAlarm, tags: dict[str, str]) -> None:
        """PutMetricAlarm (creates or replaces it), tagged."""

    def firing(self, names: list[str]) -> list[FiredAlarm]:
        """DescribeAlarms: those of the named alarms that are in ALARM state."""

    def delete(self, names: list[str]) -> None:
        """DeleteAlarms; names that do not exist are fine."""


class SageMakerJobs(Protocol):
    """Reads finished training and tuning jobs."""

    def training_job(self, name: str) -> TrainedJob:
        """DescribeTrainingJob."""

    def tuning_job(self, name: str) -> TuningOutcome:
        """DescribeHyperParameterTuningJob."""

    def tuning_trials(self, name: str) -> list[TuningTrial]:
        """ListTrainingJobsForHyperParameterTuningJob, every page."""

    def tags(self, arn: str) -> dict[str, str]:
        """ListTags of any SageMaker resource, as a map."""


class ModelHost(Protocol):
    """SageMaker hosting: models, endpoint configurations, endpoints."""

    region: str

    def create_model(
        self,
        name: str,
        image: str,
        model_data_url: str,
        role_arn: str,
        network_isolation: bool,
        tags: dict[str, str],
        environment: dict[str, str] | None = None,
    ) -> bool:
        """CreateModel (with the container's environment, if any); False when the model exists."""

    def create_endpoint_config(
        self,
        name: str,
        variant: Variant,
        instance_count: int,
        tags: dict[str, str],
    ) -> bool:
        """CreateEndpointConfig with one variant; False when it already exists."""

    def endpoint(self, name: str) -> EndpointState | None:
        """DescribeEndpoint; None when there is no such endpoint."""

    def endpoint_config(self, name: str) -> EndpointConfig:
        """DescribeEndpointConfig."""

    def create_endpoint(self, name: str, config_name: str, tags: dict[str, str]) -> bool:
        """CreateEndpoint; False when an endpoint of that name already exists."""

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        retain_variant_properties: bool,
        blue_green: BlueGreenUpdate | None = None,
    ) -> None:
        """UpdateEndpoint to another configuration; blue_green: its DeploymentConfig (None: SageMaker's
        default blue/green, all at once, no baking)."""

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig; no-op when it is already gone."""

    def delete_model(self, name: str) -> None:
        """DeleteModel; no-op when it is already gone."""

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint; no-op when it is already gone."""


class Autoscaler(Protocol):
    """Application Auto Scaling for endpoint variants (DesiredInstanceCount)."""

    def registered(self, endpoint: str, variant: str) -> ScalableTarget | None:
        """The variant's scalable target, or None when it is not registered."""

    def deregister(self, endpoint: str, variant: str) -> None:
        """DeregisterScalableTarget (its scaling policies go with it); no-op when not registered."""

    def register(self, endpoint: str, variant: str, min_capacity: int, max_capacity: int) -> None:
        """RegisterScalableTarget (creates or updates the range)."""

    def track_invocations(
        self,
        endpoint: str,
        variant: str,
        policy_name: str,
        target_per_instance: float,
        scale_in_cooldown: int,
        scale_out_cooldown: int,
        disable_scale_in: bool = False,
    ) -> None:
        """A target-tracking PutScalingPolicy on SageMakerVariantInvocationsPerInstance."""


class DeploymentStore(ObjectStore, Protocol):
    """The data bucket, plus the two writes the deploy stage's bookkeeping needs."""

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        """Write only if no object has the key (S3 If-None-Match); whether this call wrote it."""

    def delete(self, key: str) -> None:
        """Delete an object; no error when it is already gone."""


class LabelTally(NamedTuple):
    """A run's own-tool labeling counters: images with a usable record, images with only unusable ones."""

    labeled: int
    unusable: int


class LabelCounters(Protocol):
    """Per-run atomic counters of own-tool labeling (DynamoDB UpdateItem ADD)."""

    def add(self, run_id: str, labeled: int, unusable: int) -> LabelTally:
        """Add to the run's counters (0 reads them) and return their new values."""


# ---------------------------------------------------------------- real-time inference (predict)


class EndpointAnswer(NamedTuple):
    """What a SageMaker endpoint answered: the body and its content type."""

    body: bytes
    content_type: str | None


class EndpointInvoker(Protocol):
    """SageMaker real-time endpoints (InvokeEndpoint)."""

    def invoke(
        self, endpoint: str, body: bytes, content_type: str, accept: str | None, timeout_seconds: float
    ) -> EndpointAnswer:
        """One invocation, answered within timeout_seconds; failures are sagechain.api_errors
        (ThrottledError and ModelUnavailableError are retryable)."""


# ---------------------------------------------------------------- what a person is told (observers)


class TrainingJobFacts(BaseModel):
    """DescribeTrainingJob, as far as a person needs it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str
    secondary_status: str | None = None
    failure_reason: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    spot: bool = False
    training_seconds: int | None = None
    billable_seconds: int | None = None
    tuning_job_arn: str | None = None
    final_metrics: dict[str, float] = Field(default_factory=dict)
    transitions: list[StatusTransition] = Field(default_factory=list)

    @property
    def spot_savings_percent(self) -> float | None:
        """AWS's formula (DescribeTrainingJob, BillableTimeInSeconds): (1 - billable / training) * 100."""
        if not self.spot or not self.training_seconds or self.billable_seconds is None:
            return None
        return round((1 - self.billable_seconds / self.training_seconds) * 100, 1)


class LabelingJobFacts(BaseModel):
    """DescribeLabelingJob: status, reason and the label counters."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    counters: dict[str, int] = Field(default_factory=dict)


class TuningJobFacts(BaseModel):
    """DescribeHyperParameterTuningJob: status, reason, trial counters and the best trial."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    counters: dict[str, int] = Field(default_factory=dict)
    best_training_job: str | None = None
    best_metric_name: str | None = None
    best_metric_value: float | None = None


class EndpointFacts(BaseModel):
    """DescribeEndpoint: status, reason, configuration and the variant's instances."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    status: str
    failure_reason: str | None = None
    config_name: str | None = None
    variant_name: str | None = None
    instance_count: int | None = None
    updated_at: datetime | None = None


# An opaque position in the runs listing (the table's LastEvaluatedKey, as strings).
Cursor = dict[str, str]


class SageMakerLookup(Protocol):
    """Read-only SageMaker: tags, Describe* and console links. None means 'no such resource'."""

    def tags(self, arn: str) -> dict[str, str]:
        """A resource's tags ({} when it does not exist)."""

    def training_job(self, name: str) -> TrainingJobFacts | None:
        """DescribeTrainingJob."""

    def labeling_job(self, name: str) -> LabelingJobFacts | None:
        """DescribeLabelingJob."""

    def tuning_job(self, name: str) -> TuningJobFacts | None:
        """DescribeHyperParameterTuningJob."""

    def endpoint(self, name: str) -> EndpointFacts | None:
        """DescribeEndpoint."""

    def console_url(self, kind: JobKind, name: str) -> str:
        """The SageMaker console page of a job or endpoint."""

    def training_log_url(self, name: str) -> str:
        """The CloudWatch Logs console page of a training job's log streams."""

    def worker_portal(self, workteam_arn: str) -> str | None:
        """The labeling portal a private work team's workers sign in to (None when not known)."""


class ScalingLookup(Protocol):
    """Application Auto Scaling, read-only."""

    def scaling_range(self, endpoint_name: str, variant_name: str) -> ScalingRange | None:
        """The variant's registered min and max instances, or None when none is registered."""


class EmailSender(Protocol):
    """The notification topic."""

    def send(self, subject: str, body: str) -> None:
        """Publish one plain-text email."""


class EmailSubscriptions(Protocol):
    """Who the notification topic reaches."""

    def confirmed(self) -> int | None:
        """How many of the topic's subscriptions are confirmed (an email address must click a
        link), or None when that cannot be told right now."""


class RunStore(Protocol):
    """The runs table."""

    def apply(self, change: RunChange) -> None:
        """Record one event: facts merged, history entry added once, run and job moved only forward."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """A run with its jobs and history, or None."""

    def list_runs(self, limit: int, cursor: Cursor | None) -> tuple[list[RunItem], Cursor | None]:
        """Up to limit runs, newest first, after cursor; and the cursor of the next page."""

    def runs_in_progress(self, created_after: datetime) -> Iterator[RunItem]:
        """Every run created after the time whose status is still in progress, page by page."""


class JobStopper(Protocol):
    """Stops a run's SageMaker jobs (run control)."""

    def stop(self, kind: JobKind, name: str) -> bool:
        """Ask SageMaker to stop the job; False when it is no longer running (ended or already stopping)."""
        ...


class HostingRemover(Protocol):
    """Reads and deletes an endpoint, its configurations and its models (run control)."""

    def endpoint(self, name: str) -> EndpointState | None:
        """DescribeEndpoint, or None when the endpoint does not exist."""
        ...

    def endpoint_config(self, name: str) -> EndpointConfig:
        """DescribeEndpointConfig; ResourceMissingError when it does not exist."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint; an endpoint already gone is fine."""
        ...

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig; a configuration already gone is fine."""
        ...

    def model_exists(self, name: str) -> bool:
        """DescribeModel: whether the model still exists."""
        ...

    def delete_model(self, name: str) -> None:
        """DeleteModel; a model already gone is fine."""
        ...


class NamedResource(NamedTuple):
    """A SageMaker resource as a List* call names it."""

    name: str
    arn: str


class StackSageMaker(Protocol):
    """What deleting the stack needs of SageMaker: its hosting resources, their tags, deletion."""

    def endpoints(self, name_contains: str) -> list[NamedResource]:
        """ListEndpoints, every page."""

    def endpoint_configs(self, name_contains: str) -> list[NamedResource]:
        """ListEndpointConfigs, every page."""

    def models(self, name_contains: str) -> list[NamedResource]:
        """ListModels, every page."""

    def tags(self, arn: str) -> dict[str, str]:
        """ListTags."""

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint; no-op when it is already gone."""

    def delete_endpoint_config(self, name: str) -> None:
        """DeleteEndpointConfig; no-op when it is already gone."""

    def delete_model(self, name: str) -> None:
        """DeleteModel; no-op when it is already gone."""


class StackJobs(Protocol):
    """What deleting the stack needs of its jobs: the ones still running, stopping them."""

    def running(self, kind: JobKind, name_contains: str) -> list[NamedResource]:
        """ListLabelingJobs, ListTrainingJobs or ListHyperParameterTuningJobs in progress, every page."""

    def stop(self, kind: JobKind, name: str) -> bool:
        """Stop*; False when it is no longer running; RequestRefusedError when refused."""


class StackAutoscaling(Protocol):
    """What deleting the stack needs of Application Auto Scaling: the registered variants, deregistering."""

    def scaled_variants(self, endpoint_prefix: str) -> dict[str, list[str]]:
        """The registered variants of endpoints whose names start with endpoint_prefix, by endpoint."""

    def deregister(self, endpoint: str, variant: str) -> None:
        """DeregisterScalableTarget (its scaling policies go with it); no-op when not registered."""


class StackSchedules(Protocol):
    """What deleting the stack needs of its expiry schedules: the pending ones, deleting them."""

    def pending(self, name_prefix: str) -> list[str]:
        """The names of this stack's schedules (they invoke its expiry function) starting with name_prefix."""

    def remove(self, name: str) -> None:
        """Delete the schedule; no-op when there is none."""


class ExpirySchedules(Protocol):
    """One-time schedules that invoke the expiry function (EventBridge Scheduler), one per endpoint."""

    def put(self, name: str, at: datetime, payload: str) -> None:
        """Create the schedule, or replace the one of that name: it fires once at `at` (UTC)."""

    def remove(self, name: str) -> None:
        """Delete the schedule; no-op when there is none."""
