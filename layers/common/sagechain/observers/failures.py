"""report_failures: every event a failure queue parks is saved for redrive and emailed, once.

Several queues park what the chain could not do. RulesDeadLetterQueue holds events an EventBridge
rule could not deliver to its function (the function is missing, not allowed, throttled);
AsyncFailureQueue holds Lambda's on-failure destination records, events a function failed
on every attempt; each long stage's dead letter queue (PrepareDatasetDeadLetterQueue,
StartTrainingDeadLetterQueue, StartBatchDeadLetterQueue, CollectBatchDeadLetterQueue) holds
the events its queue delivered to it five times in vain, as they were, with no error attached
(the stage's log has it). Each parked message becomes one email that names the stage, the run,
the error in plain words and how to redrive the event, which is first written to the data
bucket under failures/ (no rule listens there). A parked event of one of a run's stages also
ends the run failed at that stage: "Stage Failed" on the bus, which track_run records (a redrive
that succeeds moves the run on again). The message shapes are event_sources.sqs's.
"""

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagechain import names
from sagechain.console import function_log_url
from sagechain.event_sources.s3 import objects_created
from sagechain.event_sources.sagemaker import state_change
from sagechain.event_sources.sqs import (
    AsyncFailureRecord,
    MalformedMessageError,
    SqsRecord,
    parked_message,
    sqs_records,
)
from sagechain.events import EVENT_SOURCE, StageFailed
from sagechain.layout import failure_key, run_of_key, uploaded_dataset
from sagechain.observability import count, logger
from sagechain.observers.email import Email, EmailBody, subject_line
from sagechain.ports import EmailSender, ObjectStore

# The functions an EventBridge rule invokes asynchronously, by the logical id that starts
# their physical name (CloudFormation names them <stack>-<LogicalId>-<suffix>): the stage
# each one is, in the words of the emails.
_STAGES = {
    "PrepareDatasetFunction": ("prepare_dataset", "Dataset preparation"),
    "StartLabelingFunction": ("start_labeling", "Labeling start"),
    "StartTrainingFunction": ("start_training", "Training start"),
    "DeployModelFunction": ("deploy_model", "Deployment"),
    "ConfigureAutoscalingFunction": ("configure_autoscaling", "Autoscaling setup"),
    "TrackRunFunction": ("track_run", "Run history and notification email"),
    "WatchRunsFunction": ("watch_runs", "Stale-run check"),
    "StartBatchFunction": ("start_batch", "Batch start"),
    "CollectBatchFunction": ("collect_batch", "Batch collection"),
    "CollectLabelsFunction": ("collect_labels", "Label collection"),
}

# The stages a run goes through, by the stage name above: where a parked event stops the run.
# (The batch stages fail their batch instead; track_run and watch_runs are no run's stage.)
_RUN_STAGES: dict[str, Literal["dataset", "labeling", "training", "deployment"]] = {
    "prepare_dataset": "dataset",
    "start_labeling": "labeling",
    "collect_labels": "labeling",
    "start_training": "training",
    "deploy_model": "deployment",
    "configure_autoscaling": "deployment",
}

# How many receives each failure queue allows before it moves a message on to
# ReportFailuresDeadLetterQueue (template.yaml's RedrivePolicy; tests/unit/test_report_failures.py
# checks they agree). A stage dead letter queue's message may arrive with its stage queue's 5
# receives already counted (moto keeps ApproximateReceiveCount; the SQS guide does not say AWS
# resets it), so that queue allows 5 more: report_failures has 5 tries either way.
FAILURE_QUEUE_MAX_RECEIVES = 5
STAGE_QUEUE_MAX_RECEIVES = 5
STAGE_DEAD_LETTER_MAX_RECEIVES = STAGE_QUEUE_MAX_RECEIVES + FAILURE_QUEUE_MAX_RECEIVES

