"""Where each event puts a run: stage, status, one line of history, and the facts it brings.

The order of a run is stage, then step within the stage (started < running < stopping <
done < ended), then source (a sagechain event outranks SageMaker's report of the same
moment, since it says more), then what the event is about. That order is written as the
`progress` key: the runs table moves a run only to a higher key, so the final state is
the state of the furthest event, whatever order the events came in.

Run ids of SageMaker's events come from the `sagechain:run-id` tag every stage puts on
what it creates, and count only beside a `sagechain:stack` tag naming this stack (another
sagechain stack may share the name prefix):
- labeling jobs: the event carries only a status, so ListTags on its ARN (resources[0]);
- training and tuning jobs: the event's Tags map when it has any, else ListTags on the job's ARN (a
  tuning job's tags are copied onto the training jobs it launches);
- endpoints: the tags of the endpoint configuration being deployed (pending, else
  current), because UpdateEndpoint puts a later run's model on an endpoint that still
  carries the first run's tags; else the endpoint's own tags.
The dataset comes from runs/<run_id>/run.json, which prepare_dataset writes for every run.

A retried run (POST /runs/{run_id}/retry) starts again at an earlier stage, so the order is
per attempt: the keys of attempt N > 1 start with `rNN.`, above every key of the attempts
before it, and a late event of attempt 1 (a job's Stopped arriving after the retry) is kept
in the history and its job but moves the run no more. An event's attempt is its own
`attempt` for sagechain events, the `sagechain:attempt` tag for SageMaker's.

A batch (batches/<model>/<name>/) is not a run: its events land in the history of the run whose
model scores it, keyed on the batch's own id, at a position below every stage's (batch_progress_key),
so they never move that run's stage or status. A batch rejected before its model is known has no
run: its own batch_id is the run id of a small item holding only its rejection.
"""

from typing import Any, NamedTuple

from sagechain.event_sources.eventbridge import SagechainDelivery
from sagechain.event_sources.sagemaker import FAILED, STOPPED, JobKind, StateChange, StatusTransition
from sagechain.events import (
    BatchCompleted,
    BatchEvent,
    BatchFailed,
    BatchRejected,
    BatchStarted,
    DatasetPrepared,
    DatasetRejected,
    DeploymentFailed,
    DeploymentRejected,
    DeploymentRolledBack,
    DeploymentStarted,
    DeploymentWaiting,
    LabelingCompleted,
    LabelingFailed,
    LabelingProgress,
    LabelingRequested,
    LabelingStarted,
    LabelsRejected,
    ModelChoice,
    ModelDeleted,
    ModelExpired,
    ModelLive,
    ModelRolledBack,
    RefusedTrainingJob,
    RunRetried,
    RunStopped,
    SagechainEvent,
    StageFailed,
    TrainingFailed,
    TrainingSkipped,
    TrainingStarted,
)
from sagechain.layout import RUN_INFO_FILE, run_key
from sagechain.names import RUN_ID_TAG, attempt_of, owned_run_id
from sagechain.ports import ObjectStore, SageMakerLookup, TrainingJobFacts
from sagechain.records import ModelMetric, RunInfo, read_record
from sagechain.run_history import (
    HistoryEntry,
    JobChange,
    JobState,
    RunChange,
    RunFacts,
    RunStatus,
    ScalingRange,
    Stage,
)

# RETRIED: a retry's first entry, before its stage starts; WAITING: a deployment queued behind
# its busy endpoint, before it starts.
RETRIED = 1
# A batch's events: in its model's run history, never moving the run (see the module's docstring).
BATCH = 0
WAITING, STARTED, RUNNING, STOPPING, DONE, ENDED = 5, 10, 11, 15, 20, 30
FROM_SAGEMAKER, FROM_SAGECHAIN = 0, 1

