"""Stage 4: a finished training becomes the model behind the run's endpoint, or is turned away.

Triggered by SageMaker's training and tuning job state changes, and by the run's own "Training
Started" for jobs that ended before it (see ended_before_started). The model is the training
job itself, a tuning job's best training job, or, for several hyperparameter sets, the best
sibling once the last of them has ended (each ending records itself; the last one decides,
and a conditional write makes sure only one decides). A quality gate compares its objective
metric with the spec's minimum and with the model live on the endpoint. Then CreateModel,
CreateEndpointConfig, and CreateEndpoint or an autoscaling-aware UpdateEndpoint.

Nothing here waits: an endpoint that is busy with another change gets the model and its
configuration at once, and the deployment is queued (models/<endpoint>/pending/, see
pending.py) for configure_autoscaling to carry out at the endpoint's next state change; a
request SageMaker refuses for good is a Deployment Failed with the code, meaning and fix.
Every step is safe to repeat: names are deterministic, "already exists" is success, and an
endpoint already on (or moving to) this configuration is not touched again.

Attempts (attempts.py). A job change is of its run's attempt, training.json's `attempt` (a
retry's jobs carry the attempt in their names and tags; reused siblings are listed there too).
Each attempt decides once (its own decision record); sibling records are shared, since they say
how a job ended. A retry from deployment ("Run Retried", from_stage deployment) deploys again
what the run's training chose, without retraining, on an endpoint configuration of its attempt;
an endpoint of the run's dataset whose creation failed is deleted first, and the deploy retried.
An attempt a retry replaced, or a stopped run's, deploys nothing (why_not_start).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sagechain.attempts import why_not_start
from sagechain.console import console_url
from sagechain.deployment.alarms import AlarmThresholds
from sagechain.deployment.bookkeeping import (
    JSON,
    VARIANT,
    Outcome,
    endpoint_config_name_for,
    endpoint_name_for,
    live_key,
    model_name_for,
    read_model_info,
    read_run,
    run_model_key,
)
from sagechain.deployment.comparison import Candidate, model_choice
from sagechain.deployment.failures import refused_deployment
from sagechain.deployment.pending import (
    PendingDeployment,
    fleet_size,
    record_pending,
    update_endpoint,
    update_safety,
)
from sagechain.deployment.settings import DeployModelSettings
from sagechain.errors import EndpointBusyError, RequestRefusedError, RetryableError, RunNotReadyError
from sagechain.event_sources.sagemaker import JobKind, StateChange, normalized_status
from sagechain.events import (
    DeploymentFailed,
    DeploymentRejected,
    DeploymentStarted,
    DeploymentWaiting,
    ModelChoice,
    RunRetried,
    TrainingStarted,
)
from sagechain.guardrails import endpoint_owner, endpoint_violations, foreign_endpoint
from sagechain.layout import deploying_key
from sagechain.names import RUN_ID_TAG, STACK_TAG, attempt_parts, owned_run_id, resource_tags, sagemaker_name
from sagechain.ports import (
    Autoscaler,
    DeploymentStore,
    EndpointState,
    EventPublisher,
    ModelHost,
    RollbackAlarms,
    SageMakerJobs,
    TrainedJob,
    TuningOutcome,
    Variant,
)
from sagechain.records import (
    ModelInfo,
    ModelMetric,
    RolloutRecord,
    TrainingRecord,
    read_record,
    write_record,
)
from sagechain.spec import DatasetSpec

ENDED = ("Completed", "Failed", "Stopped")
# Endpoint statuses (DescribeEndpoint's enum, compared without case or underscores).
BUSY = {"creating", "updating", "systemupdating", "rollingback", "deleting"}
BROKEN = {"failed", "updaterollbackfailed", "outofservice"}


@dataclass(frozen=True)
class DeployConfig:
    """What deploy_model takes from its settings (the bounds: None leaves them unchecked)."""

    name_prefix: str
    role_arn: str
    stack_name: str
    allow_worse_model: bool = False
    allowed_endpoint_instance_types: tuple[str, ...] | None = None
    max_endpoint_instances: int | None = None
    # Custom images may reach the network (stack parameter AllowCustomNetworkAccess).
    allow_custom_network_access: bool = False
    # The rollback alarms' stack side (RollbackErrorRatePercent, the predict function).
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)

    @classmethod
    def from_settings(cls, settings: DeployModelSettings) -> "DeployConfig":
        """The function's settings, as the stage reads them."""
        return cls(
            name_prefix=settings.name_prefix,
            role_arn=settings.sagemaker_role_arn,
            stack_name=settings.stack_name,
            allow_worse_model=settings.allow_worse_model,
            allowed_endpoint_instance_types=settings.allowed_endpoint_instance_types,
            max_endpoint_instances=settings.max_endpoint_instances,
            allow_custom_network_access=settings.allow_custom_network_access,
            alarm_thresholds=AlarmThresholds(
                settings.rollback_error_rate_percent, settings.predict_function_name
            ),
        )


