"""EventBridge: puts `sagechain` events on the bus."""

from typing import TYPE_CHECKING

from sagechain.adapters.clients import events_client
from sagechain.errors import RetryableError
from sagechain.events import EVENT_SOURCE, SagechainEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class EventBridgePublisher:
    """Publishes sagechain events to one bus; a rejected entry is retried by the caller's retry.

    Every event names the stack that emitted it, its ARN (AWS::StackId), in `Resources`:
    the default bus is shared by every stack of the account, and the observers' rules match
    `resources: [<this stack's id>]` ("Arrays in Amazon EventBridge event patterns": a pattern
    on an array matches when the two arrays intersect,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html;
    PutEvents' Resources are ARNs the event concerns,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html).
    """

    def __init__(self, bus_name: str, stack_id: str, client: "EventBridgeClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start
        self._bus_name = bus_name
        self._stack_id = stack_id

    @property
    def _client(self) -> "EventBridgeClient":
        return self._given or events_client()

    def publish(self, event: SagechainEvent) -> None:
        """Put one event; raise RetryableError when EventBridge did not accept it."""
        response = self._client.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": event.DETAIL_TYPE,
                    "Detail": event.model_dump_json(),
                    "EventBusName": self._bus_name,
                    "Resources": [self._stack_id],
                }
            ]
        )
        if response.get("FailedEntryCount", 0):
            entry = response["Entries"][0]
            raise RetryableError(
                f"EventBridge rejected {event.DETAIL_TYPE}: "
                f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
