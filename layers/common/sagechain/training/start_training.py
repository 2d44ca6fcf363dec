"""Stage 3: a run's labeled data becomes a training job, sibling jobs, or a tuning job.

Two triggers start it:
- one of our Ground Truth labeling jobs completed. The event ("SageMaker Ground Truth
  Labeling Job State Change") carries only {"LabelingJobStatus": "Completed"} and the
  job's ARN in `resources`; DescribeLabelingJob gives the run (tag sagechain:run-id, counted
  only beside this stack's sagechain:stack tag), the
  output manifest, the label attribute and the label counters. The output manifest is read
  where Ground Truth wrote it and never copied to labeled.manifest, whose arrival is the
  other trigger.
- runs/<run_id>/labeled.manifest was created: labels were provided with the dataset.

Either way the manifest is split (manifest_split.py) into runs/<run_id>/train.manifest and
validation.manifest, runs/<run_id>/training.json records the plan, the jobs are created
under deterministic names and "Training Started" is emitted. A name already taken means an
earlier delivery started that job: it counts as started.

What the data or the spec keeps from training (nothing labeled, too few images, an
unsupported region, settings no job could honour) is "Training Skipped" with the reason.
What AWS refuses for good (a quota, a value, a permission, something missing) is
"Training Failed" with AWS's code and message, what they mean and what to do (aws_errors),
when it leaves no job running; when only some hyperparameter sets are refused, the others
train, training.json is rewritten to list only the jobs created (so the deploy stage waits
for and compares those alone), and "Training Started" reports the refused sets. Throttling
and server errors propagate so EventBridge or Lambda retries.

A retry from training (POST /runs/{run_id}/retry, "Run Retried" from_stage training) trains
attempt N on the same labels: the provided labeled.manifest, or the labeling job the event (or
the previous training.json) names, read with DescribeLabelingJob; never a new labeling job. Its
jobs are named and tagged for the attempt (`-a2`). With several hyperparameter sets, a set whose
job completed in an earlier attempt keeps that job: training.json lists the mix and Training
Started says which were reused. A labeling job's completion is of the attempt its tag says.
Every trigger first asks attempts.why_not_start: an attempt a retry replaced, or a stopped
run's, starts nothing (StaleAttemptError).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from sagechain.attempts import why_not_start
from sagechain.errors import (
    ObjectNotFoundError,
    RequestRefusedError,
    RetryableError,
    StaleAttemptError,
    TrainingNotStartedError,
)
from sagechain.event_sources.s3 import objects_created
from sagechain.event_sources.sagemaker import COMPLETED, SAGEMAKER_SOURCE, JobKind, state_change
from sagechain.events import (
    RefusedTrainingJob,
    RunRetried,
    SagechainEvent,
    TrainingFailed,
    TrainingSkipped,
    TrainingStarted,
)
from sagechain.layout import (
    LABELED_MANIFEST,
    MANIFEST_CONTENT_TYPE,
    RUN_INFO_FILE,
    SPEC_RECORD_FILE,
    TRAINING_RECORD_FILE,
    run_key,
)
from sagechain.names import attempt_of, owned_run_id
from sagechain.ports import EventPublisher, LabelingJobSummary, ObjectStore, TrainingJobs
from sagechain.records import ClassSplit, RunInfo, TrainingRecord, read_record
from sagechain.spec import DatasetSpec
from sagechain.training.file_channels import dataset_folder_uris, write_files_channels
from sagechain.training.manifest_split import NO_OBJECTS, SplitResult, split_manifest
from sagechain.training.plan import (
    TrainingData,
    TrainingPlan,
    TrainingTarget,
    check_training_spec,
    plan_training,
)
from sagechain.training.settings import TrainingEnvironment

TRAIN_MANIFEST = "train.manifest"
VALIDATION_MANIFEST = "validation.manifest"
_LABELED_MANIFEST_KEY = re.compile(r"^runs/([^/]+)/" + re.escape(LABELED_MANIFEST) + "$")
_S3_URI = re.compile(r"^s3://([^/]+)/(.+)$")


# ---------------------------------------------------------------- triggers


class TrainingTrigger(BaseModel):
    """What an event asks to train; `key` names it for idempotency (job + status, or run)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    key: str
    labeling_job_name: str | None = None
    run_id: str | None = None
    # A retry from training: its attempt. None for SageMaker's and S3's triggers, whose attempt
    # is the labeling job's tag (or 1, for provided labels).
    retry_attempt: int | None = None