class SiblingRecord(BaseModel):
    """How one of a run's sibling training jobs ended."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    job_name: str
    status: str
    metric_value: float | None = None
    # TrainingTimeInSeconds, for the comparison (absent in records written before it).
    training_seconds: int | None = None


class Decision(BaseModel):
    """Which sibling's ending chose the run's model (written once, conditionally)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    decided_by: str


@dataclass(frozen=True)
class _Run:
    run_id: str
    plan: TrainingRecord
    spec: DatasetSpec
    # The attempt deploying: training.json's, or a retry from deployment's (then `redeploy`).
    attempt: int = 1
    redeploy: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _siblings_prefix(run_id: str) -> str:
    return f"runs/{run_id}/deployment/siblings/"


def _decision_key(run_id: str, attempt: int = 1) -> str:
    """One decision per attempt: a retry chooses again (attempt 1 keeps the key it always had)."""
    suffix = "" if attempt <= 1 else f"-a{attempt}"
    return f"runs/{run_id}/deployment/decision{suffix}.json"


def better(a: float, b: float, objective_type: Literal["Maximize", "Minimize"]) -> bool:
    """Whether a is strictly better than b."""
    return a > b if objective_type == "Maximize" else a < b


def quality_gate(  # noqa: PLR0911 - one return per reason a person can act on
    plan: TrainingRecord,
    spec: DatasetSpec,
    training_job: str,
    value: float | None,
    live: ModelInfo | None,
    allow_worse_model: bool = False,
) -> str | None:
    """Why the model may not go live, or None when it may (allow_worse_model: the stack's AllowWorseModel).

    "Reaching" the minimum and "not worse" follow the objective's direction: for a metric to
    minimize (a loss), the minimum is an upper bound and lower values are better.
    """
    metric, direction = plan.objective_metric, plan.objective_type
    minimum = spec.deployment.min_objective_metric
    comparable = (
        live is not None and live.metric is not None and live.metric.name == metric and not allow_worse_model
    )
    if minimum is not None and metric is None:
        return (
            f"deployment.min_objective_metric is {minimum:g}, but training names no objective metric "
            "to check it against. Name training.objective (a metric of training.metric_definitions) for a "
            "custom image, or remove the minimum."
        )
    if metric is None:
        return None
    if value is None:
        if minimum is None and not comparable:
            return None
        return (
            f"training job {training_job} reported no {metric} (FinalMetricDataList), so it cannot be "
            "checked against the minimum or the live model. Check the job's metric definitions."
        )
    if minimum is not None and better(minimum, value, direction):
        side = "below" if direction == "Maximize" else "above (lower is better)"
        return f"{metric} {value:g} is {side} deployment.min_objective_metric {minimum:g}."
    live_metric = live.metric if comparable and live is not None else None
    if live_metric is not None and live is not None and better(live_metric.value, value, direction):
        return (
            f"{metric} {value:g} is worse than {live_metric.value:g} of the live model "
            f"{live.model_name} (run {live.run_id}); this stack does not let a worse model replace a live "
            "one (stack parameter AllowWorseModel)."
        )
    return None


def _is_on(endpoint: EndpointState, config_name: str) -> bool:
    """Whether the endpoint runs, or is moving to, the configuration."""
    return config_name in (endpoint.config_name, endpoint.pending_config_name)


def _job_tags_run_id(change: StateChange, jobs: SageMakerJobs, arn: str, stack_name: str) -> str | None:
    # Documented events carry Tags as {} (empty): ask SageMaker when the event has none.
    return owned_run_id(change.tags or jobs.tags(arn), stack_name)


