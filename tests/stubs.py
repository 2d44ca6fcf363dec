"""botocore's Stubber for the calls moto lacks or does not check.

Every request made through a stubbed client is validated against the service's real
API model (botocore's parameter validation runs before the stub answers), and every
stubbed response against the model's output shape.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore import xform_name
from botocore.stub import Stubber

from tests.refusals import Refusal


@contextmanager
def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A client of service and its active Stubber; all queued responses must be used."""
    client = boto3.client(service, region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def refuse(stubber: Stubber, refusal: Refusal, expected_params: dict[str, Any] | None = None) -> None:
    """Queue the service's answer to a request it refuses (tests/refusals.py), as AWS sends it."""
    stubber.add_client_error(
        xform_name(refusal.operation),
        service_error_code=refusal.code,
        service_message=refusal.message,
        http_status_code=400,
        expected_params=expected_params,
    )


def count_calls(client: Any) -> Counter[str]:
    """A live count of the operations client sends (e.g. counts["CreateLabelingJob"])."""
    counts: Counter[str] = Counter()

    def _count(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    # Every call emits before-parameter-build, stubbed or not, before anything answers.
    client.meta.events.register("before-parameter-build", _count)
    return counts


def call_order(*clients: Any) -> list[str]:
    """A live list of the operations any of the clients send, in the order sent across them."""
    order: list[str] = []

    def _record(model: Any, **_: Any) -> None:
        order.append(model.name)

    for client in clients:
        client.meta.events.register("before-parameter-build", _record)
    return order