def training_trigger(event: Mapping[str, Any], bucket: str) -> TrainingTrigger | None:
    """The training an event asks for, or None when it asks for none of ours."""
    if event.get("source") == SAGEMAKER_SOURCE:
        change = state_change(event, JobKind.LABELING)
        if change is None or change.status != COMPLETED:
            return None
        return TrainingTrigger(
            key=f"labeling-job/{change.name}/{change.status}", labeling_job_name=change.name
        )
    for ref in objects_created(event):
        match = _LABELED_MANIFEST_KEY.match(ref.key)
        if match and ref.bucket == bucket:
            return TrainingTrigger(key=f"labeled-manifest/{match[1]}", run_id=match[1])
    return None


def retried_training_trigger(retried: RunRetried) -> TrainingTrigger | None:
    """The training a "Run Retried" asks for (from_stage training), or None for another stage's."""
    if retried.from_stage != "training":
        return None
    return TrainingTrigger(
        key=f"retry/{retried.run_id}/{retried.attempt}",
        run_id=retried.run_id,
        labeling_job_name=retried.labeling_job_name,
        retry_attempt=retried.attempt,
    )


# ---------------------------------------------------------------- the stage


@dataclass(frozen=True)
class _Run:
    run_id: str
    info: RunInfo
    spec: DatasetSpec
    labeling_job: LabelingJobSummary | None
    attempt: int = 1
    # A retry's: the training.json of the attempt before (its jobs may be reused).
    previous: TrainingRecord | None = None
    # A retry's labeling job that is gone or not this run's: nothing to train on.
    missing_labeling_job: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _read_run(
    store: ObjectStore, run_id: str, labeling_job: LabelingJobSummary | None, attempt: int = 1
) -> _Run | None:
    spec = read_record(store, run_key(run_id, SPEC_RECORD_FILE), DatasetSpec)
    info = read_record(store, run_key(run_id, RUN_INFO_FILE), RunInfo)
    if spec is None or info is None:
        return None
    return _Run(run_id, info, spec, labeling_job, attempt)


def _check_attempt(store: ObjectStore, run_id: str, attempt: int) -> None:
    """StaleAttemptError unless this attempt of the run may still start training."""
    reason = why_not_start(store, run_id, attempt)
    if reason is not None:
        raise StaleAttemptError(reason)


def _retried_run(
    trigger: TrainingTrigger, run_id: str, attempt: int, store: ObjectStore, jobs: TrainingJobs, stack: str
) -> _Run | None:
    """A retry from training: the run, the labels an earlier attempt trained on, that training."""
    _check_attempt(store, run_id, attempt)
    run = _read_run(store, run_id, None, attempt)
    if run is None:
        return None
    previous = read_record(store, run_key(run_id, TRAINING_RECORD_FILE), TrainingRecord)
    name = trigger.labeling_job_name or (previous.labeling_job_name if previous else None)
    job = jobs.labeling_job(name) if name else None
    missing = name if name and (job is None or owned_run_id(job.tags, stack) != run_id) else None
    return replace(
        run, labeling_job=None if missing else job, previous=previous, missing_labeling_job=missing
    )


def _find_run(
    trigger: TrainingTrigger, store: ObjectStore, jobs: TrainingJobs, stack_name: str
) -> _Run | None:
    """The sagechain run the trigger is about, or None when it is not one of ours (StaleAttemptError
    when it is, but of an attempt that may no longer start)."""
    if trigger.run_id is not None and trigger.retry_attempt is not None:
        return _retried_run(trigger, trigger.run_id, trigger.retry_attempt, store, jobs, stack_name)
    if trigger.run_id is not None:
        _check_attempt(store, trigger.run_id, 1)
        return _read_run(store, trigger.run_id, None)
    assert trigger.labeling_job_name is not None  # noqa: S101 - a trigger names a run or a job
    job = jobs.labeling_job(trigger.labeling_job_name)
    # Only this stack's jobs: another stack may share the name prefix.
    run_id = None if job is None else owned_run_id(job.tags, stack_name)
    if job is None or run_id is None:
        return None
    # A labeling job of a retry (?from=labeling) carries its attempt; a stale attempt-1 job
    # completing after attempt 2 began, or one of a stopped run, trains nothing.
    attempt = attempt_of(job.tags)
    _check_attempt(store, run_id, attempt)
    if job.status != COMPLETED:
        # The event said Completed: a read that lags it is retried, not taken as the answer.
        raise RetryableError(f"labeling job {job.name} reads {job.status}, not yet Completed; retrying")
    return _read_run(store, run_id, job, attempt)