_KIND_STAGES = {
    JobKind.LABELING: Stage.LABELING,
    JobKind.TRAINING: Stage.TRAINING,
    JobKind.TUNING: Stage.TRAINING,
    JobKind.ENDPOINT: Stage.DEPLOYMENT,
}
# Where a SageMaker status puts the run: (step, status).
_STATUS_STEPS = {
    "Completed": (DONE, RunStatus.IN_PROGRESS),
    "InService": (DONE, RunStatus.IN_PROGRESS),
    "Stopping": (STOPPING, RunStatus.IN_PROGRESS),
    FAILED: (ENDED, RunStatus.FAILED),
    "OutOfService": (ENDED, RunStatus.FAILED),
    STOPPED: (ENDED, RunStatus.STOPPED),
}
# A job's own order of statuses; an endpoint's later Updating/InService cycles stay behind InService.
_JOB_STEPS = {
    "Initializing": 1,
    "Creating": 1,
    "InProgress": 2,
    "Updating": 2,
    "SystemUpdating": 2,
    "RollingBack": 2,
    "Stopping": 3,
    "Completed": 5,
    "Failed": 5,
    "Stopped": 5,
    "InService": 5,
    "OutOfService": 5,
    "Deleting": 6,
}
STOPPED_KINDS = {"labeling": JobKind.LABELING, "training": JobKind.TRAINING, "tuning": JobKind.TUNING}
TERMINAL_STATUSES = frozenset({"Completed", FAILED, STOPPED})


class RunRef(NamedTuple):
    """A run id and, when run.json says, its dataset and who uploaded it; the attempt a resource
    belongs to."""

    run_id: str
    dataset: str | None
    uploader: str | None = None
    attempt: int = 1


def uploader(uploaded_by: str | None, uploaded_from: str | None) -> str | None:
    """Who uploaded a dataset, in words: "123456789012 from 1.2.3.4"; None when S3 said nothing."""
    if not uploaded_by and not uploaded_from:
        return None
    return " from ".join(part for part in (uploaded_by or "an unknown requester", uploaded_from) if part)


def progress_key(stage: Stage, step: int, source: int, subject: str, attempt: int = 1) -> str:
    """The run's position after an event: compares as text in the table's conditions. Attempt 1
    keys start with the stage's digit, attempt N's with "rNN." ("r" sorts after every digit)."""
    key = f"{stage.rank}.{step:02d}.{source}.{subject}"
    return key if attempt <= 1 else f"r{attempt:02d}.{key}"


def batch_progress_key(event: BatchEvent) -> str:
    """A batch event's position: below every stage's key ("0." < "1."), so it never moves a run;
    within its batch, its start before its end. EventBridge times events to the second, so a
    short batch's Started and Completed often share one and the history sorts them by this key."""
    ends = isinstance(event, BatchCompleted | BatchFailed)
    return f"0.{BATCH:02d}.{FROM_SAGECHAIN}.{event.batch_id}.{int(ends)}.{event.DETAIL_TYPE}"


def history_key(about: str, attempt: int) -> str:
    """A history entry's key: what the event is about, within its attempt."""
    return about if attempt <= 1 else f"{about}#a{attempt}"


def job_progress_key(status: str, source: int) -> str:
    """A job's position after a status."""
    return f"{_JOB_STEPS.get(status, 2):02d}.{source}"


def is_ours(change: StateChange, name_prefix: str) -> bool:
    """Whether the resource's name carries the stack's prefix (the rules match on it too)."""
    return change.name.startswith(f"{name_prefix}-")


def run_tags(change: StateChange, lookup: SageMakerLookup) -> dict[str, str]:
    """The tags that name the resource's run: the deployed configuration's for an endpoint (when
    it still exists), else the event's when it carries any, else ListTags on the resource."""
    config_arn = change.endpoint_config_arn
    if config_arn:
        config_tags = lookup.tags(config_arn)
        if RUN_ID_TAG in config_tags:
            return config_tags
    return change.tags or lookup.tags(change.arn)


def resolve_run(
    change: StateChange, lookup: SageMakerLookup, store: ObjectStore, name_prefix: str, stack_name: str
) -> RunRef | None:
    """The run a state change belongs to, or None when this stack did not create the resource."""
    if not is_ours(change, name_prefix):
        return None
    tags = run_tags(change, lookup)
    run_id = owned_run_id(tags, stack_name)
    if not run_id:
        return None
    info = run_info(run_id, store)
    if info is None:
        return RunRef(run_id, None, attempt=attempt_of(tags))
    return RunRef(run_id, info.dataset, uploader(info.uploaded_by, info.uploaded_from), attempt_of(tags))


def run_info(run_id: str, store: ObjectStore) -> RunInfo | None:
    """runs/<run_id>/run.json, or None when the run has none (a rejected upload)."""
    return read_record(store, run_key(run_id, RUN_INFO_FILE), RunInfo)