# EventBridge's ERROR_CODE values (eb-rule-dlq.html), in plain words.
_DELIVERY_ERRORS = {
    "CONNECTION_FAILURE": "EventBridge could not connect to the function",
    "ERROR_FROM_TARGET": "Lambda refused the event",
    "INTERNAL_ERROR": "EventBridge had an internal error",
    "INVALID_JSON": "the event was not valid JSON for the function",
    "INVALID_PARAMETER": "EventBridge's request to Lambda was invalid",
    "NO_PERMISSIONS": "EventBridge was not allowed to invoke the function",
    "NO_RESOURCE": "the function does not exist (deleted, or renamed by a stack update)",
    "RESOURCE_LIMIT_EXCEEDED": "a Lambda limit was reached",
    "SDK_CLIENT_ERROR": "EventBridge's call to Lambda failed",
    "THROTTLING": "Lambda throttled every delivery (concurrency limit)",
    "TIMEOUT": "the delivery timed out",
    "TRANSIENT_ASYNC_FAILURE": "Lambda failed to accept the event",
}
# Lambda's destination record condition (invocation-async-retain-records.html).
_EVENT_TOO_OLD = "EventAgeExceeded"


class ParkedFailure(BaseModel):
    """One parked message: which stage failed, on which run, with what error, after how many tries."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    message_id: str
    queue: str
    kind: Literal["undelivered", "failed", "redelivered"]
    function_name: str | None
    region: str | None
    stage: str
    stage_label: str
    error_code: str | None
    error_message: str | None
    condition: str | None
    attempts: int | None
    failed_at: datetime
    run_id: str | None
    # The run attempt the event was for (a sagechain event's, a resource's sagechain:attempt tag).
    attempt: int = 1
    dataset: str | None
    about: str | None
    event: Any

    @property
    def redrive_function(self) -> str:
        """The function a redrive invokes (its name, or a placeholder to fill in)."""
        return self.function_name or "FUNCTION"

    @property
    def saved_key(self) -> str:
        """Where the event is kept: failures/<yyyy>/<mm>/<dd>/<function>/<message-id>.json."""
        return failure_key(self.failed_at, self.function_name or "unknown", self.message_id)


class _RunHint(BaseModel):
    run_id: str | None = None
    attempt: int = 1
    dataset: str | None = None
    about: str | None = None


class _SagechainDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    run_id: str | None = None
    attempt: int = Field(default=1, ge=1)
    dataset: str | None = None


def _arn_name(arn: str | None, kind: str) -> str | None:
    """The name in arn:aws:lambda:<region>:<account>:function:<name>[:qualifier], or in
    arn:aws:events:<region>:<account>:rule/[<bus>/]<name>."""
    if not arn:
        return None
    parts = arn.split(":")
    if kind == "function":
        return parts[6] if len(parts) >= 7 and parts[5] == "function" and parts[6] else None
    return parts[5].rsplit("/", 1)[-1] if len(parts) >= 6 and parts[5].startswith("rule/") else None


def _region(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def _stage(function_name: str | None, rule_name: str | None) -> tuple[str, str]:
    for name in (function_name, rule_name):
        for logical_id, stage in _STAGES.items():
            if name and logical_id in name:
                return stage
    shown = function_name or rule_name or "an unknown function"
    return shown, shown


def _run_hint(event: Any) -> _RunHint:
    """The run the original event names: a sagechain event's run_id, a runs/<run_id>/ or
    datasets/<name> key, a SageMaker resource's sagechain:run-id tag (else the resource)."""
    if not isinstance(event, Mapping):
        return _RunHint()
    try:
        if event.get("source") == EVENT_SOURCE:
            detail = _SagechainDetail.model_validate(event.get("detail") or {})
            return _RunHint(run_id=detail.run_id, attempt=detail.attempt, dataset=detail.dataset)
        if event.get("source") == "aws.s3":
            [ref] = objects_created(event)[:1]
            sealed = uploaded_dataset(ref.key)
            if sealed is not None:
                dataset = sealed[0]
                run_id = names.run_id(dataset, ref.bucket, ref.key, ref.version)
                return _RunHint(run_id=run_id, dataset=dataset, about=ref.uri)
            return _RunHint(run_id=run_of_key(ref.key), about=ref.uri)
        change = state_change(event)
        if change is not None:
            return _RunHint(
                run_id=change.tags.get(names.RUN_ID_TAG),
                attempt=names.attempt_of(change.tags),
                about=f"{change.kind.label} {change.name} ({change.status})",
            )
    except (ValidationError, ValueError):
        pass  # an event of a shape we do not know names no run; the email says so
    return _RunHint()


