"""SQS: Lambda's SQS event, and the two kinds of message the stack's failure queues hold.

The one place that knows these shapes:

- Lambda's SQS event: `Records`, each with messageId, receiptHandle, body, attributes
  (ApproximateReceiveCount, SentTimestamp in epoch milliseconds, ...), messageAttributes
  ({"NAME": {"stringValue": ..., "dataType": "String"}}) and eventSourceARN; with
  ReportBatchItemFailures, the function answers {"batchItemFailures": [{"itemIdentifier":
  <messageId>}]} and only those messages return to the queue ("Using Lambda with Amazon SQS",
  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, and "Handling errors for an SQS
  event source", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
- An event a rule sent to a stage queue (PrepareDatasetQueue, StartTrainingQueue): the body is
  the event itself, as EventBridge sends it to an SQS target; a message that outlived its
  queue's receives moves, unchanged, to the stage's dead letter queue.
- An event an EventBridge rule could not deliver (RulesDeadLetterQueue): the body is the event
  itself, and message attributes say why: RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
  EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS ("Event retry policy and using dead-letter queues",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
- A Lambda on-failure destination record (AsyncFailureQueue): version, timestamp,
  requestContext {requestId, functionArn, condition, approximateInvokeCount}, requestPayload
  (the event the function was invoked with), responseContext {statusCode, executedVersion,
  functionError} and responsePayload (the function's error: errorType, errorMessage, ...)
  ("Capturing records of Lambda asynchronous invocations",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).

Powertools' SqsModel is not used: importing it imports every parser model (149 ms on top of
pydantic, measured), and its record model requires fields (md5OfBody, awsRegion) that a
redriven or hand-written message may lack. These models are tolerant: what sagechain reads is
required, everything else is optional.
"""

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagechain.event_sources.drops import drop, invalid
from sagechain.observability import logger


class MalformedMessageError(ValueError):
    """A parked message that is neither an EventBridge dead letter nor a Lambda destination record."""


class SqsMessageAttribute(BaseModel):
    """One message attribute, as Lambda's SQS event spells it."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    data_type: str = Field(default="String", alias="dataType")
    string_value: str | None = Field(default=None, alias="stringValue")


class SqsRecord(BaseModel):
    """One message of a Lambda SQS event."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    message_id: str = Field(alias="messageId", min_length=1)
    body: str
    attributes: dict[str, str] = Field(default_factory=dict)
    message_attributes: dict[str, SqsMessageAttribute] = Field(
        default_factory=dict, alias="messageAttributes"
    )
    event_source_arn: str = Field(default="", alias="eventSourceARN")

    @property
    def queue_name(self) -> str:
        """The queue's name, the last part of its ARN."""
        return self.event_source_arn.rsplit(":", 1)[-1]

    @property
    def sent_at(self) -> datetime | None:
        """When the message was sent to the queue (SentTimestamp): the same on every receive."""
        sent = self.attributes.get("SentTimestamp")
        return datetime.fromtimestamp(int(sent) / 1000, UTC) if sent and sent.isdigit() else None

    def attribute(self, name: str) -> str | None:
        """A message attribute's string value, or None."""
        found = self.message_attributes.get(name)
        return found.string_value if found else None


