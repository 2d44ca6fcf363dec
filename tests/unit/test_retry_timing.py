"""Every retry of a crashed invocation comes after the idempotency record it left has expired.

Powertools keeps a crashed invocation's record INPROGRESS until that invocation's deadline (its
start plus the function's Timeout). A retry that comes sooner meets the record and fails, and
the run is lost; tests/e2e/test_crash_recovery.py shows one crash end to end, this checks the
timing of every function the template wires.
"""

import pytest
from local.stack import PHYSICAL
from local.template import FunctionDefinition, Template

# Lambda's first async retry comes one minute after the failure
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
FIRST_ASYNC_RETRY_SECONDS = 60

TEMPLATE = Template(PHYSICAL, {})
IDEMPOTENT = [f for f in TEMPLATE.functions() if "IDEMPOTENCY_TABLE" in f.environment]


@pytest.mark.parametrize("function", IDEMPOTENT, ids=lambda f: f.logical_id)
def test_an_async_retry_comes_after_the_crashed_invocations_deadline(function: FunctionDefinition) -> None:
    if function.patterns:
        assert function.timeout_seconds <= FIRST_ASYNC_RETRY_SECONDS, (
            f"{function.logical_id} runs up to {function.timeout_seconds} s but is retried "
            f"{FIRST_ASYNC_RETRY_SECONDS} s after a crash: read its events from a queue instead"
        )


@pytest.mark.parametrize("function", IDEMPOTENT, ids=lambda f: f.logical_id)
def test_a_queued_event_comes_back_after_the_crashed_invocations_deadline(
    function: FunctionDefinition,
) -> None:
    queues = {queue.arn: queue for queue in TEMPLATE.queues()}
    for source in function.queue_sources:
        assert queues[source.queue_arn].visibility_timeout > function.timeout_seconds


def test_the_long_stages_read_their_events_from_a_queue() -> None:
    long_running = {f.logical_id for f in IDEMPOTENT if f.timeout_seconds > FIRST_ASYNC_RETRY_SECONDS}
    queued = {f.logical_id for f in IDEMPOTENT if f.queue_sources and not f.patterns}

    assert long_running == {
        "PrepareDatasetFunction",
        "StartTrainingFunction",
        "StartBatchFunction",
        "CollectBatchFunction",
        "CollectLabelsFunction",
    }
    assert long_running <= queued