def dataset_of(run_id: str, store: ObjectStore) -> str | None:
    """The run's dataset, from runs/<run_id>/run.json."""
    info = run_info(run_id, store)
    return None if info is None else info.dataset


# ---------------------------------------------------------------- sagechain events


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted((counts or {}).items())) or "none"


def _own_tool_outcome(
    event: LabelingRequested | LabelingProgress | LabelingCompleted | LabelsRejected,
) -> tuple[Stage, int, RunStatus, str, str | None]:
    """Labeling in the team's own tool: the run's summary says how many images are labeled."""
    match event:
        case LabelingRequested():
            summary = f"Labeling in {event.tool}: 0 of {event.objects} images labeled"
            return Stage.LABELING, STARTED, RunStatus.IN_PROGRESS, summary, None
        case LabelingProgress():
            summary = f"Labeling: {event.labeled} of {event.total} images labeled"
            if event.unusable:
                summary += f" ({event.unusable} with only cancelled, empty or unusable annotations)"
            return Stage.LABELING, RUNNING, RunStatus.IN_PROGRESS, summary, None
        case LabelingCompleted():
            summary = (
                f"Labeling completed by {event.completed_by}: {event.labeled} of {event.total} images "
                f"labeled ({_counts(event.label_counts)})"
            )
            return Stage.LABELING, DONE, RunStatus.IN_PROGRESS, summary, None
        case _:
            summary = f"Labels rejected: {event.source_uri}; the run waits for a corrected upload"
            # Below every Labeling Progress: a rejection never holds back the count of later arrivals.
            return Stage.LABELING, STARTED, RunStatus.IN_PROGRESS, summary, event.reason


