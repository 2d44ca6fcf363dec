"""A delivery on the default bus, as what it is about: a `sagechain` event or a SageMaker state change.

notify and track_run receive both sources through one rule each; this is the one place that
tells them apart. `sagechain` events are the contract in sagechain.events; SageMaker's
shapes are known only to event_sources.sagemaker.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sagechain.event_sources.sagemaker import SAGEMAKER_SOURCE, StateChange, state_change
from sagechain.events import EVENT_SOURCE, SAGECHAIN_EVENTS, SagechainEvent


class SagechainDelivery(BaseModel):
    """A `sagechain` event with the time EventBridge stamped on it."""

    model_config = ConfigDict(frozen=True)

    event: SagechainEvent
    at: datetime

    @property
    def about(self) -> str:
        """What the event is about: its type and run (each stage emits one per run)."""
        return f"{self.event.DETAIL_TYPE}#{self.event.run_id}"


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime
    detail: dict[str, Any]


_SAGECHAIN_BY_TYPE = {cls.DETAIL_TYPE: cls for cls in SAGECHAIN_EVENTS}


def parse_bus_event(event: Mapping[str, Any]) -> SagechainDelivery | StateChange | None:
    """A delivered EventBridge event as what it is about, or None for a kind sagechain does not follow."""
    envelope = _Envelope.model_validate(event)
    if envelope.source == EVENT_SOURCE:
        event_class = _SAGECHAIN_BY_TYPE.get(envelope.detail_type)
        if event_class is None:
            return None
        return SagechainDelivery(event=event_class.model_validate(envelope.detail), at=envelope.time)
    if envelope.source == SAGEMAKER_SOURCE:
        return state_change(event)
    return None
