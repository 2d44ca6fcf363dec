"""Logger, tracer and metrics, configured by the POWERTOOLS_* variables the template sets."""

import re

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def metric_name(outcome: str) -> str:
    """An outcome as a metric name: "Dataset Prepared" and "dataset prepared" -> DatasetPrepared."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", outcome))


def count(outcome: str) -> None:
    """One more of an outcome, as a metric."""
    metrics.add_metric(name=metric_name(outcome), unit=MetricUnit.Count, value=1)