def _sagechain_outcome(  # noqa: PLR0911, PLR0912 - one case per event type
    event: SagechainEvent,
) -> tuple[Stage, int, RunStatus, str, str | None]:
    if isinstance(event, LabelingRequested | LabelingProgress | LabelingCompleted | LabelsRejected):
        return _own_tool_outcome(event)
    match event:
        case DatasetPrepared():
            if event.label_counts is not None:
                what = f"{event.objects} labeled images ({_counts(event.label_counts)})"
            else:
                what = f"{event.objects} images listed for labeling"
            return Stage.DATASET, DONE, RunStatus.IN_PROGRESS, f"Dataset prepared: {what}", None
        case DatasetRejected():
            return Stage.DATASET, ENDED, RunStatus.REJECTED, "Dataset rejected", event.reason
        case LabelingStarted():
            summary = (
                f"Labeling job {event.job_name} started for {event.objects} images "
                f"({event.workforce} workforce)"
            )
            return Stage.LABELING, STARTED, RunStatus.IN_PROGRESS, summary, None
        case LabelingFailed():
            summary = f"Labeling failed: SageMaker refused labeling job {event.job_name} ({event.error.code})"
            return Stage.LABELING, ENDED, RunStatus.FAILED, summary, event.reason
        case TrainingStarted():
            what = f"tuning job {event.tuning_job_name}" if event.tuning_job_name else _jobs(event.job_names)
            summary = (
                f"Training started: {what} on {event.instance_count} x {event.instance_type}"
                f"{' (spot)' if event.spot else ''}; {event.train_objects} training, "
                f"{event.validation_objects} validation images"
            )
            if event.refused:
                summary += f"; {refused_sets(event.refused)}"
            return Stage.TRAINING, STARTED, RunStatus.IN_PROGRESS, summary, None
        case TrainingFailed():
            refused = _refused_jobs(event.refused)
            summary = f"Training failed: SageMaker refused {refused} ({event.error.code})"
            return Stage.TRAINING, ENDED, RunStatus.FAILED, summary, event.reason
        case TrainingSkipped():
            return Stage.TRAINING, ENDED, RunStatus.SKIPPED, "Training skipped", event.reason
        case DeploymentWaiting():
            summary = (
                f"Deployment waiting for endpoint {event.endpoint_name} ({event.endpoint_status}): "
                f"model {event.model_name} is deployed when it is back in service"
            )
            return Stage.DEPLOYMENT, WAITING, RunStatus.IN_PROGRESS, summary, None
        case DeploymentStarted():
            metric = _metric_text(event.metric_name, event.metric_value)
            summary = (
                f"Deployment started: {'creating' if event.action == 'create' else 'updating'} endpoint "
                f"{event.endpoint_name} with model {event.model_name}{metric}"
            )
            return Stage.DEPLOYMENT, STARTED, RunStatus.IN_PROGRESS, summary, None
        case DeploymentRejected():
            summary = f"Deployment rejected: the model of {event.training_job_name} was not deployed"
            return Stage.DEPLOYMENT, ENDED, RunStatus.REJECTED, summary, event.reason
        case DeploymentFailed():
            summary = f"Deployment failed: endpoint {event.endpoint_name}"
            return Stage.DEPLOYMENT, ENDED, RunStatus.FAILED, summary, event.reason
        case DeploymentRolledBack():
            fired = ", ".join(a.alarm_name for a in event.alarms) or "an alarm"
            summary = (
                f"Deployment rolled back: {fired} fired while endpoint {event.endpoint_name} moved to "
                f"{event.model_name}; {event.live_model_name} (run {event.live_run_id}) stays live"
            )
            return Stage.DEPLOYMENT, ENDED, RunStatus.FAILED, summary, event.reason
        case ModelLive():
            summary = (
                f"Model live: {event.model_name} on endpoint {event.endpoint_name}, "
                f"{event.min_instances}-{event.max_instances} x {event.instance_type}"
            )
            return Stage.LIVE, DONE, RunStatus.LIVE, summary, None
        case RunStopped():
            return Stage(event.stage), ENDED, RunStatus.STOPPED, f"Run stopped: {_stopped(event)}", None
        case RunRetried():
            return Stage(event.from_stage), RETRIED, RunStatus.IN_PROGRESS, _retried(event), None
        case ModelDeleted():
            summary = f"Model deleted: {event.model_name} and endpoint {event.endpoint_name}"
            if event.deleted_expiry_schedule:
                summary += f", and its expiry schedule {event.deleted_expiry_schedule}"
            return Stage.LIVE, ENDED, RunStatus.DELETED, summary, None
        case StageFailed():
            summary = (
                f"{event.stage_label} failed: {event.stage} failed on every try; its event is saved at "
                f"{event.saved_event_uri} for a redrive"
            )
            # Below the stage's own first step: a redrive that succeeds moves the run on again.
            return Stage(event.run_stage), WAITING, RunStatus.FAILED, summary, event.reason
        case ModelRolledBack():
            summary = (
                f"Model rolled back: endpoint {event.endpoint_name} goes back to {event.model_name} "
                f"from {event.replaced_model_name} (run {event.replaced_run_id})"
            )
            return Stage.LIVE, DONE, RunStatus.LIVE, summary, None
        case ModelExpired():
            left = f"; not deleted: {'; '.join(event.not_deleted)}" if event.not_deleted else ""
            summary = (
                f"Model expired: endpoint {event.endpoint_name} and model {event.model_name} deleted "
                f"(deployment.ttl_hours){left}"
            )
            return Stage.LIVE, ENDED, RunStatus.EXPIRED, summary, None
        case BatchStarted() | BatchRejected() | BatchCompleted() | BatchFailed():
            return _batch_outcome(event)
    raise TypeError(f"no timeline entry for {type(event).__name__}")


def _batch_outcome(event: BatchEvent) -> tuple[Stage, int, RunStatus, str, str | None]:
    batch = f"Batch {event.batch_name} ({event.batch_uri})"
    match event:
        case BatchStarted():
            summary = (
                f"{batch} started: transform job {event.transform_job_name} scores {event.images} images "
                f"on {event.instance_count} x {event.instance_type}"
            )
            return Stage.LIVE, BATCH, RunStatus.LIVE, summary, None
        case BatchCompleted():
            summary = (
                f"{batch} completed: {event.scored} of {event.images} images scored "
                f"({_counts(event.label_counts)}); {event.failed} failed"
            )
            return Stage.LIVE, BATCH, RunStatus.LIVE, summary, None
        case BatchRejected():
            return Stage.LIVE, BATCH, RunStatus.REJECTED, f"{batch} rejected", event.reason
        case BatchFailed():
            return Stage.LIVE, BATCH, RunStatus.FAILED, f"{batch} failed ({event.status})", event.reason
    raise TypeError(f"no timeline entry for {type(event).__name__}")


def _stopped(event: RunStopped) -> str:
    parts = [f"{job.kind} job {job.name}" for job in event.stopped_jobs]
    if event.cancelled_deployment:
        parts.append(f"the waiting deployment to endpoint {event.cancelled_deployment}")
    return "stopping " + ", ".join(parts) if parts else "nothing was running"


