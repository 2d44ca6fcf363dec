"""Whether the emails reach anyone: an SNS email subscription does nothing until it is confirmed.

The stack subscribes NotificationEmail, and AWS sends that address a confirmation link;
until someone clicks it, every email sagechain sends goes nowhere. The status API says so
on every run it answers, and the run history records it on a run that starts that way.
"""

import time
from collections.abc import Callable

from sagechain.ports import EmailSubscriptions

UNCONFIRMED = (
    "No email address has confirmed the notification topic's subscription, so no email is "
    "delivered: open the message 'AWS Notification - Subscription Confirmation' sent to the "
    "stack's NotificationEmail and click 'Confirm subscription' (the stack output ConfirmEmail says so too)."
)


class EmailDelivery:
    """The topic's confirmed subscriptions, asked at most once per `ttl_seconds`."""

    def __init__(
        self,
        subscriptions: EmailSubscriptions,
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._subscriptions = subscriptions
        self._ttl = ttl_seconds
        self._clock = clock
        self._checked_at: float | None = None
        self._warning: str | None = None

    def warning(self) -> str | None:
        """What a person must do for emails to arrive, or None when someone receives them."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self._ttl:
            # Unknown (SNS did not answer) is not "unconfirmed": say nothing rather than cry wolf.
            self._warning = UNCONFIRMED if self._subscriptions.confirmed() == 0 else None
            self._checked_at = now
        return self._warning
