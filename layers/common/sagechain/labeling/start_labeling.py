"""Stage 2: a run's input manifest becomes one Ground Truth labeling job, or the files the team's
own tool imports (labeling.mode label-studio: label-studio/tasks.json and config.xml; cvat:
cvat/labels.json), announced by "Labeling Requested"; collect_labels takes the labels back.

prepare_dataset writes runs/<run_id>/spec.json and run.json, then input.manifest; the
manifest's arrival starts this stage. It writes the label categories file and the worker
task template under runs/<run_id>/labeling/, creates the labeling job (output under the
same prefix), and emits "Labeling Started". A run Ground Truth cannot label as asked (an
unsupported region, a missing or foreign work team, too many labels) is emitted as "Dataset
Rejected" with a reason a person can act on. A job SageMaker refuses to create for good (a
quota, a value it does not accept, a permission, something missing) is "Labeling Failed",
with AWS's code and message, what they mean and what to do (aws_errors). Neither is retried;
throttling and server errors propagate so Lambda and EventBridge retry them. The job name
comes from the run id and the attempt, so a second delivery creates no second job.

A retry from labeling (POST /runs/{run_id}/retry?from=labeling, "Run Retried") labels the same
input manifest again with a new job of that attempt (`<prefix>-<run>-labeling-a2`, tagged with
the attempt); the manifest's own arrival is attempt 1. An attempt that a later retry replaced,
or that was stopped, starts nothing (attempts.why_not_start).
"""

import json
import re

from pydantic import BaseModel, ConfigDict

from sagechain.attempts import why_not_start
from sagechain.errors import (
    DatasetRejectedError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    RequestRefusedError,
    StaleAttemptError,
)
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import (
    DatasetRejected,
    LabelingFailed,
    LabelingRequested,
    LabelingStarted,
    RunRetried,
    SagechainEvent,
)
from sagechain.labeling.ground_truth import (
    AUTO_LABELING_MIN_OBJECTS,
    AUTO_LABELING_SUGGESTED_OBJECTS,
    PUBLIC_WORKFORCE_MAX_AVAILABILITY_SECONDS,
    TASK_PROFILES,
    TaskProfile,
    auto_labeling_algorithm_arn,
    region_of,
    task_lambdas,
    workforce_of,
)
from sagechain.labeling.label_studio import (
    ANNOTATIONS_FOLDER,
    CONFIG_FILE,
    CVAT_LABELS_FILE,
    DONE_MARKER,
    EXPORTS_FOLDER,
    TASKS_FILE,
    cvat_label_spec,
    labeling_config,
    task_document,
)
from sagechain.labeling.worker_template import label_categories_document, worker_task_template
from sagechain.layout import (
    INPUT_MANIFEST,
    RUN_INFO_FILE,
    SPEC_RECORD_FILE,
    dataset_prefix,
    images_prefix,
    run_key,
)
from sagechain.names import attempt_parts, resource_tags, sagemaker_name
from sagechain.observability import logger
from sagechain.ports import EventPublisher, LabelingJobPlan, LabelingJobs, ObjectStore
from sagechain.pricing import estimate_labeling_cost
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec, LabelingMode, parse_spec

LABELING_FOLDER = "labeling/"
LABEL_CATEGORIES_FILE = "label-categories.json"
WORKER_TEMPLATE_FILE = "worker-task-template.liquid.html"
RUN_FILE_MAX_BYTES = 1024 * 1024
# Run ids are names.run_id's: a slug of the dataset name, a hyphen and a digest.
_RUN_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


# ---------------------------------------------------------------- requests
class LabelingRequest(BaseModel):
    """A run whose Ground Truth input manifest was written: label it with one job."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    job_name: str
    bucket: str
    manifest_key: str
    stack_name: str
    # The run attempt (attempts.py): 1 for the manifest's arrival, N for a retry from labeling.
    attempt: int = 1


def labeling_job_name(name_prefix: str, run_id: str, attempt: int = 1) -> str:
    """The run's labeling job name for one attempt (one job per attempt)."""
    return sagemaker_name(name_prefix, run_id, "labeling", *attempt_parts(attempt))


