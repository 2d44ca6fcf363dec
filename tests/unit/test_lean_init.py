"""A cold start does only what every invocation needs: no X-Ray SDK with tracing off, no client
before its first call."""

import os
import subprocess
import sys
from typing import Any

import pytest

from sagechain.adapters import autoscaling, idempotency
from sagechain.observability import Untraced, tracing_enabled
from tests.aws import ROOT


@pytest.mark.parametrize(
    ("environ", "traced"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_where_powertools_would_trace(environ: dict[str, str], traced: bool) -> None:
    assert tracing_enabled(environ) is traced


def _loads_xray_sdk(**environ: str) -> bool:
    env = {k: v for k, v in os.environ.items() if k not in ("POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL")}
    done = subprocess.run(  # this interpreter, our own code
        [sys.executable, "-c", "import sys, sagechain.observability; print('aws_xray_sdk' in sys.modules)"],
        env={
            **env,
            "PYTHONPATH": str(ROOT / "layers" / "common"),
            "LAMBDA_TASK_ROOT": "/var/task",
            **environ,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() == "True"


def test_a_function_with_tracing_off_never_imports_the_xray_sdk() -> None:
    assert not _loads_xray_sdk(POWERTOOLS_TRACE_DISABLED="true")
    assert _loads_xray_sdk(POWERTOOLS_TRACE_DISABLED="false")


def test_the_untraced_tracer_leaves_handlers_as_they_are() -> None:
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {"echo": event}

    tracer = Untraced()
    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
    assert tracer.capture_method(handler) is handler


class _Clients:
    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, service: str, **_: Any) -> object:
        self.made.append(service)
        return object()


def test_the_idempotency_store_makes_its_client_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _Clients()
    monkeypatch.setattr(idempotency.boto3, "client", clients)
    store = idempotency.persistence_layer("idempotency")
    assert clients.made == []
    assert store.client is store.client
    assert clients.made == ["dynamodb"]


def test_an_adapter_makes_its_client_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _Clients()
    monkeypatch.setattr(autoscaling, "autoscaling_client", lambda: clients("application-autoscaling"))
    autoscaler = autoscaling.ApplicationAutoScaling(tags={})
    assert clients.made == []
    assert autoscaler._client is not None
    assert clients.made == ["application-autoscaling"]