def _stage_dead_letter(record: SqsRecord, function_name: str) -> ParkedFailure:
    """A stage queue's event that moved to its dead letter queue: the body is the event."""
    try:
        event = json.loads(record.body)
    except ValueError as err:
        raise MalformedMessageError(f"the body is not JSON: {err}") from err
    stage, label = _stage(function_name, None)
    hint = _run_hint(event)
    return ParkedFailure(
        message_id=record.message_id,
        queue=record.queue_name,
        kind="redelivered",
        function_name=function_name,
        region=_region(record.event_source_arn),
        stage=stage,
        stage_label=label,
        error_code=None,
        error_message=None,
        condition="its queue's maxReceiveCount was reached",
        attempts=None,
        failed_at=record.sent_at or datetime.now(UTC),
        run_id=hint.run_id,
        attempt=hint.attempt,
        dataset=hint.dataset,
        about=hint.about,
        event=event,
    )


def parked_failure(record: SqsRecord, stage_queues: Mapping[str, str] | None = None) -> ParkedFailure:
    """A failure queue's message as a failure; MalformedMessageError when it is neither kind.
    `stage_queues` maps each stage dead letter queue's ARN to the function it backs."""
    stage_function = (stage_queues or {}).get(record.event_source_arn)
    if stage_function is not None:
        return _stage_dead_letter(record, stage_function)
    message = parked_message(record)
    if isinstance(message, AsyncFailureRecord):
        function_arn: str | None = message.function_arn
        rule_name = None
        kind: Literal["undelivered", "failed"] = "failed"
        code, text = message.error_type, message.error_message
        condition = message.request_context.condition
        attempts = message.request_context.approximate_invoke_count
        event, at = message.request_payload, record.sent_at or message.timestamp
    else:
        function_arn, rule_name = message.target_arn, _arn_name(message.rule_arn, "rule")
        kind = "undelivered"
        code, text = message.error_code, message.error_message
        condition, attempts = message.exhausted_retry_condition, message.retry_attempts
        event, at = message.event, record.sent_at
    function_name = _arn_name(function_arn, "function")
    stage, label = _stage(function_name, rule_name)
    hint = _run_hint(event)
    return ParkedFailure(
        message_id=record.message_id,
        queue=record.queue_name,
        kind=kind,
        function_name=function_name,
        region=_region(function_arn) or _region(record.event_source_arn),
        stage=stage,
        stage_label=label,
        error_code=code,
        error_message=text,
        condition=condition,
        attempts=attempts,
        # A hand-written message may carry no time; every real one does (SentTimestamp).
        failed_at=at or datetime.now(UTC),
        run_id=hint.run_id,
        attempt=hint.attempt,
        dataset=hint.dataset,
        about=hint.about,
        event=event,
    )


def _cause(failure: ParkedFailure) -> str:
    """The failure in one plain sentence."""
    if failure.kind == "undelivered":
        words = _DELIVERY_ERRORS.get(failure.error_code or "", f"delivery failed ({failure.error_code})")
        tries = f" after {failure.attempts} retries" if failure.attempts else ""
        return f"EventBridge could not deliver the event to {failure.stage}{tries}: {words}."
    if failure.kind == "redelivered":
        return (
            f"{failure.stage} failed on every delivery from its queue (5, about 16 minutes apart); "
            "its log says why."
        )
    if failure.condition == _EVENT_TOO_OLD:
        return f"{failure.stage} failed and the event grew too old for Lambda to retry it."
    tries = f"all {failure.attempts} attempts" if failure.attempts else "every attempt"
    return f"{failure.stage} failed on {tries}."


