"""DELETE /models/{model} offline, when the request dies half-way: a retry finishes the deletion once."""

import json
from typing import Any

import pytest
from local.stack import LocalStack, RuntimeCrash

from sagechain.run_control.delete_model import DELETION_LEASE
from tests.e2e.test_full_chain import kinds, upload_flowers

pytestmark = pytest.mark.e2e


def body(answer: Any) -> dict[str, Any]:
    return dict(json.loads(answer.body))


def test_a_delete_that_died_before_deleting_the_endpoint_is_finished_by_its_retry(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a live model whose DELETE dies (Lambda's timeout) as it deletes the endpoint
    upload_flowers(stack)
    stack.run_until_quiet()
    live = stack.observed[-1]["detail"]
    model = live["endpoint_name"]
    delete_endpoint = stack.sagemaker._op_DeleteEndpoint

    def dies(params: dict[str, Any]) -> dict[str, Any]:
        monkeypatch.setattr(stack.sagemaker, "_op_DeleteEndpoint", delete_endpoint)
        raise RuntimeCrash("Task timed out after 20.00 seconds")

    monkeypatch.setattr(stack.sagemaker, "_op_DeleteEndpoint", dies)
    with pytest.raises(RuntimeCrash):
        stack.api().handle("DELETE", f"/models/{model}", {}, b"")

    # When it is retried at once, then again once the first request's lease has passed
    early = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    stack.wait(DELETION_LEASE.total_seconds() + 1)
    retried = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    stack.run_until_quiet()

    # Then the early one is told when to retry, and the later one finishes the same deletion
    assert (early.status, body(early)["error"]["code"]) == (409, "conflict")
    assert "DELETE again after" in body(early)["error"]["message"]
    assert (retried.status, body(retried)["model_name"]) == (200, live["model_name"])
    assert model not in stack.sagemaker.endpoints
    assert stack.sagemaker.endpoint_configs == {}
    assert live["model_name"] not in stack.sagemaker.models
    assert kinds(stack).count("Model Deleted") == 1
    run = body(stack.api().handle("GET", f"/runs/{live['run_id']}", {}, b""))
    assert (run["stage"], run["status"]) == ("live", "deleted")
    # And a resumed deletion deletes only what is left: no Delete* of what is gone, which IAM denies
    # (the conftest fails the test on any denied call)
    again = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    assert "was deleted at" in body(again)["error"]["message"]
