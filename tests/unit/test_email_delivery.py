"""Whether anyone receives the emails: asked of SNS at most every few minutes, never guessed."""

from sagechain.observers.email_delivery import UNCONFIRMED, EmailDelivery
from sagechain.observers.track_run import track_run
from tests.aws import sample_event
from tests.fakes import FakeSageMaker, MemoryStore, RecordingRunStore
from tests.runs import STACK_ID, STACK_NAME


class Subscriptions:
    """A topic whose confirmed count the test sets; counts how often it is asked."""

    def __init__(self, confirmed: int | None) -> None:
        self.count = confirmed
        self.asked = 0

    def confirmed(self) -> int | None:
        self.asked += 1
        return self.count


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_confirmed_subscription_is_a_warning_that_says_what_to_click() -> None:
    assert EmailDelivery(Subscriptions(0)).warning() == UNCONFIRMED
    assert "Confirm subscription" in UNCONFIRMED


def test_a_confirmed_subscription_or_an_unanswered_question_is_no_warning() -> None:
    assert EmailDelivery(Subscriptions(1)).warning() is None
    assert EmailDelivery(Subscriptions(None)).warning() is None


def test_sns_is_asked_again_only_after_the_cache_expires() -> None:
    subscriptions, clock = Subscriptions(0), Clock()
    delivery = EmailDelivery(subscriptions, ttl_seconds=300, clock=clock)

    delivery.warning()
    clock.now = 299
    delivery.warning()
    subscriptions.count = 1
    clock.now = 300

    assert delivery.warning() is None
    assert subscriptions.asked == 2


def test_a_run_that_starts_while_nobody_gets_emails_records_it_and_later_events_ask_nothing() -> None:
    runs, subscriptions = RecordingRunStore(), Subscriptions(0)
    delivery = EmailDelivery(subscriptions, ttl_seconds=0)

    track_run(
        sample_event("track_run", "dataset_prepared"),
        FakeSageMaker(),
        MemoryStore(),
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
        email=delivery,
    )
    track_run(
        sample_event("track_run", "labeling_started"),
        FakeSageMaker(),
        MemoryStore(),
        runs,
        "sagechain",
        STACK_NAME,
        STACK_ID,
        email=delivery,
    )

    first, later = runs.changes
    assert first.facts.email_delivery == UNCONFIRMED
    assert later.facts.email_delivery is None
    assert subscriptions.asked == 1