def labeling_request(ref: ObjectRef, name_prefix: str, stack_name: str) -> LabelingRequest | None:
    """The run a created object asks to label, or None unless the key is exactly
    runs/<run_id>/input.manifest (the rule's wildcard also matches deeper keys)."""
    parts = ref.key.split("/")
    if len(parts) != 3 or parts[0] != "runs" or parts[2] != INPUT_MANIFEST:
        return None
    run_id = parts[1]
    if not _RUN_ID.fullmatch(run_id):
        return None
    return LabelingRequest(
        run_id=run_id,
        job_name=labeling_job_name(name_prefix, run_id),
        stack_name=stack_name,
        bucket=ref.bucket,
        manifest_key=ref.key,
    )


def retried_labeling_request(
    retried: RunRetried, bucket: str, name_prefix: str, stack_name: str
) -> LabelingRequest | None:
    """The labeling a "Run Retried" asks for (from_stage labeling), or None for another stage's."""
    if retried.from_stage != "labeling" or not _RUN_ID.fullmatch(retried.run_id):
        return None
    return LabelingRequest(
        run_id=retried.run_id,
        job_name=labeling_job_name(name_prefix, retried.run_id, retried.attempt),
        bucket=bucket,
        # The manifest prepare_dataset wrote: the same images are labeled again.
        manifest_key=run_key(retried.run_id, INPUT_MANIFEST),
        stack_name=stack_name,
        attempt=retried.attempt,
    )


# ---------------------------------------------------------------- the run
def _read_run_file(store: ObjectStore, run_id: str, name: str) -> bytes | None:
    try:
        return store.read_bytes(run_key(run_id, name), RUN_FILE_MAX_BYTES)
    except ObjectNotFoundError:
        return None
    except ObjectTooLargeError as err:
        raise DatasetRejectedError(
            f"runs/{run_id}/{name} is {err.size} bytes; at most {err.limit} are read"
        ) from None


def _read_spec(raw: bytes, run_id: str) -> DatasetSpec:
    return parse_spec(raw, run_key(run_id, SPEC_RECORD_FILE))


# ---------------------------------------------------------------- the job
def _check_labels(spec: DatasetSpec, profile: TaskProfile) -> None:
    count = len(spec.labels)
    if count < profile.min_labels:
        raise DatasetRejectedError(
            f"Ground Truth's {spec.task.value} job needs at least {profile.min_labels} labels and "
            f"the spec has {count}. Add labels to dataset.json and upload it again."
        )
    if profile.max_labels is not None and count > profile.max_labels:
        raise DatasetRejectedError(
            f"Ground Truth's {spec.task.value} job takes at most {profile.max_labels} labels and "
            f"the spec has {count}. Split the labels over several datasets, or provide the labels "
            "(labeling.mode = provided)."
        )


def _check_workteam(workteam_arn: str | None, region: str) -> str:
    if not workteam_arn:
        raise DatasetRejectedError(
            "Ground Truth needs a work team: set labeling.workteam_arn in dataset.json or the stack's "
            "DefaultWorkteamArn parameter, or provide the labels (labeling.mode = provided)."
        )
    team_region = region_of(workteam_arn)
    if team_region != region:
        raise DatasetRejectedError(
            f"labeling.workteam_arn {workteam_arn} is a work team of {team_region}, but the stack runs in "
            f"{region}: a labeling job uses a work team of its own region."
        )
    return workteam_arn


def _auto_labeling(spec: DatasetSpec, objects: int, region: str) -> tuple[str | None, str | None]:
    """The algorithm ARN when auto-labeling is on, else None and, if it was asked for, why not."""
    if not spec.labeling.auto_labeling:
        return None, None
    algorithm = auto_labeling_algorithm_arn(region, spec.task)
    if algorithm is None:
        return None, (
            f"Automated data labeling is not offered for {spec.task.value} (Ground Truth offers it for "
            f"image-classification and object-detection), so workers label all {objects} images."
        )
    if objects < AUTO_LABELING_MIN_OBJECTS:
        return None, (
            f"Automated data labeling needs at least {AUTO_LABELING_MIN_OBJECTS:,} images (AWS "
            f"suggests {AUTO_LABELING_SUGGESTED_OBJECTS:,} or more) and this run has {objects}, so "
            "workers label them all."
        )
    return algorithm, None


