"""Events that can never succeed: malformed, forged, another stack's, too long. One place drops them.

A handler that raised on such an event would be retried by Lambda twice and then park it in
AsyncFailureQueue, and anyone in the account who may put events on the default bus could
fill that queue. So the event sources never raise on input: they log why, count the drop
(metric EventsDropped) and answer None or [], and the handler returns normally.

Bounds keep what an event names inside what the next service takes: DynamoDB keys at most
1,024 bytes for a sort key and 2,048 for a partition key, an item at most 400 KB ("Service,
account, and table quotas in Amazon DynamoDB",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html), and
SageMaker names at most 63 characters.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sagechain.observability import count, logger

DROPPED_METRIC = "EventsDropped"
# An identifier (a run id, a job or endpoint name) becomes part of a DynamoDB key
# (RUN#<run_id>, JOB#<kind>#<name>): well inside the 1,024-byte sort key.
IDENTIFIER_MAX_BYTES = 512
# A dataset name is the middle of an S3 key, which S3 holds to 1,024 bytes.
DATASET_MAX_BYTES = 1024
# Free text (reasons, summaries, URIs) is cut to this many characters, never dropped.
TEXT_MAX_CHARS = 4096
# A whole sagechain detail: the run item collects the facts of about ten event types, and
# DynamoDB holds an item to 400 KB.
DETAIL_MAX_BYTES = 32 * 1024
# SageMaker's names ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}) and ARNs (at most 256 characters).
SAGEMAKER_NAME_MAX = 63
SAGEMAKER_ARN_MAX = 256
_ELLIPSIS = "…"


def detail_type(event: object) -> str | None:
    """The event's detail-type for a log line, whatever the event is."""
    value = event.get("detail-type") if isinstance(event, Mapping) else None
    return value[:200] if isinstance(value, str) else None


def drop(event: object, reason: str, **extra: Any) -> None:
    """Log why an event is dropped (a warning with the reason) and count it (EventsDropped)."""
    source = event.get("source") if isinstance(event, Mapping) else None
    logger.warning(
        "event dropped",
        extra={
            "reason": reason,
            "source": source[:200] if isinstance(source, str) else None,
            "detail_type": detail_type(event),
            **extra,
        },
    )
    count(DROPPED_METRIC)


def invalid(err: ValidationError) -> str:
    """A validation error in a line: where and what, without the (possibly huge) input."""
    problems = []
    for error in err.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))[:200]
        problems.append(f"{where}: {error.get('msg', 'invalid')}"[:300])
    return "; ".join(problems) or "invalid"


def utf8_size(value: str) -> int | None:
    """A text's size in UTF-8 (DynamoDB counts key bytes so); None when it is not valid Unicode
    (a lone surrogate, which JSON allows and no AWS API takes)."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def fits(value: str, max_bytes: int) -> bool:
    """Whether a text is valid Unicode and at most max_bytes in UTF-8."""
    size = utf8_size(value)
    return size is not None and size <= max_bytes


def truncated(value: str, max_chars: int = TEXT_MAX_CHARS) -> str:
    """A text cut to max_chars, marked with an ellipsis when it was cut."""
    return value if len(value) <= max_chars else value[: max_chars - 1] + _ELLIPSIS
