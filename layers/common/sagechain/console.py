"""Links a person can click: SageMaker console pages and CloudWatch Logs, built from names alone.

No AWS call is made, so services and adapters alike may build them.
"""

from urllib.parse import quote

# Training jobs log to one stream per instance, named after the job
# (https://docs.aws.amazon.com/sagemaker/latest/dg/common-info-all-sagemaker-models-logs.html).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def console_url(region: str, kind: str, name: str) -> str:
    """The SageMaker console page of a job or endpoint (kind: labeling-jobs, jobs,
    hyper-tuning-jobs, endpoints)."""
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/{kind}/{name}"


def training_log_url(region: str, job_name: str) -> str:
    """The CloudWatch Logs console, filtered to a training job's log streams."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logStream:group={TRAINING_LOG_GROUP};prefix={job_name}/;streamFilter=typeLogStreamPrefix"
    )


def function_log_url(region: str, function_name: str) -> str:
    """The CloudWatch Logs console page of a Lambda function's log group (/aws/lambda/<name>)."""
    group = f"/aws/lambda/{function_name}".replace("/", "$252F")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{group}"


def s3_console_url(region: str | None, bucket: str, key: str) -> str:
    """The S3 console page of an object (its properties and a Download button), or of a prefix
    when the key ends in "/"; without a region the console finds the bucket's own."""
    kind = "buckets" if key.endswith("/") or not key else "object"
    where = f"region={region}&" if region else ""
    return f"https://s3.console.aws.amazon.com/s3/{kind}/{bucket}?{where}prefix={quote(key, safe='')}"


def s3_uri_console_url(uri: str) -> str:
    """The S3 console page of an s3://bucket/key location (what the emails name)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3_console_url(None, bucket, key)