def _retried(event: RunRetried) -> str:
    who = f" by {event.requested_by}" if event.requested_by else ""
    reused = []
    if event.labeling_job_name and event.from_stage != "labeling":
        reused.append(f"the labels of {event.labeling_job_name}")
    if event.reused_jobs:
        jobs = "training jobs" if len(event.reused_jobs) > 1 else "training job"
        reused.append(f"{jobs} {', '.join(event.reused_jobs)}")
    reusing = f"; reusing {' and '.join(reused)}" if reused else ""
    return (
        f"Run retried{who}: attempt {event.attempt} starts at the {event.from_stage} stage "
        f"(attempt {event.attempt - 1} {event.previous_status} at its {event.previous_stage} stage){reusing}"
    )


def refused_sets(refused: list[RefusedTrainingJob]) -> str:
    """Which jobs SageMaker refused and why, in one line: "refused: set 1 (ResourceLimitExceeded: ...)"."""
    parts = []
    for job in refused:
        which = f"set {job.hyperparameter_set}" if job.hyperparameter_set is not None else job.job_name
        parts.append(f"{which} {job.job_name} ({job.error.code}: {job.error.message})")
    return "refused: " + "; ".join(parts)


def _refused_jobs(refused: list[RefusedTrainingJob]) -> str:
    if len(refused) == 1:
        return f"{'tuning' if refused[0].tuning else 'training'} job {refused[0].job_name}"
    return f"all {len(refused)} training jobs"


def _jobs(names: list[str]) -> str:
    return f"training job {names[0]}" if len(names) == 1 else f"{len(names)} training jobs"


def _metric_text(name: str | None, value: float | None) -> str:
    return f" ({name} = {value:g})" if name is not None and value is not None else ""


def _metric(name: str | None, value: float | None) -> ModelMetric | None:
    return ModelMetric(name=name, value=value) if name is not None and value is not None else None


def _choice_facts(event: ModelChoice) -> dict[str, Any]:
    """How the judged job was chosen; an event from before it (no final metrics) sets nothing."""
    if not event.final_metrics and not event.comparison:
        return {}
    return {
        "final_metrics": event.final_metrics,
        "comparison": event.comparison,
        "chosen_because": event.chosen_because,
    }


def _sagechain_facts(event: SagechainEvent) -> RunFacts:  # noqa: PLR0911, PLR0912 - one case per event
    match event:
        case DatasetPrepared():
            return RunFacts(
                task=event.task,
                labeling_mode=event.labeling_mode,
                objects=event.objects,
                labeling_cost_estimate_usd=event.cost_estimate.total_usd if event.cost_estimate else None,
                worst_case=event.worst_case,
                source_uri=event.source_uri,
                manifest_uri=event.manifest_uri,
                uploaded_by=event.uploaded_by,
                uploaded_from=event.uploaded_from,
            )
        case DatasetRejected():
            return RunFacts(
                source_uri=event.source_uri,
                labeling_cost_estimate_usd=event.cost_estimate.total_usd if event.cost_estimate else None,
                uploaded_by=event.uploaded_by,
                uploaded_from=event.uploaded_from,
                worst_case=event.worst_case,
            )
        case LabelingStarted():
            return RunFacts(labeling_job=event.job_name)
        case LabelingProgress() | LabelingCompleted():
            return RunFacts(labeled_objects=event.labeled)
        case RunRetried():
            return RunFacts(attempt=event.attempt)
        case TrainingFailed():
            return RunFacts(
                training_instance_type=event.instance_type, training_instance_count=event.instance_count
            )
        case TrainingStarted():
            return RunFacts(
                training_jobs=event.job_names,
                tuning_job=event.tuning_job_name,
                algorithm=event.algorithm,
                training_instance_type=event.instance_type,
                training_instance_count=event.instance_count,
                spot=event.spot,
                train_objects=event.train_objects,
                validation_objects=event.validation_objects,
            )
        case DeploymentStarted():
            return RunFacts(
                training_job=event.training_job_name,
                metric=_metric(event.metric_name, event.metric_value),
                endpoint_name=event.endpoint_name,
                model_name=event.model_name,
                endpoint_instance_type=event.instance_type,
                **_choice_facts(event),
            )
        case DeploymentRejected():
            return RunFacts(
                training_job=event.training_job_name,
                metric=_metric(event.metric_name, event.metric_value),
                **_choice_facts(event),
            )
        case DeploymentFailed():
            return RunFacts(endpoint_name=event.endpoint_name)
        case DeploymentRolledBack():
            return RunFacts(endpoint_name=event.endpoint_name, model_name=event.model_name)
        case DeploymentWaiting():
            return RunFacts(
                training_job=event.training_job_name,
                endpoint_name=event.endpoint_name,
                model_name=event.model_name,
            )
        case ModelLive():
            return RunFacts(
                endpoint_name=event.endpoint_name,
                model_name=event.model_name,
                endpoint_instance_type=event.instance_type,
                autoscaling=ScalingRange(
                    min_instances=event.min_instances, max_instances=event.max_instances
                ),
                predict_url=event.predict_url,
            )
    return RunFacts()