def _start(
    request: LabelingRequest,
    info: RunInfo,
    spec: DatasetSpec,
    store: ObjectStore,
    jobs: LabelingJobs,
    role_arn: str,
) -> LabelingStarted | LabelingFailed:
    region = jobs.region
    lambdas = task_lambdas(region, spec.task)
    profile = TASK_PROFILES[spec.task]
    labeling = spec.labeling
    workteam_arn = _check_workteam(labeling.workteam_arn, region)
    _check_labels(spec, profile)
    estimate = estimate_labeling_cost(
        spec.task, info.objects, labeling.workers_per_object, workteam_arn, labeling.price_per_task_usd
    )
    workforce = workforce_of(workteam_arn)
    availability = labeling.task_availability_lifetime_seconds
    if workforce == "public":
        # Mechanical Turk keeps a task at most 12 hours; the spec's default is for private teams.
        availability = min(availability, PUBLIC_WORKFORCE_MAX_AVAILABILITY_SECONDS)
    algorithm_arn, auto_labeling_refused = _auto_labeling(spec, info.objects, region)

    folder = run_key(request.run_id, LABELING_FOLDER)
    title = labeling.task_title or profile.default_title
    question = labeling.task_description or profile.default_question
    instructions = labeling.instructions or profile.default_instructions
    store.put_bytes(
        folder + LABEL_CATEGORIES_FILE, label_categories_document(spec.labels), "application/json"
    )
    store.put_bytes(
        folder + WORKER_TEMPLATE_FILE,
        worker_task_template(profile, title, question, instructions, spec.labels),
        "text/html",
    )
    plan = LabelingJobPlan(
        job_name=request.job_name,
        label_attribute=labeling.label_attribute,
        manifest_uri=f"s3://{request.bucket}/{request.manifest_key}",
        output_uri=store.uri(folder),
        role_arn=role_arn,
        label_categories_uri=store.uri(folder + LABEL_CATEGORIES_FILE),
        ui_template_uri=store.uri(folder + WORKER_TEMPLATE_FILE),
        workteam_arn=workteam_arn,
        pre_human_task_lambda_arn=lambdas.pre_human_task,
        annotation_consolidation_lambda_arn=lambdas.annotation_consolidation,
        title=title,
        description=question,
        keywords=profile.keywords,
        workers_per_object=labeling.workers_per_object,
        task_time_limit_seconds=labeling.task_time_limit_seconds,
        task_availability_lifetime_seconds=availability,
        max_concurrent_tasks=labeling.max_concurrent_tasks,
        public_task_price_usd=labeling.price_per_task_usd if workforce == "public" else None,
        auto_labeling_algorithm_arn=algorithm_arn,
        tags=resource_tags(request.run_id, request.stack_name, request.attempt),
    )
    try:
        created = jobs.create(plan)
    except RequestRefusedError as err:
        error = err.explain(region=region)
        return LabelingFailed(
            run_id=request.run_id,
            dataset=info.dataset,
            attempt=request.attempt,
            job_name=request.job_name,
            reason=f"SageMaker refused to create labeling job {request.job_name}: {error.cause}. "
            f"{error.meaning}",
            error=error,
            cost_estimate=estimate,
        )
    if not created:
        logger.info("labeling job already exists; counted as started", extra={"job_name": request.job_name})
    return LabelingStarted(
        run_id=request.run_id,
        dataset=info.dataset,
        attempt=request.attempt,
        job_name=request.job_name,
        task=spec.task.value,
        objects=info.objects,
        workforce=workforce,
        auto_labeling=algorithm_arn is not None,
        console_url=jobs.console_url(request.job_name),
        output_uri=plan.output_uri,
        cost_estimate=estimate,
        auto_labeling_refused_reason=auto_labeling_refused,
        workteam_arn=workteam_arn,
    )


