"""Logger, tracer and metrics, configured by the POWERTOOLS_* variables the template sets."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
