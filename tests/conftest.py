"""Test environment: no AWS credentials, no tracing, the settings every handler reads."""

import os

TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "sagechain-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "sagechain",
    "POWERTOOLS_DEV": "false",
    "DATA_BUCKET": "sagechain-data-example",
    "IDEMPOTENCY_TABLE": "sagechain-idempotency",
    "EVENT_BUS_NAME": "default",
    "NAME_PREFIX": "sagechain",
    "STACK_NAME": "sagechain",
    "ALLOW_CUSTOM_NETWORK_ACCESS": "false",
    "DEFAULT_WORKTEAM_ARN": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
    "DEFAULT_MAX_LABELING_COST_USD": "100",
    "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
    "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    "RUNS_TABLE": "sagechain-runs",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sagechain-notifications",
}
# Set before any test module imports boto3 or a handler: nothing may reach AWS.
os.environ.update(TEST_ENV)
