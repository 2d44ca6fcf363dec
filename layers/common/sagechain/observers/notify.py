"""Stage 6: one plain-text email per sagechain event, and per failed or stopped job or endpoint.

Each email says what happened, the figures that matter at that step, a failure reason
exactly as SageMaker or the stage wrote it, links (SageMaker console, training logs,
the predict URL) and what to do next. Completed jobs and endpoints in service are not
emailed: the sagechain event that follows them says more. A training job that a tuning
job launched is not emailed either: the tuning job reports for its trials.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sagechain.aws_errors import AwsErrorExplanation
from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sagemaker import ALARMING_STATUSES, FAILED, JobKind, StateChange
from sagechain.events import (
    BatchCompleted,
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
    EndpointHourlyCost,
    JobComparison,
    LabelingCompleted,
    LabelingCostEstimate,
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
    RunRetried,
    RunStopped,
    SagechainEvent,
    StageFailed,
    TrainingFailed,
    TrainingSkipped,
    TrainingStarted,
    WorstCaseCost,
)
from sagechain.observers.email import Email, EmailBody, subject_line
from sagechain.observers.timeline import (
    STOPPED_KINDS,
    TERMINAL_STATUSES,
    RunRef,
    resolve_run,
    run_info,
    uploader,
)
from sagechain.ports import ObjectStore, SageMakerLookup, TrainingJobFacts
from sagechain.pricing import delete_endpoint_commands
from sagechain.run_history import RunRecord, Stage

# ---------------------------------------------------------------- text helpers


def duration(seconds: int | None) -> str | None:
    """1 h 02 min 03 s; None stays None."""
    if seconds is None:
        return None
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def _counts(counts: Mapping[str, int] | None) -> str | None:
    if not counts:
        return None
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def _estimate(estimate: LabelingCostEstimate | None) -> str | None:
    if estimate is None:
        return None
    return (
        f"{_usd(estimate.total_usd)} for {estimate.objects} images (Ground Truth fees "
        f"{_usd(estimate.per_object_fees_usd)}, workforce {_usd(estimate.workforce_fees_usd)})"
    )


def _worst_case(cost: WorstCaseCost | None) -> list[tuple[str, str | None]]:
    if cost is None:
        return []
    spot = "; spot: at most this, usually less" if cost.spot else ""
    return [
        (
            "Worst-case cost",
            f"{_usd(cost.total_usd)} (labeling + training + one day of the endpoint at "
            f"{cost.endpoint_max_instances} instances; this stack's ceiling {_usd(cost.max_run_cost_usd)})",
        ),
        (
            "Worst-case training",
            f"{_usd(cost.training_usd)}: {cost.training_jobs} job(s) x {cost.training_instance_count} x "
            f"{cost.training_instance_type} x {cost.training_hours_per_job} h at "
            f"${cost.training_usd_per_instance_hour}/h on demand{spot}",
        ),
        (
            "Endpoint per day",
            f"{_usd(cost.endpoint_per_day_min_usd)} at {cost.endpoint_min_instances}, "
            f"{_usd(cost.endpoint_per_day_max_usd)} at {cost.endpoint_max_instances} x "
            f"{cost.endpoint_instance_type}",
        ),
        ("Prices", f"on-demand, {cost.region}, price table of {cost.prices_as_of}"),
    ]


def _metric(name: str | None, value: float | None) -> str | None:
    return f"{name} = {value:g}" if name is not None and value is not None else None


def _billable(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return f"{seconds} s" + (f" ({duration(seconds)})" if seconds >= 60 else "")


# DescribeLabelingJob's LabelCounters and DescribeHyperParameterTuningJob's TrainingJobStatusCounters.
_COUNTER_LABELS = {
    "TotalLabeled": "Images labeled",
    "HumanLabeled": "Labeled by workers",
    "MachineLabeled": "Labeled automatically",
    "FailedNonRetryableError": "Could not be labeled",
    "Unlabeled": "Not labeled yet",
    "Completed": "Training jobs completed",
    "InProgress": "Training jobs running",
    "RetryableError": "Training jobs failed (retryable)",
    "NonRetryableError": "Training jobs failed",
    "Stopped": "Training jobs stopped",
}


def _counter_figures(counters: Mapping[str, int]) -> list[tuple[str, str | int | None]]:
    return [(_COUNTER_LABELS.get(name, name), count) for name, count in counters.items()]


def _training_figures(facts: TrainingJobFacts | None) -> list[tuple[str, str | int | None]]:
    if facts is None:
        return []
    savings = facts.spot_savings_percent
    instances = (
        f"{facts.instance_count} x {facts.instance_type}"
        if facts.instance_count and facts.instance_type
        else None
    )
    return [
        ("Training instances", instances + (" (spot)" if facts.spot else "") if instances else None),
        ("Training time", duration(facts.training_seconds)),
        ("Billable seconds", _billable(facts.billable_seconds)),
        ("Spot savings", f"{savings:g}%" if savings is not None else None),
    ]


def _training_links(lookup: SageMakerLookup, name: str | None) -> list[tuple[str, str | None]]:
    if not name:
        return []
    return [
        (f"Training job {name}", lookup.console_url(JobKind.TRAINING, name)),
        (f"Training logs of {name}", lookup.training_log_url(name)),
    ]


# ---------------------------------------------------------------- how the model was chosen


def comparison_table(rows: list[JobComparison], metric: str | None, total: int) -> list[str]:
    """The jobs compared as fixed-width columns, best first, the chosen one marked with *."""
    header = ["", "Job", "Status", metric or "Objective", "Duration", "Hyperparameters that differ"]
    cells = [
        [
            "*" if row.chosen else "",
            row.job_name,
            row.status,
            f"{row.objective_value:g}" if row.objective_value is not None else "-",
            duration(row.training_seconds) or "-",
            " ".join(f"{key}={value}" for key, value in row.hyperparameters.items()) or "-",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    if total > len(rows):
        lines.append(f"... and {total - len(rows)} more")
    return lines


def _choice_sections(body: EmailBody, choice: ModelChoice, metric: str | None, chosen_mark: str) -> None:
    """The chosen job's final metrics, then the comparison table (after the key figures)."""
    body.figures(
        [(name, f"{value:g}") for name, value in sorted(choice.final_metrics.items())], "Final metrics"
    )
    if choice.comparison:
        table = comparison_table(choice.comparison, metric, choice.jobs_compared)
        body.section(f"How the {choice.jobs_compared} jobs compared (best first; * {chosen_mark})", table)