def _write_tasks(request: LabelingRequest, store: ObjectStore) -> None:
    """tasks.json: a JSON list of tasks, one per line of input.manifest, streamed."""
    writer = store.open_writer(run_key(request.run_id, TASKS_FILE), "application/json")
    try:
        separator = b"[\n"
        for line in store.iter_lines(request.manifest_key):
            if not line.strip():
                continue
            writer.write(separator + task_document(str(json.loads(line)["source-ref"])))
            separator = b",\n"
        writer.write(b"[]\n" if separator == b"[\n" else b"\n]\n")
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def _request_own_tool(
    request: LabelingRequest, info: RunInfo, spec: DatasetSpec, store: ObjectStore
) -> LabelingRequested:
    """The team labels in its own tool: write what Label Studio (tasks, config) or CVAT (labels) imports."""
    tool = spec.labeling.mode
    tasks_uri = config_uri = cvat_uri = None
    if tool is LabelingMode.LABEL_STUDIO:
        _write_tasks(request, store)
        store.put_bytes(
            run_key(request.run_id, CONFIG_FILE), labeling_config(spec.task, spec.labels), "application/xml"
        )
        tasks_uri = store.uri(run_key(request.run_id, TASKS_FILE))
        config_uri = store.uri(run_key(request.run_id, CONFIG_FILE))
    else:
        store.put_bytes(
            run_key(request.run_id, CVAT_LABELS_FILE),
            cvat_label_spec(spec.task, spec.labels),
            "application/json",
        )
        cvat_uri = store.uri(run_key(request.run_id, CVAT_LABELS_FILE))
    return LabelingRequested(
        run_id=request.run_id,
        dataset=info.dataset,
        attempt=request.attempt,
        tool="cvat" if tool is LabelingMode.CVAT else "label-studio",
        task=spec.task.value,
        labels=spec.labels,
        objects=info.objects,
        bucket=request.bucket,
        tasks_uri=tasks_uri,
        config_uri=config_uri,
        cvat_labels_uri=cvat_uri,
        images_uri=store.uri(images_prefix(info.dataset)),
        annotations_uri=store.uri(run_key(request.run_id, ANNOTATIONS_FOLDER)),
        done_uri=store.uri(run_key(request.run_id, DONE_MARKER)),
        exports_uri=store.uri(run_key(request.run_id, EXPORTS_FOLDER)),
    )


def start_labeling(
    request: LabelingRequest,
    store: ObjectStore,
    jobs: LabelingJobs,
    publisher: EventPublisher,
    role_arn: str,
) -> SagechainEvent | None:
    """Start the run's labeling job and publish what happened; None when the key names no
    Ground Truth run of sagechain's (no run.json or spec.json beside it). StaleAttemptError when
    the request's attempt was replaced by a retry or stopped: nothing is written or created."""
    reason = why_not_start(store, request.run_id, request.attempt)
    if reason is not None:
        raise StaleAttemptError(reason)
    raw_info = _read_run_file(store, request.run_id, RUN_INFO_FILE)
    if raw_info is None:
        return None
    info = RunInfo.model_validate_json(raw_info)
    own_tool = info.labeling_mode in (LabelingMode.LABEL_STUDIO, LabelingMode.CVAT)
    if info.labeling_mode != LabelingMode.GROUND_TRUTH and not own_tool:
        return None
    event: SagechainEvent
    try:
        raw_spec = _read_run_file(store, request.run_id, SPEC_RECORD_FILE)
        if raw_spec is None:
            return None
        spec = _read_spec(raw_spec, request.run_id)
        if own_tool:
            event = _request_own_tool(request, info, spec, store)
        else:
            event = _start(request, info, spec, store, jobs, role_arn)
    except DatasetRejectedError as rejection:
        event = DatasetRejected(
            run_id=request.run_id,
            dataset=info.dataset,
            attempt=request.attempt,
            reason=f"Labeling did not start. {rejection.reason}",
            source_uri=info.source_uri,
            dataset_uri=store.uri(dataset_prefix(info.dataset)),
            cost_estimate=rejection.estimate,
            uploaded_by=info.uploaded_by,
            uploaded_from=info.uploaded_from,
        )
    publisher.publish(event)
    return event
