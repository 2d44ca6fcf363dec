"""Stage 7: every sagechain event and every state change of our jobs lands in the run's history.

The runs table keeps one item per run (stage, status, facts, last error), one item per
job or endpoint, and one per history entry. Every write is conditional (see
adapters/runs_table.py), so events that arrive twice or out of order never move a run
backwards or add a second entry for the same thing.
"""

from collections.abc import Mapping
from typing import Any

from sagechain.event_sources.eventbridge import SagechainDelivery, parse_bus_event
from sagechain.event_sources.sagemaker import JobKind, StateChange
from sagechain.observers import timeline
from sagechain.observers.email_delivery import EmailDelivery
from sagechain.ports import ObjectStore, RunStore, SageMakerLookup
from sagechain.run_history import RunChange


def track_run(
    event: Mapping[str, Any],
    lookup: SageMakerLookup,
    store: ObjectStore,
    runs: RunStore,
    name_prefix: str,
    stack_name: str,
    stack_id: str,
    email: EmailDelivery | None = None,
) -> RunChange | None:
    """Record one event in its run; None when the event is not about one of our runs (a
    sagechain event must name this stack, `stack_id`, in its resources).

    A run that starts while nobody receives the emails records that among its facts."""
    incoming = parse_bus_event(event, stack_id)
    if incoming is None:
        return None
    if isinstance(incoming, SagechainDelivery):
        answered = incoming.event.sagemaker_change
        if answered is not None:
            # The state change the stage answered (its rule is the only one that hears it): it
            # goes in the history first, as if it had arrived on its own.
            _record_answered(incoming, answered, lookup, runs)
        change = timeline.sagechain_change(incoming)
    else:
        run = timeline.resolve_run(incoming, lookup, store, name_prefix, stack_name)
        if run is None:
            return None
        training = None
        if incoming.kind is JobKind.TRAINING and incoming.status in timeline.TERMINAL_STATUSES:
            # Durations, billable seconds, and whether a tuning job launched it.
            training = lookup.training_job(incoming.name)
        change = timeline.state_change(
            incoming,
            run,
            lookup.console_url(incoming.kind, incoming.name),
            failure_reason=None if training else timeline.failure_reason(incoming, lookup),
            training=training,
        )
    if email is not None and change.starts_run:
        warning = email.warning()
        if warning:
            change = change.model_copy(
                update={"facts": change.facts.model_copy(update={"email_delivery": warning})}
            )
    runs.apply(change)
    return change


def _record_answered(
    delivery: SagechainDelivery, answered: StateChange, lookup: SageMakerLookup, runs: RunStore
) -> None:
    """Record the SageMaker state change a sagechain event carries, in the event's run."""
    event = delivery.event
    run = timeline.RunRef(event.run_id, event.dataset, attempt=event.attempt)
    runs.apply(timeline.state_change(answered, run, lookup.console_url(answered.kind, answered.name)))