def _live(value: float | None, model_name: str | None = None) -> str | None:
    if value is None:
        return None
    return f"{value:g}" + (f" ({model_name})" if model_name else "")


# ---------------------------------------------------------------- sagechain events


def _dataset_prepared(event: DatasetPrepared, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    provided = event.label_counts is not None
    body = EmailBody(f'Dataset "{event.dataset}" is prepared: run {event.run_id} has started.').happened(
        f"{event.objects} labeled images were written to the run's labeled manifest."
        if provided
        else f"{event.objects} images were listed in the run's Ground Truth input manifest."
        if event.labeling_mode == "ground-truth"
        else f"{event.objects} images were listed to be labeled in your own tool ({event.labeling_mode}).",
        *([f"Skipped (not used): {_counts(event.skipped)}."] if event.skipped else []),
    )
    body.figures(
        [
            ("Images", event.objects),
            ("Task", event.task),
            ("Labeling", event.labeling_mode),
            ("Labels", _counts(event.label_counts)),
            ("Labeling cost estimate", _estimate(event.cost_estimate)),
            *_worst_case(event.worst_case),
        ]
    ).links(
        [("Manifest", event.manifest_uri), ("Spec as accepted", event.spec_uri), ("Upload", event.source_uri)]
    )
    body.next(
        "Nothing: training starts from the labeled manifest. You get an email when it does."
        if provided
        else "Nothing: a Ground Truth labeling job starts next. You get an email with its console link."
        if event.labeling_mode == "ground-truth"
        else "Nothing yet: the next email says how to label the images in your own tool."
    )
    return "Dataset prepared", body


def _dataset_rejected(event: DatasetRejected, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f'Dataset "{event.dataset}" was rejected: nothing was started (run {event.run_id}).')
    body.reason(event.reason).figures(
        [
            ("Skipped files", _counts(event.skipped)),
            ("Labeling cost estimate", _estimate(event.cost_estimate)),
            *_worst_case(event.worst_case),
        ]
    ).links([("Dataset", event.dataset_uri), ("Upload", event.source_uri)])
    body.next(
        "Fix what the reason names, then upload dataset.json (or the .zip) again: that starts a new run.",
        "The dataset is kept exactly as uploaded, and nothing was written under runs/.",
    )
    return "Dataset rejected", body


def _labeling_started(event: LabelingStarted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    # Public and vendor workforces have no portal of the team's.
    portal_url = None
    if event.workforce == "private" and event.workteam_arn:
        portal_url = lookup.worker_portal(event.workteam_arn)
    body = EmailBody(f"Ground Truth labeling job {event.job_name} has started for {event.objects} images.")
    body.figures(
        [
            ("Images to label", event.objects),
            ("Task", event.task),
            ("Workforce", event.workforce),
            ("Automated labeling", "on" if event.auto_labeling else "off"),
            ("Labeling cost estimate", _estimate(event.cost_estimate)),
        ]
    ).links(
        [
            ("Workers' labeling portal", portal_url),
            ("Labeling job", event.console_url),
            ("Labels will be written to", event.output_uri),
        ]
    )
    if event.workforce == "private":
        portal = portal_url or "the labeling portal (SageMaker console, Labeling workforces, Private)"
        first = (
            f"Tell your work team: sign in at {portal} with the user name and temporary password from "
            "the invitation email (or your identity provider), then choose the job under Jobs and "
            "Start working. A worker not yet in the team is added in the console under Labeling "
            "workforces, Private."
        )
    else:
        first = "Workers of the chosen workforce pick the tasks up in their own portal."
    body.next(
        first,
        "When the job completes, training starts by itself. You get an email then, or if the job "
        "fails or is stopped.",
    )
    return "Labeling started", body


def _labeling_requested(event: LabelingRequested, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    tool = "Label Studio" if event.tool == "label-studio" else "CVAT"
    body = EmailBody(f"{event.objects} images wait to be labeled in {tool} ({event.task}).")
    body.figures(
        [("Images to label", event.objects), ("Task", event.task), ("Labels", ", ".join(event.labels))]
    )
    body.links(
        [
            ("Tasks to import", event.tasks_uri),
            ("Labeling config", event.config_uri),
            ("CVAT label specification", event.cvat_labels_uri),
            ("Images", event.images_uri),
            ("Annotations (target storage)", event.annotations_uri if event.tool == "label-studio" else None),
            ("Exports", event.exports_uri),
        ]
    )
    bucket = event.bucket
    annotations_prefix = event.annotations_uri.removeprefix(f"s3://{bucket}/")
    tasks_prefix = (event.tasks_uri or "").removeprefix(f"s3://{bucket}/").rsplit("/", 1)[0] + "/"
    if event.tool == "label-studio":
        body.next(
            "Create a Label Studio project; under Settings, Labeling Interface, Code, paste config.xml.",
            f"Settings, Cloud Storage, Add Source Storage: Amazon S3, bucket {bucket}, "
            f"prefix {tasks_prefix}, "
            "file filter regex tasks\\.json, 'Treat every bucket object as a source file' off, pre-signed "
            "URLs on (Label Studio signs each image link when it shows it, valid for the minutes you set "
            "there; tasks.json holds s3:// URIs, which never expire). Sync: one task per image.",
            f"Add Target Storage: Amazon S3, bucket {bucket}, prefix {annotations_prefix}. Sync it as you "
            "label: each annotation becomes one object there and the run counts it.",
            "When every image has an annotation (cancelled ones do not count), training starts by itself. "
            f"To finish early with what is labeled, upload an empty object to {event.done_uri}.",
            f"Or export the project (JSON, JSON-MIN or COCO) and upload the file under {event.exports_uri}.",
            "The README's labeling section has the IAM policy for Label Studio's AWS user.",
        )
    else:
        body.next(
            "Create a CVAT task; under Labels, Raw, paste cvat/labels.json.",
            f"Attach the images from cloud storage: {event.images_uri} (CVAT's COCO export carries shapes, "
            "not tags: for classification draw one rectangle per image with its class).",
            "When done, export the task as COCO 1.0 and upload the annotations JSON under "
            f"{event.exports_uri}: training starts by itself.",
        )
    return "Labeling started", body


def _labeling_completed(event: LabelingCompleted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"Labeling is complete: {event.labeled} of {event.total} images are labeled.")
    body.happened(f"Completed by {event.completed_by}; the labeled manifest was written.")
    body.figures(
        [
            ("Labeled images", f"{event.labeled} of {event.total}"),
            ("Labels", _counts(event.label_counts)),
            ("Left out", _counts(event.skipped)),
        ]
    ).links([("Labeled manifest", event.manifest_uri), ("From", event.source_uri)])
    body.next("Nothing: training starts from the labeled manifest. You get an email when it does.")
    return "Labeling completed", body


def _labels_rejected(event: LabelsRejected, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"Labels uploaded for run {event.run_id} could not be used: nothing changed.")
    body.reason(event.reason).figures([("Left out", _counts(event.skipped))]).links(
        [("File", event.source_uri)]
    )
    body.next("Fix what the reason names and upload the file again; the run waits for it.")
    return "Labels rejected", body


def _aws_error_figures(error: AwsErrorExplanation) -> list[tuple[str, str | int | None]]:
    return [
        ("AWS error", f"{error.code} ({error.service} {error.operation})"),
        ("Quota", error.quota_name),
        ("Retried", "yes" if error.retryable else "no: trying again cannot succeed until this is fixed"),
    ]


def _aws_error_links(error: AwsErrorExplanation) -> list[tuple[str, str | None]]:
    return [("Request a quota increase (Service Quotas)", error.quota_console_url)]


def _labeling_failed(event: LabelingFailed, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    error = event.error
    body = EmailBody(
        f"Labeling did not start for run {event.run_id}: SageMaker refused to create labeling job "
        f"{event.job_name} because {error.cause}."
    ).happened(error.meaning)
    body.reason(f"{error.code}: {error.message}").figures(
        [*_aws_error_figures(error), ("Labeling cost estimate", _estimate(event.cost_estimate))]
    ).links(_aws_error_links(error))
    body.next(error.fix, "Nothing was charged: the labeling job does not exist.")
    return "Labeling failed", body


def _refused_lines(event: TrainingStarted | TrainingFailed) -> list[str]:
    lines = []
    for job in event.refused:
        which = f"Set {job.hyperparameter_set} " if job.hyperparameter_set is not None else ""
        lines.append(f"{which}{job.job_name}: {job.error.code}: {job.error.message}")
    return lines


def _training_failed(event: TrainingFailed, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    error = event.error
    first, count = event.refused[0], len(event.refused)
    kind = "hyperparameter tuning" if first.tuning else "training"
    what = f"{kind} job {first.job_name}" if count == 1 else f"all {count} training jobs"
    body = EmailBody(
        f"Training did not start for run {event.run_id}: SageMaker refused to create {what} because "
        f"{error.cause}."
    ).happened(error.meaning)
    body.reason("\n".join(_refused_lines(event))).figures(
        [
            *_aws_error_figures(error),
            ("Instances asked for", f"{event.instance_count} x {event.instance_type}"),
        ]
    ).links(
        [
            *_aws_error_links(error),
            *(
                [("Labeling job", lookup.console_url(JobKind.LABELING, event.labeling_job_name))]
                if event.labeling_job_name
                else []
            ),
        ]
    )
    body.next(error.fix, "Nothing trains and nothing is charged for this run: no training job exists.")
    return "Training failed", body


def _training_started(event: TrainingStarted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    if event.tuning_job_name:
        headline = f"Hyperparameter tuning job {event.tuning_job_name} has started."
    else:
        count = len(event.job_names)
        headline = f"{count} training job{'s' if count != 1 else ''} started: {', '.join(event.job_names)}."
    if event.refused:
        refused = len(event.refused)
        headline += (
            f" SageMaker refused {refused} hyperparameter set{'s' if refused != 1 else ''} because "
            f"{event.refused[0].error.cause}; the others train."
        )
    body = EmailBody(headline)
    if event.refused:
        body.section("Refused", _refused_lines(event))
    body.figures(
        [
            ("Algorithm", event.algorithm),
            (
                "Instances",
                f"{event.instance_count} x {event.instance_type}" + (" (spot)" if event.spot else ""),
            ),
            ("Training images", event.train_objects),
            ("Validation images", event.validation_objects),
            ("Dropped from the manifest", _counts(event.dropped)),
        ]
    )
    links: list[tuple[str, str | None]] = []
    if event.tuning_job_name:
        links.append(
            (f"Tuning job {event.tuning_job_name}", lookup.console_url(JobKind.TUNING, event.tuning_job_name))
        )
    for name in event.job_names:
        links.extend(_training_links(lookup, name))
    refused_fix = [f"For the refused sets: {event.refused[0].error.fix}"] if event.refused else []
    body.links([*links, *(_aws_error_links(event.refused[0].error) if event.refused else [])]).next(
        "Nothing. When training completes, the quality gate decides whether the model is deployed: "
        'you get "Deployment started" or "Deployment rejected".'
        + (" Only the jobs that started are compared." if event.refused else ""),
        "A job that fails or is stopped is emailed too.",
        *refused_fix,
    )
    return "Training started", body


def _training_skipped(event: TrainingSkipped, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"Nothing was trained for run {event.run_id}.").reason(event.reason)
    if event.labeling_job_name:
        body.links([("Labeling job", lookup.console_url(JobKind.LABELING, event.labeling_job_name))])
    body.next(
        "Check the labeling job's output, add or relabel images, then upload dataset.json again "
        "to start a new run."
    )
    return "Training skipped", body


def _deployment_started(event: DeploymentStarted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    verb = "created" if event.action == "create" else "updated"
    body = EmailBody(
        f"The model trained by {event.training_job_name} passed the quality gate: "
        f"endpoint {event.endpoint_name} is being {verb}."
    )
    if event.chosen_because:
        body.section("Why this model", [f"{event.training_job_name}: {event.chosen_because}."])
    body.figures(
        [
            ("Metric", _metric(event.metric_name, event.metric_value)),
            ("Live model's value", _live(event.live_value, event.live_model_name)),
            ("Model", event.model_name),
            ("Endpoint configuration", event.endpoint_config_name),
            ("Endpoint instance type", event.instance_type),
            *_training_figures(lookup.training_job(event.training_job_name)),
        ]
    )
    _choice_sections(body, event, event.metric_name, "deployed")
    body.links([("Endpoint", event.console_url), *_training_links(lookup, event.training_job_name)])
    body.next(
        'Nothing. When the endpoint is in service, autoscaling is set up and you get "Model live" with '
        "the predict URL."
        + (" The model live now keeps serving until then." if event.action == "update" else "")
    )
    return "Deployment started", body


def _deployment_rejected(event: DeploymentRejected, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"The model trained by {event.training_job_name} was not deployed.").reason(event.reason)
    if event.chosen_because:
        body.section(
            "Why this model was the candidate", [f"{event.training_job_name}: {event.chosen_because}."]
        )
    body.figures(
        [
            ("Metric", _metric(event.metric_name, event.metric_value)),
            ("Minimum required", f"{event.minimum:g}" if event.minimum is not None else None),
            ("Live model's value", f"{event.live_value:g}" if event.live_value is not None else None),
            *_training_figures(lookup.training_job(event.training_job_name)),
        ]
    )
    _choice_sections(body, event, event.metric_name, "judged by the quality gate")
    body.links(_training_links(lookup, event.training_job_name))
    body.next(
        "Whatever is live keeps serving.",
        "For a better model: more or cleaner labels, other hyperparameters or a tuning job (training in "
        "dataset.json); or change the gate (deployment.min_objective_metric; whether a worse model may "
        "replace a live one is the stack parameter AllowWorseModel). Then upload dataset.json again.",
    )
    return "Deployment rejected", body


def _deployment_waiting(event: DeploymentWaiting, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    ahead = f" {event.waiting_behind} earlier deployment(s) go first." if event.waiting_behind else ""
    body = EmailBody(
        f"Endpoint {event.endpoint_name} is {event.endpoint_status}, busy with another change: the model "
        f"trained by {event.training_job_name} is deployed as soon as the endpoint is back in service.{ahead}"
    )
    body.figures(
        [
            ("Model", event.model_name),
            ("Endpoint configuration", event.endpoint_config_name),
            ("Endpoint status", event.endpoint_status),
        ]
    ).links([("Endpoint", event.console_url), *_training_links(lookup, event.training_job_name)])
    body.next('Nothing. You get "Deployment started" when the endpoint takes this model.')
    return "Deployment waiting", body


def _deployment_failed(event: DeploymentFailed, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    error = event.aws_error
    if error is not None:
        # The cause first: what AWS refused and why, in plain words; the verbatim message below.
        body = EmailBody(
            f"Endpoint {event.endpoint_name} could not be deployed: SageMaker refused {error.operation} "
            f"because {error.cause}."
        ).happened(error.meaning)
        body.reason(f"{error.code}: {error.message}").figures(_aws_error_figures(error))
        body.links([("Endpoint", event.console_url), *_aws_error_links(error)]).next(error.fix)
        return "Deployment failed", body
    body = EmailBody(f"Endpoint {event.endpoint_name} could not be deployed: {event.reason}").reason(
        event.reason
    )
    body.links([("Endpoint", event.console_url)]).next(
        f"Read the endpoint's logs (CloudWatch log group /aws/sagemaker/Endpoints/{event.endpoint_name}).",
        "An endpoint in Failed status can only be deleted (aws sagemaker delete-endpoint --endpoint-name "
        f"{event.endpoint_name}); an update that failed leaves the previous model serving.",
        "Fix the cause (instance type, quota, model), then upload dataset.json again.",
    )
    return "Deployment failed", body


def _deployment_rolled_back(event: DeploymentRolledBack, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    fired = [a.alarm_name for a in event.alarms]
    body = EmailBody(
        f"The update of endpoint {event.endpoint_name} to model {event.model_name} was rolled back"
        f"{' by alarm ' + ', '.join(fired) if fired else ''}: {event.live_model_name} (run "
        f"{event.live_run_id}) stays live and keeps serving every request."
    ).happened(
        "SageMaker moved part of the traffic to the new model, a rollback alarm fired while it was watched, "
        "and all traffic went back to the model that was live."
    )
    body.reason(event.reason).figures(
        [
            ("Traffic shifting", event.traffic),
            *[
                (
                    f"Alarm {a.alarm_name}",
                    f"{a.metric}: {', '.join(f'{v:g}' for v in a.values) or 'see reason'}"
                    f"{f' (threshold {a.threshold:g})' if a.threshold is not None else ''}; {a.reason}",
                )
                for a in event.alarms
            ],
            ("Model that stays live", f"{event.live_model_name} (run {event.live_run_id})"),
        ]
    )
    body.links([("Endpoint", event.console_url)]).next(
        f"Look at why {event.model_name} failed or slowed down: its endpoint logs (CloudWatch log group "
        f"/aws/sagemaker/Endpoints/{event.endpoint_name}) and the alarm's metric.",
        "Nothing else: callers were served by the live model all along, and the rolled-back model was not "
        "promoted. Fix it and upload dataset.json again to try a new model.",
    )
    return "Deployment rolled back", body


def _hourly_cost(cost: EndpointHourlyCost | None) -> str:
    if cost is None:
        return "unknown: the price table has no price for this instance type here (InstancePriceOverrides)"
    return (
        f"{_usd(cost.min_usd_per_hour)}/hour at {cost.min_instances}, {_usd(cost.max_usd_per_hour)}/hour at "
        f"{cost.max_instances} x {cost.instance_type} (on-demand, {cost.region}, price table of "
        f"{cost.prices_as_of}), billed while the endpoint exists, used or not"
    )


def _expiry(expires_at: datetime | None) -> str:
    if expires_at is None:
        return "never: the endpoint bills until someone deletes it (deployment.ttl_hours 0)"
    return (
        f"{expires_at.strftime('%Y-%m-%d %H:%M:%S')} UTC (deployment.ttl_hours): the endpoint, its "
        "configurations and models are deleted then"
    )


def _model_live(event: ModelLive, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"Model {event.model_name} is live on endpoint {event.endpoint_name}.")
    if event.chosen_because:
        body.section("Why this model", [f"{event.chosen_because}."])
    body.figures(
        [
            ("Endpoint instance type", event.instance_type),
            ("Autoscaling", f"{event.min_instances} to {event.max_instances} instances"),
            ("Traffic", event.traffic),
            ("Instances before the update", event.instances_before),
            ("Instances now", event.instances_after),
            ("Endpoint cost", _hourly_cost(event.hourly_cost)),
            ("Endpoint deleted at", _expiry(event.expires_at)),
        ]
    )
    body.figures(
        [(name, f"{value:g}") for name, value in sorted(event.final_metrics.items())], "Final metrics"
    )
    keep = (
        [
            "To keep the endpoint longer, upload dataset.json again (the new model going live restarts "
            "the count), or set a larger deployment.ttl_hours (0: never) before that upload."
        ]
        if event.expires_at is not None
        else []
    )
    commands = delete_endpoint_commands(event.endpoint_name, event.endpoint_config_name, event.model_name)
    body.links([("Predict (POST)", event.predict_url), ("Endpoint", event.console_url)]).next(
        f"Send images to POST {event.predict_url}, signed with your AWS credentials (the API uses IAM "
        "auth; curl --aws-sigv4 or any SigV4 client works).",
        "Uploading the dataset again trains a new model; it replaces this one only if it passes "
        "the quality gate.",
        "To stop the bill, delete the endpoint: " + "; ".join(commands) + " (or DELETE "
        f"{event.predict_url.removesuffix('/predict')}, the API's delete route, once your stack has it).",
        *keep,
    )
    return "Model live", body


def _run_stopped(event: RunStopped, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    who = f" by {event.requested_by}" if event.requested_by else ""
    body = EmailBody(f"Run {event.run_id} was stopped{who} at its {event.stage} stage.")
    body.figures(
        [
            *[(f"Stopping {job.kind} job", job.name) for job in event.stopped_jobs],
            ("Cancelled deployment to endpoint", event.cancelled_deployment),
        ]
    )
    jobs = event.stopped_jobs
    body.links([(job.name, lookup.console_url(STOPPED_KINDS[job.kind], job.name)) for job in jobs])
    body.next(
        "Nothing: SageMaker stops the jobs within minutes and bills only the time they ran. Whatever "
        "model is live keeps serving.",
        f"To start it again from where it stopped: POST /runs/{event.run_id}/retry (it reuses what "
        "earlier stages produced).",
    )
    return "Run stopped", body


_RETRY_STARTS = {
    "labeling": "a new Ground Truth labeling job for the run's images (billed again)",
    "training": "new training jobs on the run's labeled data, split as before",
    "deployment": "the run's trained model, deployed again without retraining",
}


def _run_retried(event: RunRetried, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    who = f" by {event.requested_by}" if event.requested_by else ""
    body = EmailBody(
        f"Run {event.run_id} was retried{who}: attempt {event.attempt} starts at its {event.from_stage} "
        f"stage with {_RETRY_STARTS[event.from_stage]}."
    )
    body.figures(
        [
            ("Attempt", str(event.attempt)),
            ("Previous attempt", f"{event.previous_status} at its {event.previous_stage} stage"),
            ("Labels reused from", event.labeling_job_name),
            ("Training jobs reused", ", ".join(event.reused_jobs) or None),
        ]
    )
    body.next(
        f"Nothing: the stage's own email follows when it starts. Its jobs' names end in -a{event.attempt}.",
        f"GET /runs/{event.run_id} shows every attempt's history; POST /runs/{event.run_id}/stop stops it.",
    )
    return "Run retried", body


def _model_deleted(event: ModelDeleted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    who = f" by {event.requested_by}" if event.requested_by else ""
    body = EmailBody(
        f"Model {event.model_name} was deleted{who}: endpoint {event.endpoint_name} is gone and "
        f"POST /models/{event.endpoint_name}/predict answers 404."
    )
    body.figures(
        [
            ("Endpoint configurations deleted", ", ".join(event.deleted_endpoint_configs) or None),
            ("Models deleted", ", ".join(event.deleted_models) or None),
            ("Autoscaling deregistered", ", ".join(event.deregistered_variants) or None),
            ("Expiry schedule deleted", event.deleted_expiry_schedule),
        ]
    )
    body.next(
        "Nothing: the endpoint no longer costs anything. Training artifacts stay under runs/.",
        "To serve this dataset again, upload its dataset.json again: the new run deploys a new endpoint.",
    )
    return "Model deleted", body


def _model_rolled_back(event: ModelRolledBack, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    who = f" by {event.requested_by}" if event.requested_by else ""
    body = EmailBody(
        f"Endpoint {event.endpoint_name} is being rolled back{who}: model {event.model_name} (run "
        f"{event.run_id}) replaces {event.replaced_model_name} (run {event.replaced_run_id})."
    )
    body.figures([("Endpoint configuration", event.endpoint_config_name)])
    body.links([("Endpoint", lookup.console_url(JobKind.ENDPOINT, event.endpoint_name))])
    body.next(
        "Nothing. The model live until now keeps serving until the endpoint is updated; autoscaling is "
        "set up again for the previous model when it is back in service.",
        "Rolling back again puts the model you rolled away from back.",
    )
    return "Model rolled back", body


def _model_expired(event: ModelExpired, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(
        f"Endpoint {event.endpoint_name} expired: deployment.ttl_hours after model {event.model_name} went "
        "live, the endpoint was deleted, so it no longer bills and its predict URL answers 404."
    ).figures(
        [
            ("Due at", f"{event.expires_at.strftime('%Y-%m-%d %H:%M:%S')} UTC"),
            ("Deleted", "; ".join(event.deleted) or "nothing"),
            ("Not deleted", "; ".join(event.not_deleted) or "nothing"),
        ]
    )
    body.links([("Endpoint", event.console_url)])
    steps = ["Upload dataset.json again to train and deploy a new model on this endpoint."]
    if event.not_deleted:
        steps.insert(
            0, "AWS refused some deletions: delete what is listed above by hand (README, Costs and teardown)."
        )
    body.next(*steps)
    return "Model expired", body


def _batch_started(event: BatchStarted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(
        f"Batch {event.batch_name} started: transform job {event.transform_job_name} scores "
        f"{event.images} images with model {event.model_name} (endpoint {event.model} is not touched)."
    ).figures(
        [
            ("Images", event.images),
            ("Skipped files", _counts(event.skipped)),
            ("Instances", f"{event.instance_count} x {event.instance_type}"),
            ("Content type", event.content_type),
            (
                "Worst-case cost",
                f"{event.cost_estimate.max_usd} USD" if event.cost_estimate else "price unknown",
            ),
        ]
    )
    body.links([("Transform job", event.console_url), ("Batch", event.batch_uri)])
    body.next("Nothing to do: an email follows when the predictions are written.")
    return "Batch started", body


def _batch_rejected(event: BatchRejected, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(f"Batch {event.batch_name} for model {event.model} was rejected: nothing was started.")
    body.reason(event.reason)
    if event.skipped:
        body.figures([("Skipped files", _counts(event.skipped))])
    body.links([("Batch (kept as uploaded)", event.batch_uri)])
    body.next("Fix what the reason says, then upload batch.json again to start the batch.")
    return "Batch rejected", body


def _batch_completed(event: BatchCompleted, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(
        f"Batch {event.batch_name} completed: {event.scored} of {event.images} images scored "
        f"by transform job {event.transform_job_name}."
    ).figures(
        [
            ("Images scored", event.scored),
            ("Images failed", event.failed),
            ("Predictions per label", _counts(event.label_counts)),
        ]
    )
    body.links(
        [
            ("Predictions (one JSON line per image)", event.predictions_uri),
            ("Summary (counts, failed images and why)", event.summary_uri),
            ("Transform job", event.console_url),
        ]
    )
    body.next(
        "Failed images are listed in the summary with the reason; upload them as a new batch to retry."
        if event.failed
        else "Nothing to do."
    )
    return "Batch completed", body


def _batch_failed(event: BatchFailed, lookup: SageMakerLookup) -> tuple[str, EmailBody]:
    body = EmailBody(
        f"Batch {event.batch_name} failed: transform job {event.transform_job_name} {event.status}."
    )
    body.reason(event.reason)
    body.links([("Transform job", event.console_url), ("Batch", event.batch_uri)])
    body.next("Fix the cause, then upload batch.json again under a new batch name.")
    return "Batch failed", body


_SAGECHAIN_EMAILS: dict[type[SagechainEvent], Callable[[Any, SageMakerLookup], tuple[str, EmailBody]]] = {
    DatasetPrepared: _dataset_prepared,
    DatasetRejected: _dataset_rejected,
    LabelingStarted: _labeling_started,
    LabelingFailed: _labeling_failed,
    LabelingRequested: _labeling_requested,
    LabelingCompleted: _labeling_completed,
    LabelsRejected: _labels_rejected,
    TrainingStarted: _training_started,
    TrainingFailed: _training_failed,
    TrainingSkipped: _training_skipped,
    DeploymentWaiting: _deployment_waiting,
    DeploymentStarted: _deployment_started,
    DeploymentRejected: _deployment_rejected,
    DeploymentFailed: _deployment_failed,
    DeploymentRolledBack: _deployment_rolled_back,
    ModelLive: _model_live,
    RunStopped: _run_stopped,
    RunRetried: _run_retried,
    ModelDeleted: _model_deleted,
    ModelRolledBack: _model_rolled_back,
    ModelExpired: _model_expired,
    BatchStarted: _batch_started,
    BatchRejected: _batch_rejected,
    BatchCompleted: _batch_completed,
    BatchFailed: _batch_failed,
}


def _uploader_of(event: SagechainEvent, store: ObjectStore) -> str | None:
    # The upload's own events say who uploaded; later stages' emails ask run.json.
    if isinstance(event, DatasetPrepared | DatasetRejected):
        return uploader(event.uploaded_by, event.uploaded_from)
    info = run_info(event.run_id, store)
    return None if info is None else uploader(info.uploaded_by, info.uploaded_from)


# Emails about a run whose training has produced something link to its artifacts route.
_WITH_ARTIFACTS = (DeploymentStarted, DeploymentRejected, DeploymentFailed, DeploymentWaiting, ModelLive)


def _artifacts_link(body: EmailBody, run_id: str, operator_api_url: str | None) -> None:
    if operator_api_url:
        body.links(
            [("Models, output data, manifests and logs", f"{operator_api_url}/runs/{run_id}/artifacts")]
        )


def _sagechain_email(
    delivery: SagechainDelivery, lookup: SageMakerLookup, store: ObjectStore, operator_api_url: str | None
) -> Email:
    event = delivery.event
    stage, body = _SAGECHAIN_EMAILS[type(event)](event, lookup)
    if isinstance(event, _WITH_ARTIFACTS):
        _artifacts_link(body, event.run_id, operator_api_url)
    return Email(
        key=delivery.about,
        subject=subject_line(event.dataset, stage, event.run_id),
        body=body.render(event.run_id, event.dataset, delivery.at, _uploader_of(event, store)),
    )


# ---------------------------------------------------------------- SageMaker failures


def _verb(status: str) -> str:
    return "failed" if status == FAILED else "was stopped"


_STOPPED_BECAUSE = {
    "MaxRuntimeExceeded": "It reached its maximum runtime: raise training.max_runtime_seconds.",
    "MaxWaitTimeExceeded": (
        "Spot capacity or the job did not finish within training.max_wait_seconds: raise it, or set "
        "training.spot to false."
    ),
}


def _labeling_failure(change: StateChange, lookup: SageMakerLookup) -> EmailBody:
    facts = lookup.labeling_job(change.name)
    body = EmailBody(f"Ground Truth labeling job {change.name} {_verb(change.status)}.")
    counters = facts.counters if facts else {}
    body.reason(change.failure_reason or (facts.failure_reason if facts else None))
    body.figures(_counter_figures(counters))
    body.links([("Labeling job", lookup.console_url(JobKind.LABELING, change.name))])
    body.next(
        "Labels already made are in the job's output. A labeling job does not resume: fix the cause "
        "(work team, instructions, input images), then upload dataset.json again to start a new run.",
        "Labels you already have can be provided instead (labeling.mode = provided).",
    )
    return body


def _training_failure(
    change: StateChange, facts: TrainingJobFacts | None, lookup: SageMakerLookup
) -> EmailBody:
    body = EmailBody(f"Training job {change.name} {_verb(change.status)}.")
    secondary = facts.secondary_status if facts else None
    body.reason(change.failure_reason or (facts.failure_reason if facts else None))
    status = f"{change.status} ({secondary})" if secondary and secondary != change.status else change.status
    body.figures([("Status", status), *_training_figures(facts)])
    body.links(_training_links(lookup, change.name))
    if change.status == FAILED:
        body.next(
            "Read the training log for the error. AlgorithmError usually means a hyperparameter or the "
            "data; ClientError, the job's configuration.",
            "Fix the training section of dataset.json, then upload dataset.json again to start a new run.",
        )
    else:
        body.next(
            _STOPPED_BECAUSE.get(secondary or "", "Someone stopped it."),
            "A stopped job does not resume: upload dataset.json again to start a new run.",
        )
    return body


def _tuning_failure(change: StateChange, lookup: SageMakerLookup) -> EmailBody:
    facts = lookup.tuning_job(change.name)
    body = EmailBody(f"Hyperparameter tuning job {change.name} {_verb(change.status)}.")
    body.reason(change.failure_reason or (facts.failure_reason if facts else None))
    figures = _counter_figures(facts.counters if facts else {})
    if facts and facts.best_training_job:
        figures.append(("Best training job", facts.best_training_job))
        figures.append(("Best metric", _metric(facts.best_metric_name, facts.best_metric_value)))
    body.figures(figures).links(
        [
            ("Tuning job", lookup.console_url(JobKind.TUNING, change.name)),
            *_training_links(lookup, facts.best_training_job if facts else None),
        ]
    )
    body.next(
        "Open the tuning job's training jobs in the console to see why they failed (each has its own log).",
        "Fix training.tuning (ranges, objective metric, max jobs) in dataset.json, then upload it again.",
    )
    return body


def _endpoint_failure(change: StateChange, lookup: SageMakerLookup) -> EmailBody:
    facts = lookup.endpoint(change.name)
    body = EmailBody(f"Endpoint {change.name} {_verb(change.status)}.")
    body.reason(change.failure_reason or (facts.failure_reason if facts else None))
    body.figures([("Endpoint configuration", change.endpoint_config_name)])
    body.links([("Endpoint", lookup.console_url(JobKind.ENDPOINT, change.name))]).next(
        f"Read the endpoint's logs (CloudWatch log group /aws/sagemaker/Endpoints/{change.name}).",
        "SageMaker allows only deleting a failed endpoint (aws sagemaker delete-endpoint --endpoint-name "
        f"{change.name}). Fix the cause, then upload dataset.json again.",
    )
    return body


def _retry_hint(run_id: str, kind: JobKind) -> str:
    """How to start the run again without uploading it, when the cause was not in the spec."""
    if kind is JobKind.LABELING:
        return (
            f"When the cause was not in dataset.json (a work team, a quota), POST /runs/{run_id}/retry"
            "?from=labeling starts a new labeling job for the same images (billed again)."
        )
    stage = "deployment" if kind is JobKind.ENDPOINT else "training"
    return (
        f"When the cause was not in dataset.json (capacity, a quota since raised, a stop), "
        f"POST /runs/{run_id}/retry starts the run again at its {stage} stage, reusing its labels"
        f"{' and its trained model' if stage == 'deployment' else ''}: nothing is labeled again. A "
        "changed dataset.json applies only to a new upload."
    )


def _state_change_email(
    change: StateChange, run: RunRef, lookup: SageMakerLookup, operator_api_url: str | None
) -> Email | None:
    if change.kind is JobKind.TRAINING:
        facts = lookup.training_job(change.name)
        if change.tuning_job_arn or (facts and facts.tuning_job_arn):
            return None  # a tuning job's trial: the tuning job reports
        body = _training_failure(change, facts, lookup)
    elif change.kind is JobKind.LABELING:
        body = _labeling_failure(change, lookup)
    elif change.kind is JobKind.TUNING:
        body = _tuning_failure(change, lookup)
    else:
        body = _endpoint_failure(change, lookup)
    body.next(_retry_hint(run.run_id, change.kind))
    if change.kind in {JobKind.TRAINING, JobKind.TUNING}:
        _artifacts_link(body, run.run_id, operator_api_url)
    stage = f"{change.kind.label} {'failed' if change.status == FAILED else 'stopped'}"
    return Email(
        key=change.about,
        subject=subject_line(run.dataset, stage, run.run_id),
        body=body.render(run.run_id, run.dataset, change.at, run.uploader),
    )


def compose_email(
    event: Mapping[str, Any],
    lookup: SageMakerLookup,
    store: ObjectStore,
    name_prefix: str,
    stack_name: str,
    stack_id: str,
    *,
    operator_api_url: str | None = None,
) -> Email | None:
    """The email an event deserves, or None (not ours, not a failure, or a kind we do not follow;
    a sagechain event must name this stack, `stack_id`, in its resources)."""
    incoming = parse_bus_event(event, stack_id)
    if incoming is None:
        return None
    if isinstance(incoming, SagechainDelivery):
        # One email when labeling completes, not one per annotation; a Stage Failed was emailed,
        # with its redrive, by report_failures, which published it.
        if isinstance(incoming.event, LabelingProgress | StageFailed):
            return None
        return _sagechain_email(incoming, lookup, store, operator_api_url)
    # Endpoints report failure as FAILED (api_status: Failed); only failures and stops are emailed.
    if incoming.status not in ALARMING_STATUSES:
        return None
    run = resolve_run(incoming, lookup, store, name_prefix, stack_name)
    if run is None:
        return None
    return _state_change_email(incoming, run, lookup, operator_api_url)


# ---------------------------------------------------------------- runs that stopped moving


def stale_run_email(record: RunRecord, now: datetime, stale_after_hours: int) -> Email:
    """One email for a run that has not moved for too long: where it stands, and what to look at."""
    run = record.run
    since = run.updated_at or run.created_at
    hours = int((now - since).total_seconds() // 3600)
    where = run.stage.value if run.stage else "its first stage"
    body = EmailBody(f"Run {run.run_id} has not moved for {hours} hours: it stands at {where}.").happened(
        f"No event has changed this run since {since.astimezone(UTC):%Y-%m-%d %H:%M UTC}, "
        f"and this stack reports runs quiet for {stale_after_hours} hours (stack parameter StaleRunHours).",
        *([f"Last: {run.summary}"] if run.summary else []),
    )
    open_jobs = [job for job in record.jobs if job.status not in TERMINAL_STATUSES]
    body.figures([(f"{job.kind.label} {job.name}", job.status) for job in record.jobs])
    body.links([(f"{job.kind.label} {job.name}", job.console_url) for job in open_jobs])
    own_tool = run.labeling_mode in ("label-studio", "cvat") and run.stage is Stage.LABELING
    body.next(
        (
            f"No annotation has arrived for {hours} hours: in Label Studio, sync the project's target "
            f"storage (prefix runs/{run.run_id}/label-studio/annotations/), or upload an export under "
            f"runs/{run.run_id}/labels/, or an empty runs/{run.run_id}/label-studio/done to train on what "
            "is labeled."
        )
        if own_tool
        else "Open the job or endpoint above: a labeling job waits for its workers, a training job may be "
        "waiting for spot capacity or stuck downloading data.",
        "Nothing here is stopped for you; the run goes on as soon as its next event arrives.",
    )
    return Email(
        key=f"stale#{run.run_id}#{since.isoformat()}",
        subject=subject_line(run.dataset, f"No progress for {hours} hours", run.run_id),
        body=body.render(run.run_id, run.dataset, now),
    )
