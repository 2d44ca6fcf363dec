"""A delivery on the default bus, as what it is about: a `sagechain` event or a SageMaker state change.

track_run (the one observer: history, then email) receives both sources through its rules; this
is the one place that tells them apart, and decides which `sagechain` events are this stack's.
`sagechain` events are the contract in sagechain.events; SageMaker's
shapes are known only to event_sources.sagemaker.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sagechain.event_sources.drops import (
    DATASET_MAX_BYTES,
    DETAIL_MAX_BYTES,
    IDENTIFIER_MAX_BYTES,
    drop,
    fits,
    invalid,
    truncated,
)
from sagechain.event_sources.sagemaker import (
    SAGEMAKER_SOURCE,
    BusEnvelope,
    JobKind,
    StateChange,
    state_change,
)
from sagechain.events import EVENT_SOURCE, SAGECHAIN_EVENTS, BatchEvent, SagechainEvent


class SagechainDelivery(BaseModel):
    """A `sagechain` event with the time EventBridge stamped on it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    event: SagechainEvent
    at: datetime

    @property
    def about(self) -> str:
        """What the event is about: its type, run and attempt (each stage emits one per attempt); a
        batch's events, its own id too (a run's model scores many batches)."""
        about = f"{self.event.DETAIL_TYPE}#{self.event.run_id}"
        if isinstance(self.event, BatchEvent):
            about = f"{about}#{self.event.batch_id}"
        return about if self.event.attempt == 1 else f"{about}#a{self.event.attempt}"


_SAGECHAIN_BY_TYPE = {cls.DETAIL_TYPE: cls for cls in SAGECHAIN_EVENTS}


def _is_identifier(field: str) -> bool:
    return field == "run_id" or field.endswith(("_name", "_names"))


def _bounded_detail(detail: Mapping[str, Any]) -> dict[str, Any] | str:
    """The detail with its free text cut to size, or why it cannot be recorded at all.

    Identifiers (run_id, every *_name and *_names) become DynamoDB keys and SageMaker names:
    one too long is dropped, never cut, since a cut name would name something else.
    """
    try:
        size = len(json.dumps(detail, ensure_ascii=False).encode("utf-8"))
    except (UnicodeEncodeError, ValueError):
        return "the detail is not valid Unicode JSON"
    if size > DETAIL_MAX_BYTES:
        return f"the detail is {size} bytes, over the {DETAIL_MAX_BYTES} a run's record holds"
    bounded: dict[str, Any] = {}
    for field, value in detail.items():
        if _is_identifier(field):
            values = value if isinstance(value, list) else [value]
            if any(isinstance(item, str) and not fits(item, IDENTIFIER_MAX_BYTES) for item in values):
                return f"{field[:100]} is over {IDENTIFIER_MAX_BYTES} bytes"
        elif field == "dataset" and isinstance(value, str) and not fits(value, DATASET_MAX_BYTES):
            return f"dataset is over {DATASET_MAX_BYTES} bytes"
        bounded[field] = _cut_text(value)
    return bounded


def _cut_text(value: Any) -> Any:
    if isinstance(value, str):
        return truncated(value)
    if isinstance(value, list):
        return [_cut_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _cut_text(item) for key, item in value.items()}
    return value


def _sagechain_delivery(event: Mapping[str, Any], stack_id: str) -> SagechainDelivery | str:
    """A sagechain event of this stack, or why it is dropped."""
    try:
        envelope = BusEnvelope.model_validate(event)
    except ValidationError as err:
        return f"not an EventBridge event: {invalid(err)}"
    if stack_id not in envelope.resources:
        return "another stack's event (its resources do not name this stack)"
    event_class = _SAGECHAIN_BY_TYPE.get(envelope.detail_type)
    if event_class is None:
        return "not a detail-type sagechain emits"
    detail = _bounded_detail(envelope.detail)
    if isinstance(detail, str):
        return detail
    try:
        parsed = event_class.model_validate(detail)
    except ValidationError as err:
        return f"the detail does not match its detail-type: {invalid(err)}"
    return SagechainDelivery(event=parsed, at=envelope.time)


# The SageMaker resources of a run that the observers follow.
RUN_JOB_KINDS = (JobKind.LABELING, JobKind.TRAINING, JobKind.TUNING, JobKind.ENDPOINT)


def parse_bus_event(event: object, stack_id: str) -> SagechainDelivery | StateChange | None:
    """A delivered EventBridge event as what it is about, or None for a kind sagechain does not
    follow. A `sagechain` event that is malformed, too long, or not this stack's (its
    `resources` must hold `stack_id`, the ARN EventBridgePublisher puts there) is dropped:
    logged and counted, never raised on, so nobody can fill the failure queue with forgeries."""
    if not isinstance(event, Mapping):
        drop(event, "the event is not a JSON object")
        return None
    if event.get("source") == SAGEMAKER_SOURCE:
        # A transform job is told by its batch's own events (Batch Completed, Batch Failed).
        return state_change(event, *RUN_JOB_KINDS)
    if event.get("source") != EVENT_SOURCE:
        return None
    delivery = _sagechain_delivery(event, stack_id)
    if isinstance(delivery, str):
        drop(event, delivery)
        return None
    return delivery