class _SqsEvent(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    records: list[SqsRecord] = Field(alias="Records")


def sqs_records(event: Mapping[str, Any]) -> list[SqsRecord]:
    """The messages of a Lambda SQS event (raises ValidationError for any other event)."""
    return _SqsEvent.model_validate(event).records


class QueuedEvent(BaseModel):
    """One event a stage queue delivered: the message that carried it, and the event (None when
    the body is not a JSON object, which no retry can change)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    message_id: str
    receive_count: int | None
    event: dict[str, Any] | None


def is_sqs_event(event: object) -> bool:
    """Whether a Lambda event is an SQS batch (its records say `"eventSource": "aws:sqs"`); an S3
    notification has Records too, from `aws:s3`."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def queued_events(event: Mapping[str, Any]) -> list[QueuedEvent]:
    """The events an SQS batch from a stage queue carries, one per message."""
    queued = []
    for record in sqs_records(event):
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        count = record.attributes.get("ApproximateReceiveCount", "")
        queued.append(
            QueuedEvent(
                message_id=record.message_id,
                receive_count=int(count) if count.isdigit() else None,
                event=body if isinstance(body, dict) else None,
            )
        )
    return queued


def answer_batch(
    event: Mapping[str, Any], handle: Callable[[dict[str, Any]], object]
) -> dict[str, list[dict[str, str]]]:
    """Hand each queued event to `handle`; the partial batch response names the messages to
    retry. A handler error returns its message to the queue, where the visibility timeout times
    the retry and the RedrivePolicy bounds it; a body that is not an event is dropped."""
    try:
        queued = queued_events(event)
    except ValidationError as err:
        drop(event, f"not a Lambda SQS event: {invalid(err)}")
        return {"batchItemFailures": []}
    retry = []
    for item in queued:
        if item.event is None:
            drop(event, "the queued message's body is not a JSON object", message_id=item.message_id)
            continue
        try:
            handle(item.event)
        except Exception:
            logger.exception(
                "the stage failed on a queued event; it returns to the queue",
                extra={"message_id": item.message_id, "receive_count": item.receive_count},
            )
            retry.append({"itemIdentifier": item.message_id})
    return {"batchItemFailures": retry}


class RuleDeadLetter(BaseModel):
    """An event an EventBridge rule could not deliver to its target, and why."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    rule_arn: str | None
    target_arn: str | None
    error_code: str | None
    error_message: str | None
    exhausted_retry_condition: str | None
    retry_attempts: int | None
    event: dict[str, Any]


class _RequestContext(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    request_id: str | None = Field(default=None, alias="requestId")
    function_arn: str = Field(alias="functionArn", min_length=1)
    condition: str | None = None
    approximate_invoke_count: int | None = Field(default=None, alias="approximateInvokeCount")


class _ResponseContext(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    status_code: int | None = Field(default=None, alias="statusCode")
    executed_version: str | None = Field(default=None, alias="executedVersion")
    function_error: str | None = Field(default=None, alias="functionError")


class AsyncFailureRecord(BaseModel):
    """A Lambda on-failure destination record: an async invocation that failed all its attempts."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    version: str | None = None
    timestamp: datetime | None = None
    request_context: _RequestContext = Field(alias="requestContext")
    request_payload: Any = Field(alias="requestPayload")
    response_context: _ResponseContext | None = Field(default=None, alias="responseContext")
    response_payload: Any = Field(default=None, alias="responsePayload")

    @property
    def function_arn(self) -> str:
        """The function (and version) that failed."""
        return self.request_context.function_arn

    def _response(self, field: str) -> str | None:
        payload = self.response_payload
        value = payload.get(field) if isinstance(payload, dict) else None
        return value if isinstance(value, str) else None

    @property
    def error_type(self) -> str | None:
        """The error's type, as the runtime reported it (e.g. ClientError), when the function raised."""
        return self._response("errorType")

    @property
    def error_message(self) -> str | None:
        """The error's message: the function's own, or Lambda's (a timeout, a crashed runtime)."""
        return self._response("errorMessage")


def _rule_dead_letter(record: SqsRecord, body: dict[str, Any]) -> RuleDeadLetter:
    attempts = record.attribute("RETRY_ATTEMPTS")
    return RuleDeadLetter(
        rule_arn=record.attribute("RULE_ARN"),
        target_arn=record.attribute("TARGET_ARN"),
        error_code=record.attribute("ERROR_CODE"),
        error_message=record.attribute("ERROR_MESSAGE"),
        exhausted_retry_condition=record.attribute("EXHAUSTED_RETRY_CONDITION"),
        retry_attempts=int(attempts) if attempts and attempts.isdigit() else None,
        event=body,
    )


def parked_message(record: SqsRecord) -> RuleDeadLetter | AsyncFailureRecord:
    """What a failure queue's message holds; MalformedMessageError when it is neither kind."""
    try:
        body = json.loads(record.body)
    except ValueError as err:
        raise MalformedMessageError(f"the body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise MalformedMessageError(f"the body is JSON {type(body).__name__}, not an object")
    if "requestContext" in body and "requestPayload" in body:
        try:
            return AsyncFailureRecord.model_validate(body)
        except ValidationError as err:
            raise MalformedMessageError(f"not a Lambda destination record: {err}") from err
    if record.attribute("RULE_ARN") or record.attribute("TARGET_ARN"):
        return _rule_dead_letter(record, body)
    raise MalformedMessageError(
        "neither a Lambda destination record (requestContext, requestPayload) nor an EventBridge "
        "dead letter (RULE_ARN, TARGET_ARN attributes)"
    )


def keyed_message[M: BaseModel](event: Mapping[str, Any], key: str, model: type[M]) -> M | None:
    """The message a queued body carries under `key` ({key: {...}}, as the stage itself sent it);
    None when the body is not one, or its content is not a valid `model`."""
    body = event.get(key)
    if body is None:
        return None
    try:
        return model.model_validate(body)
    except ValidationError:
        return None