def _labeled_manifest(run: _Run, store: ObjectStore) -> tuple[str, str]:
    """The manifest key to split and its label attribute."""
    job = run.labeling_job
    if run.missing_labeling_job is not None:
        raise TrainingNotStartedError(
            f"Labeling job {run.missing_labeling_job}, whose labels the retry reuses, is not a labeling "
            f"job of run {run.run_id}, so there is nothing to train on. Retry from labeling "
            "(POST /runs/{run_id}/retry?from=labeling) to label the images again."
        )
    if job is None:
        return run_key(run.run_id, LABELED_MANIFEST), run.info.label_attribute
    if job.status != COMPLETED:
        # Only a retry gets here with a job that did not complete: the others waited for Completed.
        raise TrainingNotStartedError(
            f"Labeling job {job.name} is {job.status}, not Completed, so it has no labels to reuse. "
            "Retry from labeling (POST /runs/{run_id}/retry?from=labeling) to label the images again."
        )
    if job.labeled == 0:
        raise TrainingNotStartedError(
            f"Labeling job {job.name} completed with no labeled images ({job.failed} failed, "
            f"{job.unlabeled} not labeled), so there is nothing to train on. Check the job in the "
            "SageMaker console, then upload the dataset again."
        )
    match = _S3_URI.match(job.output_manifest_uri or "")
    if match is None or match[1] != store.bucket:
        raise TrainingNotStartedError(
            f"Labeling job {job.name} wrote its output manifest to {job.output_manifest_uri or 'nowhere'}, "
            f"outside the data bucket {store.bucket}; sagechain trains only on data in its bucket."
        )
    return match[2], job.label_attribute or run.info.label_attribute


def _too_few(result: SplitResult, source: str, fraction: float) -> str:
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.dropped.items()))
    dropped_note = f"; left out: {dropped}" if dropped else ""
    return (
        f"Too few labeled images in {source} to train: {result.train} for training and "
        f"{result.validation} for validation (validation_fraction {fraction}){dropped_note}. "
        "Each needs at least one: label more images, or change training.validation_fraction."
    )


def _split(run: _Run, store: ObjectStore) -> tuple[SplitResult, str]:
    """Write train.manifest and validation.manifest; the result and the label attribute.

    A retry writes them again from the same labeled manifest: split_manifest is deterministic,
    byte for byte, so the files a reused sibling job trained on are rewritten unchanged."""
    key, attribute = _labeled_manifest(run, store)
    spec = run.spec
    train = store.open_writer(run_key(run.run_id, TRAIN_MANIFEST), MANIFEST_CONTENT_TYPE)
    validation = store.open_writer(run_key(run.run_id, VALIDATION_MANIFEST), MANIFEST_CONTENT_TYPE)
    try:
        result = split_manifest(
            store.iter_lines(key),
            spec.task,
            attribute,
            len(spec.labels),
            spec.training.validation_fraction,
            train,
            validation,
        )
        if result.train == 0 or result.validation == 0:
            raise TrainingNotStartedError(_too_few(result, store.uri(key), spec.training.validation_fraction))
    except ObjectNotFoundError:
        train.abort()
        validation.abort()
        raise TrainingNotStartedError(
            f"{store.uri(key)} was not found, so there is nothing to train on."
        ) from None
    except BaseException:
        train.abort()
        validation.abort()
        raise
    train.commit()
    validation.commit()
    return result, attribute


def _record(
    run: _Run,
    plan: TrainingPlan,
    data: TrainingData,
    result: SplitResult,
    target: TrainingTarget,
    now: datetime,
) -> TrainingRecord:
    labels = run.spec.labels
    class_split = {
        ("(no objects)" if k == NO_OBJECTS else labels[k]): ClassSplit(train=t, validation=v)
        for k, (t, v) in result.class_counts.items()
    }
    return TrainingRecord(
        run_id=run.run_id,
        dataset=run.info.dataset,
        task=run.spec.task.value,
        labels=list(labels),
        label_attribute=data.label_attribute,
        labeling_job_name=run.labeling_job.name if run.labeling_job else None,
        algorithm=plan.algorithm,
        training_image=plan.training_image,
        mode=plan.mode,
        job_names=plan.job_names,
        tuning_job_name=plan.tuning_job_name,
        hyperparameters=plan.hyperparameters,
        objective=plan.objective,
        train_manifest_uri=data.train_uri,
        validation_manifest_uri=data.validation_uri,
        output_uri=target.output_uri,
        train_objects=data.train_objects,
        validation_objects=data.validation_objects,
        dropped=dict(result.dropped),
        class_split=class_split,
        created_at=now,
        attempt=run.attempt,
    )