def _load_run(store: DeploymentStore, run_id: str) -> _Run | None:
    loaded = read_run(store, run_id)
    if loaded is None:
        return None
    plan, spec = loaded
    return _Run(run_id, plan, spec, plan.attempt)


class ReusedJobChange(BaseModel):
    """A sibling job an earlier attempt trained, handed over by a retry's Training Started: its
    idempotency key names the attempt, so each attempt that reuses it handles its ending once."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    change: StateChange
    attempt: int


def ended_before_started(started: TrainingStarted, jobs: SageMakerJobs, at: datetime) -> list[StateChange]:
    """The jobs of a "Training Started" that had already ended when it was published, as the
    state changes SageMaker sent for them.

    Normally a run's jobs end long after their Training Started. But a start_training that
    crashed after creating its jobs is retried only when its queue's visibility timeout ends
    (16 minutes): a short job may finish first, and its SageMaker event, arriving while the run
    had no training.json, was ignored. Handling the change again here is safe: it has the same
    idempotency key as SageMaker's own event, so a change already handled is not handled twice.
    """
    if started.tuning_job_name:
        tuning = jobs.tuning_job(started.tuning_job_name)
        if tuning.status != "Completed":
            return []
        return [
            StateChange(kind=JobKind.TUNING, name=tuning.name, arn=tuning.arn, status=tuning.status, at=at)
        ]
    changes = []
    for name in started.job_names:
        job = jobs.training_job(name)
        if job.status in ENDED:
            changes.append(
                StateChange(
                    kind=JobKind.TRAINING,
                    name=job.name,
                    arn=job.arn,
                    status=job.status,
                    at=at,
                    failure_reason=job.failure_reason,
                )
            )
    return changes


def deploy_model(
    change: StateChange,
    jobs: SageMakerJobs,
    host: ModelHost,
    autoscaler: Autoscaler,
    store: DeploymentStore,
    publisher: EventPublisher,
    config: DeployConfig,
    now: Callable[[], datetime] = _now,
    alarms: RollbackAlarms | None = None,
) -> Outcome:
    """Turn one training or tuning job state change into a deployment, a rejection, or nothing
    (alarms: where an update's rollback alarms are put)."""
    deployer = _Deployer(jobs, host, autoscaler, store, publisher, config, now, alarms)
    if change.kind is JobKind.TUNING:
        return deployer.tuning_ended(change)
    return deployer.training_ended(change)


def deploy_retry(
    retried: RunRetried,
    jobs: SageMakerJobs,
    host: ModelHost,
    autoscaler: Autoscaler,
    store: DeploymentStore,
    publisher: EventPublisher,
    config: DeployConfig,
    now: Callable[[], datetime] = _now,
    alarms: RollbackAlarms | None = None,
) -> Outcome:
    """A retry from deployment: deploy what the run's training chose again, for the new attempt."""
    if retried.from_stage != "deployment":
        return Outcome("ignored", f"a retry from {retried.from_stage}, not deployment")
    return _Deployer(jobs, host, autoscaler, store, publisher, config, now, alarms).redeploy(retried)


@dataclass
class _Deployer:
    jobs: SageMakerJobs
    host: ModelHost
    autoscaler: Autoscaler
    store: DeploymentStore
    publisher: EventPublisher
    config: DeployConfig
    now: Callable[[], datetime]
    alarms: RollbackAlarms | None = None

    # ------------------------------------------------------------ choosing the model
    def training_ended(self, change: StateChange) -> Outcome:
        job = self.jobs.training_job(change.name)
        if job.tuning_job_arn:
            return Outcome("ignored", f"{job.name} belongs to tuning job {job.tuning_job_arn}, which decides")
        run_id = _job_tags_run_id(change, self.jobs, job.arn, self.config.stack_name)
        if run_id is None:
            return Outcome("ignored", f"{job.name} has no {RUN_ID_TAG} tag or another stack's {STACK_TAG}")
        run = _load_run(self.store, run_id)
        if run is None:
            raise RunNotReadyError(run_id, job.name)
        foreign = (
            None
            if job.name in run.plan.job_names
            else f"{job.name} is not one of run {run_id}'s training jobs"
        )
        ignored = self._why_ignored(run, foreign)
        if ignored:
            return Outcome("ignored", ignored)
        if len(run.plan.job_names) > 1:
            return self._sibling_ended(run, job)
        if job.status != "Completed":
            return Outcome("ignored", f"{job.name} ended {job.status}: nothing to deploy")
        return self._deploy(run, job, self._metric(run.plan, job))

    def tuning_ended(self, change: StateChange) -> Outcome:
        tuning = self.jobs.tuning_job(change.name)
        if tuning.status != "Completed":
            return Outcome("ignored", f"tuning job {tuning.name} is {tuning.status}")
        run_id = _job_tags_run_id(change, self.jobs, tuning.arn, self.config.stack_name)
        if run_id is None:
            return Outcome("ignored", f"{tuning.name} has no {RUN_ID_TAG} tag or another stack's {STACK_TAG}")
        run = _load_run(self.store, run_id)
        if run is None:
            raise RunNotReadyError(run_id, tuning.name)
        foreign = (
            None
            if run.plan.tuning_job_name == tuning.name
            else f"{tuning.name} is not run {run_id}'s tuning job"
        )
        ignored = self._why_ignored(run, foreign)
        if ignored:
            return Outcome("ignored", ignored)
        return self._deploy_best_of(run, tuning)

    def _why_ignored(self, run: _Run, foreign: str | None) -> str | None:
        """Why a job change deploys nothing: not the run's job (foreign), or its attempt was
        replaced by a retry or stopped (a stopped run's job that completed anyway)."""
        return foreign or why_not_start(self.store, run.run_id, run.attempt)

    def _deploy_best_of(self, run: _Run, tuning: TuningOutcome) -> Outcome:
        """Deploy a completed tuning job's best training job."""
        trials = [
            Candidate(t.name, t.status, t.objective_value, t.hyperparameters, t.training_seconds)
            for t in self.jobs.tuning_trials(tuning.name)
        ]
        if tuning.best_training_job is None:
            return self._reject(
                run,
                tuning.name,
                f"tuning job {tuning.name} completed without a best training job "
                "(no training job reported the objective metric).",
                choice=self._choice(run, trials, None, by_tuning=True),
            )
        best = self.jobs.training_job(tuning.best_training_job)
        value = self._metric(run.plan, best)
        if value is None and tuning.objective_metric == run.plan.objective_metric:
            value = tuning.objective_value
        return self._deploy(run, best, value, self._choice(run, trials, best, by_tuning=True))

    def _choice(
        self, run: _Run, candidates: list[Candidate], chosen: TrainedJob | None, by_tuning: bool = False
    ) -> ModelChoice:
        """The comparison of the run's jobs, and the chosen one's final metrics (finite ones: JSON
        and DynamoDB take no NaN)."""
        metrics = {k: v for k, v in (chosen.metrics if chosen else {}).items() if math.isfinite(v)}
        plan = run.plan
        return model_choice(
            candidates,
            chosen.name if chosen else None,
            plan.objective_metric,
            plan.objective_type,
            metrics,
            by_tuning,
        )

    def _sibling_candidates(self, run: _Run, ended: dict[str, SiblingRecord]) -> list[Candidate]:
        """The siblings as ended, in hyperparameter-set order, each with the set it was given."""
        plan = run.plan
        sets = plan.hyperparameters if len(plan.hyperparameters) == len(plan.job_names) else []
        given = dict(zip(plan.job_names, sets, strict=False))
        return [
            Candidate(name, r.status, r.metric_value, given.get(name, {}), r.training_seconds)
            for name in plan.job_names
            if (r := ended.get(name)) is not None
        ]

    def _sibling_ended(self, run: _Run, job: TrainedJob) -> Outcome:
        """Record this sibling's ending; when it is the last, choose the best and deploy."""
        plan = run.plan
        record = SiblingRecord(
            job_name=job.name,
            status=job.status,
            metric_value=self._metric(plan, job),
            training_seconds=job.training_seconds,
        )
        write_record(self.store, f"{_siblings_prefix(run.run_id)}{job.name}.json", record)
        ended = self._ended_siblings(run)
        running = [name for name in plan.job_names if name not in ended]
        if running:
            return Outcome(
                "waiting for siblings",
                f"{job.name} ended {job.status}; {len(running)} of {len(plan.job_names)} "
                "training jobs still running",
            )
        decision = Decision(decided_by=job.name).model_dump_json().encode()
        key = _decision_key(run.run_id, run.attempt)
        if not self.store.put_bytes_if_absent(key, decision, JSON):
            earlier = read_record(self.store, key, Decision)
            if earlier is not None and earlier.decided_by != job.name:
                return Outcome("ignored", f"{earlier.decided_by}'s ending already chose the model")
        return self._deploy_best_sibling(run, ended, job)

    def _deploy_best_sibling(self, run: _Run, ended: dict[str, SiblingRecord], job: TrainedJob) -> Outcome:
        """Deploy the best of the siblings that completed (job: the one whose ending decided)."""
        plan = run.plan
        completed = [r for r in ended.values() if r.status == "Completed"]
        candidates = self._sibling_candidates(run, ended)
        if not completed:
            statuses = ", ".join(f"{r.job_name} {r.status}" for r in ended.values())
            return self._reject(
                run,
                job.name,
                f"none of the run's {len(ended)} training jobs completed ({statuses}).",
                choice=self._choice(run, candidates, None),
            )
        # Best by the objective; a tie or a missing metric keeps the earlier job in the plan.
        completed.sort(key=lambda r: plan.job_names.index(r.job_name))
        best = completed[0]
        for candidate in completed[1:]:
            if candidate.metric_value is None:
                continue
            if best.metric_value is None or better(
                candidate.metric_value, best.metric_value, plan.objective_type
            ):
                best = candidate
        chosen = job if best.job_name == job.name else self.jobs.training_job(best.job_name)
        return self._deploy(run, chosen, best.metric_value, self._choice(run, candidates, chosen))

    def redeploy(self, retried: RunRetried) -> Outcome:
        """A retry from deployment: the run's model, chosen again from its training, deployed anew."""
        stale = why_not_start(self.store, retried.run_id, retried.attempt)
        if stale:
            return Outcome("ignored", stale)
        loaded = _load_run(self.store, retried.run_id)
        if loaded is None:
            return Outcome(
                "ignored", f"run {retried.run_id} has no training.json or spec.json to deploy from"
            )
        return self._redeploy(replace(loaded, attempt=retried.attempt, redeploy=True))

    def _redeploy(self, run: _Run) -> Outcome:  # noqa: PLR0911 - one return per way training ended
        """What the run's training chose: its job, the best completed sibling, the tuning's best."""
        plan = run.plan
        if plan.tuning_job_name is not None:
            tuning = self.jobs.tuning_job(plan.tuning_job_name)
            if tuning.status != "Completed":
                return self._not_trained(run, tuning.name, tuning.status)
            return self._deploy_best_of(run, tuning)
        if not plan.job_names:
            return self._reject(
                run, "(none)", "the run's training created no job to deploy; retry from training."
            )
        if len(plan.job_names) > 1:
            ended = self._ended_siblings(run)
            running = [name for name in plan.job_names if name not in ended]
            if running:
                return self._not_trained(run, running[0], "still running")
            first = self.jobs.training_job(plan.job_names[0])
            return self._deploy_best_sibling(run, ended, first)
        job = self.jobs.training_job(plan.job_names[0])
        if job.status != "Completed":
            return self._not_trained(run, job.name, job.status)
        return self._deploy(run, job, self._metric(plan, job))

    def _not_trained(self, run: _Run, job_name: str, status: str) -> Outcome:
        return self._reject(
            run,
            job_name,
            f"{job_name} is {status}, so there is no trained model to deploy again: retry from training.",
        )

    def _ended_siblings(self, run: _Run) -> dict[str, SiblingRecord]:
        """Every sibling known to have ended; siblings without a record are asked once, so a
        lost or late event cannot hold the run back."""
        ended: dict[str, SiblingRecord] = {}
        for stored in self.store.iter_objects(_siblings_prefix(run.run_id)):
            record = read_record(self.store, stored.key, SiblingRecord)
            if record is not None and record.job_name in run.plan.job_names:
                ended[record.job_name] = record
        for name in run.plan.job_names:
            if name in ended:
                continue
            sibling = self.jobs.training_job(name)
            if sibling.status in ENDED:
                record = SiblingRecord(
                    job_name=name,
                    status=sibling.status,
                    metric_value=self._metric(run.plan, sibling),
                    training_seconds=sibling.training_seconds,
                )
                write_record(self.store, f"{_siblings_prefix(run.run_id)}{name}.json", record)
                ended[name] = record
        return ended

    @staticmethod
    def _metric(plan: TrainingRecord, job: TrainedJob) -> float | None:
        return job.metrics.get(plan.objective_metric) if plan.objective_metric else None

    # ------------------------------------------------------------ deploying it
    def _deploy(
        self, run: _Run, job: TrainedJob, value: float | None, choice: ModelChoice | None = None
    ) -> Outcome:
        plan, spec, prefix = run.plan, run.spec, self.config.name_prefix
        # A single job: its final metrics, nothing to compare with.
        choice = choice or self._choice(run, [], job).model_copy(update={"chosen_because": None})
        endpoint_name = endpoint_name_for(spec, plan.dataset, prefix)
        refusal = self._beyond_bounds(spec, plan.dataset, endpoint_name)
        if refusal:
            return self._reject(run, job.name, refusal, value, choice=choice)
        live = read_model_info(self.store, live_key(endpoint_name))
        model_name = model_name_for(job.name, prefix)
        if live is not None and live.model_name == model_name:
            live = None  # the live model is this one: nothing to compare against
        reason = quality_gate(plan, spec, job.name, value, live, self.config.allow_worse_model)
        if reason:
            return self._reject(run, job.name, reason, value, live, choice)
        if job.model_data_url is None:
            return self._reject(
                run, job.name, f"training job {job.name} has no model artifacts.", value, choice=choice
            )
        live_metric = live.metric if live is not None and live.metric is not None else None
        if live_metric is not None and live_metric.name != plan.objective_metric:
            live_metric = None

        config_name = _config_name_for(run, job.name, prefix)
        instance_type = spec.deployment.instance_type
        if instance_type is None:
            raise ValueError(f"run {run.run_id}'s spec.json has no deployment.instance_type")
        endpoint = self.host.endpoint(endpoint_name)
        action: Literal["create", "update"]
        if endpoint is not None and run.redeploy and normalized_status(endpoint.status) == "failed":
            self._delete_failed(run, endpoint)
        if endpoint is not None and normalized_status(endpoint.status) in BROKEN:
            return self._failed(run, endpoint)
        if endpoint is not None and _is_on(endpoint, config_name):
            # A repeated event: the endpoint already runs (or is moving to) this configuration.
            action = "create" if normalized_status(endpoint.status) == "creating" else "update"
        elif endpoint is not None and normalized_status(endpoint.status) == "deleting":
            # No state change follows a deletion, so nothing would end a wait: retried instead.
            raise RetryableError(f"endpoint {endpoint_name} is Deleting; deploying {model_name} is retried")
        else:
            started = self._start(run, job, value, endpoint, endpoint_name, model_name, config_name, choice)
            if isinstance(started, Outcome):
                return started
            action = started
        event = DeploymentStarted(
            run_id=run.run_id,
            dataset=plan.dataset,
            attempt=run.attempt,
            endpoint_name=endpoint_name,
            model_name=model_name,
            endpoint_config_name=config_name,
            training_job_name=job.name,
            action=action,
            instance_type=instance_type,
            metric_name=plan.objective_metric,
            metric_value=value,
            console_url=console_url(self.host.region, "endpoints", endpoint_name),
            live_value=live_metric.value if live_metric else None,
            live_model_name=live.model_name if live_metric and live else None,
            **dict(choice),
        )
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, None, event)

    def _start(
        self,
        run: _Run,
        job: TrainedJob,
        value: float | None,
        endpoint: EndpointState | None,
        endpoint_name: str,
        model_name: str,
        config_name: str,
        choice: ModelChoice | None = None,
    ) -> "Literal['create', 'update'] | Outcome":
        """CreateModel, CreateEndpointConfig, then CreateEndpoint or UpdateEndpoint; or the wait
        for a busy endpoint, or the failure of a refused request."""
        plan, spec = run.plan, run.spec
        instance_type, model_data_url = spec.deployment.instance_type or "", job.model_data_url or ""
        tags = resource_tags(run.run_id, self.config.stack_name, run.attempt)
        variant = Variant(VARIANT, model_name, instance_type)
        try:
            self.host.create_model(
                model_name,
                # A custom container's deployment.image, else the training image; either serves the
                # training job's model.tar.gz (docs/container.md).
                image=spec.serving_image(plan.training_image),
                model_data_url=model_data_url,
                role_arn=self.config.role_arn,
                # Built-in algorithms always serve isolated; custom images unless the operator allows.
                network_isolation=plan.algorithm == "builtin" or not self.config.allow_custom_network_access,
                tags=tags,
                environment=dict(spec.deployment.environment) or None,
            )
            # At least the instances serving now: an update never starts the new fleet smaller.
            count = fleet_size(spec.deployment, endpoint)
            self.host.create_endpoint_config(config_name, variant, count, tags)
        except RequestRefusedError as err:
            return self._refused(run, endpoint_name, err)
        info = self._model_info(run, job, endpoint_name, model_name, value, choice)
        # Written before the endpoint moves: configure_autoscaling reads them once it is in service.
        write_record(self.store, run_model_key(run.run_id), info)
        waiting = PendingDeployment(
            info=info,
            endpoint_config_name=config_name,
            instance_type=instance_type,
            metric_name=plan.objective_metric,
            metric_value=value,
            arrived_at=self.now(),
            endpoint_status=endpoint.status if endpoint is not None else "Creating",
            attempt=run.attempt,
            choice=choice,
        )
        if endpoint is not None and normalized_status(endpoint.status) in BUSY:
            return self._wait(run, job, waiting)
        earlier = read_model_info(self.store, deploying_key(endpoint_name))
        write_record(self.store, deploying_key(endpoint_name), info)
        try:
            pointed = self._point_endpoint(endpoint, endpoint_name, config_name, variant, tags, spec)
        except (EndpointBusyError, RequestRefusedError) as err:
            # The endpoint is not moving to this model: deploying.json names what it was.
            if earlier is None:
                self.store.delete(deploying_key(endpoint_name))
            else:
                write_record(self.store, deploying_key(endpoint_name), earlier)
            if isinstance(err, RequestRefusedError):
                return self._refused(run, endpoint_name, err)
            busy = self.host.endpoint(endpoint_name)
            status = busy.status if busy is not None else "Creating"
            return self._wait(run, job, waiting.model_copy(update={"endpoint_status": status}))
        if isinstance(pointed, RolloutRecord):
            # How traffic moves to this model, for the Model Live (or Deployment Rolled Back) email.
            write_record(
                self.store, deploying_key(endpoint_name), info.model_copy(update={"rollout": pointed})
            )
            return "update"
        return pointed

    def _beyond_bounds(self, spec: DatasetSpec, dataset: str, endpoint_name: str) -> str | None:
        """Defensively, what prepare_dataset should have refused: another dataset's endpoint, or
        a deployment beyond the stack's bounds (a spec.json written around the upload check)."""
        owned = foreign_endpoint(endpoint_owner(self.store, endpoint_name), dataset, endpoint_name)
        if owned:
            return f"{owned}."
        config = self.config
        if config.allowed_endpoint_instance_types is None or config.max_endpoint_instances is None:
            return None
        found = endpoint_violations(
            spec.deployment, config.allowed_endpoint_instance_types, config.max_endpoint_instances
        )
        return f"the run's spec asks for more than this stack allows: {'; '.join(found)}." if found else None

    def _model_info(
        self,
        run: _Run,
        job: TrainedJob,
        endpoint_name: str,
        model_name: str,
        value: float | None,
        choice: ModelChoice | None = None,
    ) -> ModelInfo:
        """model.json: what predict needs to call the endpoint and read its answers."""
        plan = run.plan
        metric = plan.objective_metric
        return ModelInfo(
            model=endpoint_name,
            endpoint_name=endpoint_name,
            variant_name=VARIANT,
            task=plan.task,
            labels=plan.labels,
            algorithm=plan.algorithm,
            model_name=model_name,
            training_job_name=job.name,
            run_id=run.run_id,
            dataset=plan.dataset,
            metric=ModelMetric(name=metric, value=value) if metric and value is not None else None,
            deployed_at=self.now(),
            attempt=run.attempt,
            final_metrics=choice.final_metrics if choice else {},
            chosen_because=choice.chosen_because if choice else None,
        )

    def _point_endpoint(
        self,
        endpoint: EndpointState | None,
        endpoint_name: str,
        config_name: str,
        variant: Variant,
        tags: dict[str, str],
        spec: DatasetSpec,
    ) -> "Literal['create'] | RolloutRecord":
        """CreateEndpoint, or a blue/green UpdateEndpoint that Application Auto Scaling will accept,
        shifting traffic as the spec says and rolling back on the endpoint's alarms (how it moves)."""
        if endpoint is None:
            if self.host.create_endpoint(endpoint_name, config_name, tags):
                return "create"
            raced = self.host.endpoint(endpoint_name)
            if raced is not None and _is_on(raced, config_name):
                return "create"
            # Another run created the endpoint meanwhile: this one waits for it.
            raise EndpointBusyError(endpoint_name, "created by another deployment meanwhile")
        safety = update_safety(
            self.alarms, endpoint_name, variant.name, spec.deployment, self.config.alarm_thresholds, tags
        )
        return update_endpoint(self.host, self.autoscaler, endpoint, config_name, variant, safety)

    # ------------------------------------------------------------ outcomes without a deployment
    def _reject(
        self,
        run: _Run,
        training_job: str,
        reason: str,
        value: float | None = None,
        live: ModelInfo | None = None,
        choice: ModelChoice | None = None,
    ) -> Outcome:
        event = DeploymentRejected(
            run_id=run.run_id,
            dataset=run.plan.dataset,
            attempt=run.attempt,
            training_job_name=training_job,
            reason=reason,
            metric_name=run.plan.objective_metric,
            metric_value=value,
            minimum=run.spec.deployment.min_objective_metric,
            live_value=live.metric.value if live is not None and live.metric is not None else None,
            **dict(choice or ModelChoice()),
        )
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, reason, event)

    def _wait(self, run: _Run, job: TrainedJob, pending: PendingDeployment) -> Outcome:
        """Queue the deployment for the endpoint's next state change (configure_autoscaling)."""
        behind = record_pending(self.store, pending)
        name = pending.info.endpoint_name
        event = DeploymentWaiting(
            run_id=run.run_id,
            dataset=run.plan.dataset,
            attempt=run.attempt,
            endpoint_name=name,
            endpoint_status=pending.endpoint_status,
            model_name=pending.info.model_name,
            endpoint_config_name=pending.endpoint_config_name,
            training_job_name=job.name,
            waiting_behind=behind,
            console_url=console_url(self.host.region, "endpoints", name),
        )
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, f"waiting for endpoint {name} ({pending.endpoint_status})", event)

    def _refused(self, run: _Run, endpoint_name: str, err: RequestRefusedError) -> Outcome:
        event = refused_deployment(run.run_id, run.plan.dataset, endpoint_name, self.host.region, err)
        event = event.model_copy(update={"attempt": run.attempt})
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, event.reason, event)

    def _failed(self, run: _Run, endpoint: EndpointState) -> Outcome:
        reason = (
            f"endpoint {endpoint.name} is {endpoint.status}"
            f"{': ' + endpoint.failure_reason if endpoint.failure_reason else ''}. It cannot take a new "
            f"model: delete it (aws sagemaker delete-endpoint --endpoint-name {endpoint.name}) and the "
            "next run creates it again."
        )
        event = DeploymentFailed(
            run_id=run.run_id,
            dataset=run.plan.dataset,
            attempt=run.attempt,
            endpoint_name=endpoint.name,
            reason=reason,
            console_url=console_url(self.host.region, "endpoints", endpoint.name),
        )
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, reason, event)

    def _delete_failed(self, run: _Run, endpoint: EndpointState) -> None:
        """A retry meets the run's endpoint in Failed (its creation failed): when the endpoint is
        this dataset's, delete it (DeleteEndpoint is the one call a Failed endpoint takes) and
        raise, so the deploy is retried once it is gone; another dataset's is left alone."""
        owner = endpoint_owner(self.store, endpoint.name)
        if owner is None or owner.dataset != run.plan.dataset:
            return
        self.host.delete_endpoint(endpoint.name)
        # No state change follows a deletion, so nothing would end a wait: retried instead.
        raise RetryableError(
            f"endpoint {endpoint.name} was Failed and is being deleted; the retry of run {run.run_id} "
            "deploys again once it is gone"
        )


def _config_name_for(run: _Run, job_name: str, name_prefix: str) -> str:
    """The job's endpoint configuration; a retry's gets its attempt part unless the job's name has
    it already (the same job deployed again needs a configuration of its own attempt)."""
    name = endpoint_config_name_for(job_name, name_prefix)
    parts = attempt_parts(run.attempt)
    if not parts or job_name.endswith(f"-{parts[0]}"):
        return name
    return sagemaker_name(name, *parts)
