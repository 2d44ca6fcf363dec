"""Logger, tracer and metrics, configured by the POWERTOOLS_* variables the template sets."""

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# Powertools' spellings of true (aws_lambda_powertools.shared.functions.strtobool).
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Powertools' Tracer would trace: in Lambda (not under `sam local`), unless
    POWERTOOLS_TRACE_DISABLED says otherwise."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not environ.get("AWS_SAM_LOCAL")


class Untraced:
    """Tracer's decorators and calls, doing nothing: the tracer when tracing is off, so a cold
    start neither imports aws_xray_sdk (about 80 ms) nor lets it create its botocore clients."""

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Any:
        """The handler itself (also as `@capture_lambda_handler(...)`)."""
        return lambda_handler if lambda_handler is not None else _unchanged

    def capture_method(self, method: Any = None, **_: Any) -> Any:
        """The method itself (also as `@capture_method(...)`)."""
        return method if method is not None else _unchanged

    def put_annotation(self, key: str, value: object) -> None:
        """Nothing to annotate."""

    def put_metadata(self, key: str, value: object, namespace: str | None = None) -> None:
        """Nothing to record."""


def _unchanged[F: Callable[..., Any]](function: F) -> F:
    return function


def _tracer() -> "Tracer":
    if not tracing_enabled():
        # Typed as Tracer: Untraced offers the part of its interface the functions use.
        return cast("Tracer", Untraced())
    from aws_lambda_powertools import Tracer  # noqa: PLC0415  # imports aws_xray_sdk: only when tracing

    return Tracer()


logger = Logger()
tracer = _tracer()
metrics = Metrics()


def metric_name(outcome: str) -> str:
    """An outcome as a metric name: "Dataset Prepared" and "dataset prepared" -> DatasetPrepared."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", outcome))


def count(outcome: str) -> None:
    """One more of an outcome, as a metric."""
    metrics.add_metric(name=metric_name(outcome), unit=MetricUnit.Count, value=1)