def redrive_command(bucket: str, key: str, function: str) -> str:
    """Two AWS CLI commands that fetch the saved event and invoke the function with it, as
    EventBridge does (asynchronously). --cli-binary-format raw-in-base64-out lets AWS CLI v2
    send the file's JSON as it is (https://docs.aws.amazon.com/cli/latest/reference/lambda/invoke.html)."""
    return (
        f"aws s3 cp s3://{bucket}/{key} event.json && aws lambda invoke --function-name {function} "
        "--invocation-type Event --cli-binary-format raw-in-base64-out --payload file://event.json out.json"
    )


def failure_email(failure: ParkedFailure, bucket: str) -> Email:
    """The one email a parked message deserves."""
    saved = f"s3://{bucket}/{failure.saved_key}"
    body = EmailBody(f"{failure.stage_label} did not finish. {_cause(failure)}")
    body.happened(
        "The event was parked in the failure queue "
        f"{failure.queue} and saved, exactly as {failure.stage} received it, to {saved}."
        if failure.kind != "undelivered"
        else f"The event was parked in the failure queue {failure.queue} and saved to {saved}.",
        f"It was about {failure.about}." if failure.about else "It names no run sagechain knows.",
        "Nothing retries it from here: the run stays where it stopped until you redrive the event.",
    )
    text = f"{failure.error_code}: {failure.error_message}" if failure.error_code else failure.error_message
    if failure.kind == "redelivered" and not text:
        text = f"The queue does not keep the error: read the log of {failure.function_name} (link below)."
    body.section("Reason", (text or "(no error message was recorded)").splitlines())
    body.figures(
        [
            ("Stage", failure.stage),
            ("Function", failure.function_name),
            ("Run", failure.run_id),
            ("Attempts" if failure.kind == "failed" else "Delivery retries", failure.attempts),
            ("Gave up because", failure.condition),
            ("Queue", failure.queue),
            ("Message id", failure.message_id),
        ]
    )
    logs = (
        function_log_url(failure.region, failure.function_name)
        if failure.region and failure.function_name
        else None
    )
    body.links([("Saved event", saved), (f"Logs of {failure.function_name}", logs)])
    body.next(
        "Read the reason (and the function's log) and fix its cause.",
        "Then redrive the event, in two commands:",
        f"  {redrive_command(bucket, failure.saved_key, failure.redrive_function)}",
        "Redriving is safe: a stage does not repeat work it already did for the same event.",
    )
    stage = f"{failure.stage_label} failed"
    return Email(
        key=failure.message_id,
        subject=subject_line(failure.dataset, stage, failure.run_id),
        body=body.render(failure.run_id, failure.dataset, failure.failed_at),
    )


def stage_failed(
    failure: ParkedFailure, bucket: str, dataset_of: Callable[[str], str | None]
) -> StageFailed | None:
    """The "Stage Failed" a parked event of a run's stage means; None for a stage that is no run's
    and for an event that names no run, or no dataset (`dataset_of` reads the run's, from run.json,
    when the event does not say)."""
    run_stage = _RUN_STAGES.get(failure.stage)
    if run_stage is None or failure.run_id is None:
        return None
    dataset = failure.dataset or dataset_of(failure.run_id)
    if dataset is None:
        return None
    return StageFailed(
        run_id=failure.run_id,
        attempt=failure.attempt,
        dataset=dataset,
        stage=failure.stage,
        stage_label=failure.stage_label,
        run_stage=run_stage,
        reason=_cause(failure),
        saved_event_uri=f"s3://{bucket}/{failure.saved_key}",
        message_id=failure.message_id,
    )


def report_failure(failure: ParkedFailure, store: ObjectStore, sender: EmailSender) -> Email:
    """Save the parked event under failures/, then email it: the save comes first, so an email
    always points at an event that exists."""
    store.put_bytes(failure.saved_key, json.dumps(failure.event, indent=2).encode(), "application/json")
    email = failure_email(failure, store.bucket)
    sender.send(email.subject, email.body)
    return email