def _reusable_jobs(run: _Run, plan: TrainingPlan, jobs: TrainingJobs) -> dict[int, str]:
    """A retry's hyperparameter sets whose job of an earlier attempt completed on the same labels,
    image and hyperparameters: set index -> that job, which is kept rather than trained again."""
    previous = run.previous
    labeling_job = run.labeling_job.name if run.labeling_job else None
    if (
        run.attempt <= 1
        or previous is None
        or plan.mode != "sets"
        or previous.mode != "sets"
        or previous.labeling_job_name != labeling_job
        or previous.training_image != plan.training_image
    ):
        return {}
    reused: dict[int, str] = {}
    for index, chosen in enumerate(plan.hyperparameters):
        for name, given in zip(previous.job_names, previous.hyperparameters, strict=True):
            if given != chosen or name == plan.job_names[index] or name in reused.values():
                continue
            if jobs.training_job_status(name) == COMPLETED:
                reused[index] = name
                break
    return reused


@dataclass(frozen=True)
class _Created:
    """What _create_jobs did: the training jobs that exist now, whether the tuning job does, what
    SageMaker refused, and whether any name was already taken (an earlier delivery's job)."""

    training: list[str]
    tuning: bool
    refused: list[RefusedTrainingJob]
    existed: bool


def _create_jobs(
    plan: TrainingPlan, jobs: TrainingJobs, region: str, instance_type: str, reused: dict[int, str]
) -> _Created:
    """Create every job of the plan but the reused: the training jobs created (a name already
    taken was started by an earlier delivery), whether the tuning job was, and what SageMaker
    refused."""
    created: list[str] = []
    refused: list[RefusedTrainingJob] = []
    existed = False
    for index, request in enumerate(plan.training_jobs):
        if index in reused:
            continue
        name = str(request["TrainingJobName"])
        try:
            existed |= jobs.create_training_job(request) is False
        except RequestRefusedError as err:
            # One set's refusal does not hold back the others: each job stands on its own.
            error = err.explain(region=region, instance_type=instance_type)
            refused.append(
                RefusedTrainingJob(
                    job_name=name, hyperparameter_set=index if plan.mode == "sets" else None, error=error
                )
            )
            continue
        created.append(name)
    tuning_created = False
    if plan.tuning_job is not None and plan.tuning_job_name is not None:
        try:
            existed |= jobs.create_tuning_job(plan.tuning_job) is False
            tuning_created = True
        except RequestRefusedError as err:
            error = err.explain(region=region, instance_type=instance_type)
            refused.append(RefusedTrainingJob(job_name=plan.tuning_job_name, tuning=True, error=error))
    return _Created(created, tuning_created, refused, existed)


def _write_record(store: ObjectStore, record: TrainingRecord) -> None:
    store.put_bytes(
        run_key(record.run_id, TRAINING_RECORD_FILE),
        record.model_dump_json(indent=2).encode(),
        "application/json",
    )


def _only_created(
    record: TrainingRecord, created: list[str], tuning_created: bool, refused: list[RefusedTrainingJob]
) -> TrainingRecord:
    """training.json as it must read once SageMaker answered: only the jobs that exist."""
    kept = [i for i, name in enumerate(record.job_names) if name in created]
    hyperparameters = record.hyperparameters
    if record.mode != "tuning":
        hyperparameters = [record.hyperparameters[i] for i in kept]
    return record.model_copy(
        update={
            "job_names": [record.job_names[i] for i in kept],
            "hyperparameters": hyperparameters,
            "tuning_job_name": record.tuning_job_name if tuning_created else None,
            "refused": refused,
        }
    )


def failed_reason(refused: list[RefusedTrainingJob]) -> str:
    """Why no job trains, the cause in the first sentence."""
    first = refused[0]
    causes = list(dict.fromkeys(r.error.cause for r in refused))
    if len(refused) == 1:
        what = "hyperparameter tuning job" if first.tuning else "training job"
        head = f"SageMaker refused to create {what} {first.job_name}: {causes[0]}."
    else:
        head = (
            f"SageMaker refused to create all {len(refused)} training jobs of the run: {'; '.join(causes)}."
        )
    return f"{head} {first.error.meaning}"