def _sagechain_jobs(delivery: SagechainDelivery) -> list[JobChange]:  # noqa: PLR0911 - one case per event
    event, at = delivery.event, delivery.at

    def job(kind: JobKind, name: str, status: str, url: str | None, reason: str | None = None) -> JobChange:
        state = JobState(
            kind=kind, name=name, status=status, updated_at=at, failure_reason=reason, console_url=url
        )
        return JobChange(state=state, progress=job_progress_key(status, FROM_SAGECHAIN))

    match event:
        case LabelingStarted():
            return [job(JobKind.LABELING, event.job_name, "InProgress", event.console_url)]
        case TrainingStarted():
            urls = dict(zip(event.job_names, event.console_urls, strict=False))
            changes = [job(JobKind.TRAINING, name, "InProgress", urls.get(name)) for name in event.job_names]
            if event.tuning_job_name:
                changes.append(job(JobKind.TUNING, event.tuning_job_name, "InProgress", None))
            return changes
        case DeploymentStarted():
            status = "Creating" if event.action == "create" else "Updating"
            return [job(JobKind.ENDPOINT, event.endpoint_name, status, event.console_url)]
        case DeploymentFailed():
            return [job(JobKind.ENDPOINT, event.endpoint_name, FAILED, event.console_url, event.reason)]
        case DeploymentRolledBack():
            return [job(JobKind.ENDPOINT, event.endpoint_name, "InService", event.console_url, event.reason)]
        case ModelLive():
            return [job(JobKind.ENDPOINT, event.endpoint_name, "InService", event.console_url)]
        case RunStopped():
            return [job(STOPPED_KINDS[j.kind], j.name, "Stopping", None) for j in event.stopped_jobs]
        case ModelDeleted():
            return [job(JobKind.ENDPOINT, event.endpoint_name, "Deleting", None)]
        case ModelRolledBack():
            return [job(JobKind.ENDPOINT, event.endpoint_name, "Updating", None)]
        case ModelExpired():
            return [job(JobKind.ENDPOINT, event.endpoint_name, "Deleted", event.console_url)]
    return []


def _subject(event: SagechainEvent) -> str | None:
    for field in ("transform_job_name", "job_name", "tuning_job_name", "endpoint_name", "training_job_name"):
        value = getattr(event, field, None)
        if isinstance(value, str):
            return value
    return None


def sagechain_change(delivery: SagechainDelivery) -> RunChange:
    """What a sagechain event does to its run."""
    event = delivery.event
    stage, step, status, summary, error = _sagechain_outcome(event)
    # A partial start is in progress, not failed: the history says what was refused, the
    # run's last error stays the error of its furthest failure.
    noted = refused_sets(event.refused) if isinstance(event, TrainingStarted) and event.refused else error
    # A run may have many batches: each one's entries are keyed on its own id.
    about = f"{event.DETAIL_TYPE}#{event.batch_id}" if isinstance(event, BatchEvent) else event.DETAIL_TYPE
    subject = about
    if isinstance(event, LabelingProgress):
        # The run moves forward with each image labeled (out-of-order progress never moves it back);
        # the history keeps the first entry of each tenth of the images, not one per annotation.
        subject = f"{about}#{event.labeled:09d}.{event.unusable:09d}"
        about = f"{about}#{event.labeled * 10 // max(event.total, 1)}"
    elif isinstance(event, LabelsRejected):
        about = subject = f"{about}#{event.source_uri}"
    elif isinstance(event, StageFailed):
        about = subject = f"{about}#{event.stage}"
    return RunChange(
        run_id=event.run_id,
        dataset=event.dataset,
        at=delivery.at,
        starts_run=isinstance(event, DatasetPrepared | DatasetRejected),
        facts=_sagechain_facts(event),
        stage=stage,
        status=status,
        progress=(
            batch_progress_key(event)
            if isinstance(event, BatchEvent)
            else progress_key(stage, step, FROM_SAGECHAIN, subject, event.attempt)
        ),
        summary=summary,
        error=error,
        history_key=history_key(about, event.attempt),
        history=HistoryEntry(
            at=delivery.at,
            stage=stage,
            event=event.DETAIL_TYPE,
            status=status,
            summary=summary,
            subject=_subject(event),
            error=noted,
        ),
        jobs=_sagechain_jobs(delivery),
    )