def is_last_try(record: SqsRecord, stage_queues: Mapping[str, str] | None = None) -> bool:
    """Whether a failure queue's message is at its last receive before SQS moves it on to
    ReportFailuresDeadLetterQueue. Right whether SQS kept the count of the queue the message came
    from or reset it: either way the receive that reaches the queue's maxReceiveCount is the last
    (the next one moves it), though the number of tries before it differs."""
    received = record.attributes.get("ApproximateReceiveCount", "")
    limit = (
        STAGE_DEAD_LETTER_MAX_RECEIVES
        if record.event_source_arn in (stage_queues or {})
        else FAILURE_QUEUE_MAX_RECEIVES
    )
    return received.isdigit() and int(received) >= limit


def unreported_email(failure: ParkedFailure, error: BaseException) -> Email:
    """The last word on a failure report_failures could not save or email on its last try: what
    failed, and where the event waits (ReportFailuresDeadLetterQueue keeps it for 14 days)."""
    body = EmailBody(
        f"{failure.stage_label} did not finish, and report_failures could not save or report it "
        f"({type(error).__name__}: {str(error)[:300]})."
    )
    body.happened(
        f"The event, about {failure.about or 'no run sagechain knows'}, failed in {failure.stage}; it "
        f"was parked in {failure.queue}, and after report_failures' last try it moves on to "
        "ReportFailuresDeadLetterQueue (kept 14 days), whose alarm follows.",
    )
    body.figures(
        [
            ("Stage", failure.stage),
            ("Function", failure.function_name),
            ("Run", failure.run_id),
            ("Queue", failure.queue),
            ("Message id", failure.message_id),
        ]
    )
    body.next(
        "Read report_failures' log and fix its cause (the stage's log has the stage's error).",
        "Then move the message back to its queue with aws sqs start-message-move-task "
        "--source-arn <ReportFailuresDeadLetterQueue ARN>: report_failures reports it again.",
    )
    return Email(
        key=f"unreported#{failure.message_id}",
        subject=subject_line(failure.dataset, f"{failure.stage_label} failed, unreported", failure.run_id),
        body=body.render(failure.run_id, failure.dataset, failure.failed_at),
    )


def _tell_unreported(failure: ParkedFailure, error: Exception, send: Callable[[Email], object]) -> None:
    count("FailuresUnreported")
    try:
        send(unreported_email(failure, error))
    except Exception:  # SNS itself: the queue's alarm is the only word left
        logger.exception("could not email an unreported failure", extra={"message_id": failure.message_id})


def report_batch(
    event: Mapping[str, Any],
    report: Callable[[ParkedFailure], object],
    stage_queues: Mapping[str, str] | None = None,
    send: Callable[[Email], object] | None = None,
) -> dict[str, Any]:
    """Report each message of an SQS batch; the partial batch response names the messages to
    retry. A malformed message is logged and dropped: retrying it would fail the same way. On a
    message's last try, a report that fails still sends (`send`) a short email saying so."""
    retry = []
    for record in sqs_records(event):
        try:
            failure = parked_failure(record, stage_queues)
        except MalformedMessageError as err:
            count("MalformedFailureMessages")
            logger.error(
                "dropped a malformed failure message",
                extra={
                    "message_id": record.message_id,
                    "queue": record.queue_name,
                    "reason": str(err),
                    "body": record.body[:2000],
                },
            )
            continue
        try:
            report(failure)
        except Exception as err:
            # An S3 or SNS error: the message goes back to its queue, and after a few receives
            # to ReportFailuresDeadLetterQueue, whose alarm emails.
            last = is_last_try(record, stage_queues)
            logger.exception(
                "could not report a parked failure",
                extra={"message_id": record.message_id, "last_try": last},
            )
            retry.append({"itemIdentifier": record.message_id})
            if last and send is not None:
                _tell_unreported(failure, err, send)
            continue
        count("FailuresReported")
        logger.info(
            "reported a parked failure",
            extra={"message_id": record.message_id, "stage": failure.stage, "run_id": failure.run_id},
        )
    return {"batchItemFailures": retry}