def _train(
    run: _Run, store: ObjectStore, jobs: TrainingJobs, environment: TrainingEnvironment, now: datetime
) -> TrainingStarted | TrainingFailed:
    spec = run.spec
    if spec.training.instance_type is None:
        training = spec.training.model_copy(update={"instance_type": environment.default_instance_type})
        spec = spec.model_copy(update={"training": training})
    check_training_spec(spec, environment.region)
    folders = dataset_folder_uris(store, spec, run.info.dataset)
    result, attribute = _split(run, store)
    manifests = {
        "train": run_key(run.run_id, TRAIN_MANIFEST),
        "validation": run_key(run.run_id, VALIDATION_MANIFEST),
    }
    files = write_files_channels(store, spec, run.run_id, run.info.dataset, manifests, attribute)
    data = TrainingData(
        train_uri=store.uri(run_key(run.run_id, TRAIN_MANIFEST)),
        validation_uri=store.uri(run_key(run.run_id, VALIDATION_MANIFEST)),
        train_objects=result.train,
        validation_objects=result.validation,
        max_boxes=result.max_boxes,
        label_attribute=attribute,
        channel_uris={**folders, **files},
    )
    target = TrainingTarget(
        run_id=run.run_id,
        region=environment.region,
        role_arn=environment.role_arn,
        name_prefix=environment.name_prefix,
        stack_name=environment.stack_name,
        allow_custom_network_access=environment.allow_custom_network_access,
        output_uri=store.uri(run_key(run.run_id, "training/")),
        checkpoint_uri=store.uri(run_key(run.run_id, "training/checkpoints/")),
        attempt=run.attempt,
    )
    plan = plan_training(spec, data, target)
    reused = _reusable_jobs(run, plan, jobs)
    record = _record(run, plan, data, result, target, now)
    if reused:
        names = [reused.get(i, name) for i, name in enumerate(record.job_names)]
        record = record.model_copy(update={"job_names": names})
    # Before the jobs: the deploy stage reads it when their first state change arrives.
    _write_record(store, record)
    instance_type = str(spec.training.instance_type)
    outcome = _create_jobs(plan, jobs, environment.region, instance_type, reused)
    created, tuning_created, refused = outcome.training, outcome.tuning, outcome.refused
    kept = [name for name in record.job_names if name in created or name in reused.values()]
    if refused:
        # Rewritten at once: the deploy stage must wait for, and compare, only jobs that exist.
        _write_record(store, _only_created(record, kept, tuning_created, refused))
    if not kept and not tuning_created:
        return TrainingFailed(
            run_id=run.run_id,
            dataset=run.info.dataset,
            attempt=run.attempt,
            reason=failed_reason(refused),
            error=refused[0].error,
            refused=refused,
            instance_type=instance_type,
            instance_count=spec.training.instance_count,
            labeling_job_name=run.labeling_job.name if run.labeling_job else None,
        )
    if plan.tuning_job_name is not None:
        urls = [jobs.console_url("hyper-tuning-jobs", plan.tuning_job_name)]
    else:
        urls = [jobs.console_url("jobs", name) for name in kept]
    return TrainingStarted(
        run_id=run.run_id,
        dataset=run.info.dataset,
        attempt=run.attempt,
        job_names=kept,
        tuning_job_name=plan.tuning_job_name,
        algorithm=plan.algorithm_label,
        instance_type=instance_type,
        instance_count=spec.training.instance_count,
        spot=spec.training.spot,
        train_objects=result.train,
        validation_objects=result.validation,
        dropped=dict(result.dropped),
        console_urls=urls,
        refused=refused,
        reused_jobs=[reused[i] for i in sorted(reused)],
        may_have_ended=bool(reused) or outcome.existed,
    )


def start_training(
    trigger: TrainingTrigger,
    store: ObjectStore,
    jobs: TrainingJobs,
    publisher: EventPublisher,
    environment: TrainingEnvironment,
    now: Callable[[], datetime] = _now,
) -> SagechainEvent | None:
    """Start the run's training, or skip or fail it with a reason; publish and return the event.

    None (and no event) when the trigger is not about a sagechain run: a labeling job
    without our run tag, or a labeled.manifest with no spec.json and run.json beside it.
    StaleAttemptError (and no event) when it is about an attempt a retry replaced or a stop ended.
    """
    run = _find_run(trigger, store, jobs, environment.stack_name)
    if run is None:
        return None
    event: SagechainEvent
    try:
        event = _train(run, store, jobs, environment, now())
    except TrainingNotStartedError as err:
        event = TrainingSkipped(
            run_id=run.run_id,
            dataset=run.info.dataset,
            attempt=run.attempt,
            reason=err.reason,
            labeling_job_name=run.labeling_job.name if run.labeling_job else None,
        )
    publisher.publish(event)
    return event