# ---------------------------------------------------------------- SageMaker state changes


def state_change(
    change: StateChange,
    run: RunRef,
    console_url: str,
    failure_reason: str | None = None,
    training: TrainingJobFacts | None = None,
) -> RunChange:
    """What a SageMaker state change does to its run (a tuning job's trial only updates its job)."""
    stage = _KIND_STAGES[change.kind]
    step, status = _STATUS_STEPS.get(change.status, (RUNNING, RunStatus.IN_PROGRESS))
    reason = change.failure_reason or failure_reason or (training.failure_reason if training else None)
    error = reason if status in {RunStatus.FAILED, RunStatus.STOPPED} else None
    # The event's transitions when it has any (the documented sample has none), else the job's.
    transitions = list(change.transitions) or (training.transitions if training else [])
    secondary = change.secondary_status or (training.secondary_status if training else None)
    summary = f"{change.kind.label} {change.name}: {change.status}"
    if secondary and secondary != change.status:
        summary += f" ({secondary})"
    if transitions and change.status in TERMINAL_STATUSES:
        summary += f"; {secondary_path(transitions)}"
    job = JobState(
        kind=change.kind,
        name=change.name,
        status=change.status,
        updated_at=change.at,
        failure_reason=reason,
        console_url=console_url,
        training_seconds=training.training_seconds if training else None,
        billable_seconds=training.billable_seconds if training else None,
        secondary_status=secondary,
        transitions=transitions,
    )
    trial = bool(change.tuning_job_arn or (training and training.tuning_job_arn))
    # A deleted endpoint or a tuning job's trial does not move the run: the run item tells
    # where the run got to, and the tuning job reports for its trials.
    moves = not trial and change.status != "Deleting"
    return RunChange(
        run_id=run.run_id,
        dataset=run.dataset,
        at=change.at,
        starts_run=False,
        moves_run=moves,
        stage=stage,
        status=status,
        progress=progress_key(stage, step, FROM_SAGEMAKER, change.about, run.attempt),
        summary=summary,
        error=error if moves else None,
        history_key=history_key(change.about, run.attempt),
        history=None
        if trial
        else HistoryEntry(
            at=change.at,
            stage=stage,
            event=f"{change.kind.label} {change.status}",
            status=status,
            summary=summary,
            subject=change.name,
            error=reason,
        ),
        jobs=[JobChange(state=job, progress=job_progress_key(change.status, FROM_SAGEMAKER))],
    )


def secondary_path(transitions: list[StatusTransition]) -> str:
    """A training job's secondary statuses in one line: "Starting 1 min 05 s -> Training 20 min"."""
    parts = []
    for transition in transitions:
        seconds = transition.seconds
        parts.append(transition.status if seconds is None else f"{transition.status} {_duration(seconds)}")
    return " -> ".join(parts)


def _duration(seconds: int) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def failure_reason(change: StateChange, lookup: SageMakerLookup) -> str | None:
    """Why a job or endpoint failed or stopped, asking SageMaker when the event does not say."""
    if change.failure_reason or change.status not in {FAILED, STOPPED, "OutOfService"}:
        return change.failure_reason
    match change.kind:
        case JobKind.LABELING:
            labeling = lookup.labeling_job(change.name)
            return labeling.failure_reason if labeling else None
        case JobKind.TUNING:
            tuning = lookup.tuning_job(change.name)
            return tuning.failure_reason if tuning else None
        case JobKind.ENDPOINT:
            endpoint = lookup.endpoint(change.name)
            return endpoint.failure_reason if endpoint else None
        case JobKind.TRAINING:
            training = lookup.training_job(change.name)
            return training.failure_reason if training else None
    return None
