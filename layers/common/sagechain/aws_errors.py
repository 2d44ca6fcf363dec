"""What an AWS error means in plain words, and what to do about it: one table for every stage.

Adapters turn a botocore ClientError into (service, operation, code, message, HTTP status);
`explain_aws_error` turns that into an `AwsErrorExplanation` a person can act on, and
`is_retryable` says whether the handler should let Lambda and EventBridge try again.

Sources:
- SageMaker's own errors, per operation (CreateLabelingJob, CreateTrainingJob,
  CreateHyperParameterTuningJob, CreateEndpoint...): ResourceInUse, ResourceLimitExceeded,
  ResourceNotFound; botocore's SageMaker service model and
  https://docs.aws.amazon.com/botocore/latest/reference/services/sagemaker/client/exceptions/ResourceLimitExceeded.html
- the errors common to every AWS API (AccessDeniedException, ThrottlingException,
  ValidationError, InternalFailure 500, ServiceUnavailable 503):
  https://docs.aws.amazon.com/securityhub/1.0/APIReference/CommonErrors.html (the same page in
  every service's API reference)
- which codes boto3's standard retry mode retries (throttling codes, RequestLimitExceeded,
  HTTP 500/502/503/504): https://docs.aws.amazon.com/boto3/latest/guide/retries.html
- the shape of a quota refusal: "The account-level service limit 'ml.p3.2xlarge for training
  job usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1
  Instances." (e.g. https://github.com/aws/amazon-sagemaker-examples/issues/1543); SageMaker's
  quotas are adjusted in the Service Quotas console,
  https://console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas (linked from
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-customize-mtrl-quotas.html)
- CapacityError, how SageMaker reports that it could not provision the instances asked for:
  https://docs.aws.amazon.com/batch/latest/userguide/sm_job_stuck_in_runnable_capacity.html
"""

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ErrorKind(StrEnum):
    """What sort of refusal an AWS error is."""

    QUOTA = "quota"
    VALIDATION = "validation"
    ACCESS_DENIED = "access-denied"
    NOT_FOUND = "not-found"
    IN_USE = "in-use"
    CAPACITY = "capacity"
    THROTTLED = "throttled"
    SERVER = "server"
    OTHER = "other"


class AwsErrorExplanation(BaseModel):
    """An AWS error as AWS sent it, what it means in plain words, and what to do."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    service: str = Field(description="The AWS service that answered, e.g. sagemaker.")
    operation: str = Field(description="The API call, e.g. CreateTrainingJob.")
    code: str = Field(description="AWS's error code, e.g. ResourceLimitExceeded.")
    message: str = Field(description="AWS's message, verbatim.")
    kind: ErrorKind
    cause: str = Field(description="One sentence that names the cause; emails start with it.")
    meaning: str = Field(description="What the error means, in plain words.")
    fix: str = Field(description="What to do about it.")
    retryable: bool = Field(description="Whether trying again later can succeed without a change.")
    quota_name: str | None = Field(default=None, description="For a quota: the quota's name.")
    quota_console_url: str | None = Field(
        default=None, description="For a quota: the Service Quotas console page to request an increase."
    )


# boto3's standard retry mode: throttling and transient codes, retried by botocore first,
# then by Lambda and EventBridge when they persist.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_SERVER_CODES = frozenset({"InternalFailure", "InternalServerError", "ServiceUnavailable"})
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})

_KINDS: dict[str, ErrorKind] = {
    "ResourceLimitExceeded": ErrorKind.QUOTA,
    "ServiceQuotaExceededException": ErrorKind.QUOTA,
    "ValidationException": ErrorKind.VALIDATION,
    "ValidationError": ErrorKind.VALIDATION,
    "AccessDeniedException": ErrorKind.ACCESS_DENIED,
    "AccessDenied": ErrorKind.ACCESS_DENIED,
    "NotAuthorized": ErrorKind.ACCESS_DENIED,
    "ResourceNotFound": ErrorKind.NOT_FOUND,
    "ResourceNotFoundException": ErrorKind.NOT_FOUND,
    "ResourceInUse": ErrorKind.IN_USE,
    "ConflictException": ErrorKind.IN_USE,
    "CapacityError": ErrorKind.CAPACITY,
    "InsufficientCapacityError": ErrorKind.CAPACITY,
}

# Which part of dataset.json (or of the stack) a request of each operation comes from.
_SPEC_PART = {
    "CreateLabelingJob": "the labeling section of dataset.json",
    "CreateTrainingJob": "the training section of dataset.json",
    "CreateHyperParameterTuningJob": "training.tuning in dataset.json",
    "CreateModel": "the deployment section of dataset.json",
    "CreateEndpointConfig": "the deployment section of dataset.json",
    "CreateEndpoint": "the deployment section of dataset.json",
    "UpdateEndpoint": "the deployment section of dataset.json",
    "CreateTransformJob": "batch.json",
}
# SageMaker names its instance quotas "<instance type> for <usage>".
_QUOTA_USAGE = {
    "CreateTrainingJob": "training job usage",
    "CreateHyperParameterTuningJob": "training job usage",
    "CreateEndpoint": "endpoint usage",
    "CreateEndpointConfig": "endpoint usage",
    "UpdateEndpoint": "endpoint usage",
    "CreateTransformJob": "transform job usage",
}
_INSTANCE_SETTING = {
    "CreateTrainingJob": "training.instance_type",
    "CreateHyperParameterTuningJob": "training.instance_type",
    "CreateEndpoint": "deployment.instance_type",
    "CreateEndpointConfig": "deployment.instance_type",
    "UpdateEndpoint": "deployment.instance_type",
}
_QUOTA_IN_MESSAGE = re.compile(r"service limit '([^']+)'")
_AGAIN = "then upload dataset.json again to start a new run."
# When the fix is outside dataset.json (a quota, a permission, a resource), the run itself can go on.
_RETRY_OR_AGAIN = (
    "then retry the run (POST /runs/<run_id>/retry on the operator API: nothing is labeled again), "
    "or upload dataset.json again to start a new run."
)


def is_retryable(code: str, http_status: int | None = None) -> bool:
    """Whether an AWS error is transient: throttling, a timeout, a server error (5xx)."""
    return code in RETRYABLE_CODES or (http_status is not None and http_status in _RETRYABLE_STATUSES)


def service_quotas_url(service: str, region: str | None) -> str:
    """The Service Quotas console page of a service's quotas (in the region, when known)."""
    host = f"{region}.console.aws.amazon.com" if region else "console.aws.amazon.com"
    return f"https://{host}/servicequotas/home/services/{service}/quotas"


def quota_named_in(message: str) -> str | None:
    """The quota a ResourceLimitExceeded message names ('... service limit '<name>' is ...')."""
    match = _QUOTA_IN_MESSAGE.search(message)
    return match[1] if match else None


def _quota(
    service: str, operation: str, message: str, region: str | None, instance_type: str | None
) -> tuple[str, str, str, str | None, str]:
    name = quota_named_in(message)
    if name is None and instance_type and operation in _QUOTA_USAGE:
        name = f"{instance_type} for {_QUOTA_USAGE[operation]}"
    url = service_quotas_url(service, region)
    quota = f"'{name}'" if name else f"the {service} quota the message names"
    cause = f"the AWS account's {service} quota {quota} does not allow it"
    meaning = (
        f"AWS limits how much of each resource one account may use at once in a region, and this "
        f"request would go past {quota}. It is a limit of the account, not a problem with the data "
        "(new accounts often start at 0 for GPU instances). Retrying does not help until the quota changes."
    )
    setting = _INSTANCE_SETTING.get(operation)
    other = f", or choose an instance type whose quota allows it ({setting})" if setting else ""
    fix = (
        f"Request an increase of {quota} in the Service Quotas console ({url}){other}, or wait for "
        f"the account's running jobs to end; {_RETRY_OR_AGAIN}"
    )
    return cause, meaning, fix, name, url


def _explained(  # noqa: PLR0911 - one answer per kind
    kind: ErrorKind, service: str, operation: str, part: str
) -> tuple[str, str, str]:
    """(cause, meaning, fix) of every kind but a quota."""
    match kind:
        case ErrorKind.VALIDATION:
            return (
                f"{service} did not accept the request",
                f"{service} checked the {operation} request and refused a value in it; its message "
                "names the value (an instance type an algorithm does not support, a hyperparameter, an "
                "S3 location, a name). Retrying the same request gives the same answer.",
                f"Change what the message names in {part}; {_AGAIN}",
            )
        case ErrorKind.ACCESS_DENIED:
            return (
                f"the stack's IAM role may not call {service}:{operation} as asked",
                "AWS refused the call for lack of permission. This is the stack's IAM policy (or an SCP, "
                "or a key policy), not the dataset: the message names the action and the resource.",
                "The stack's operator grants the permission the message names (template.yaml) and "
                f"retries the run (POST /runs/<run_id>/retry), or removes what the spec asks that the "
                f"stack does not allow; {_AGAIN}",
            )
        case ErrorKind.NOT_FOUND:
            return (
                f"something the {operation} request names does not exist",
                f"{service} could not find a resource the request refers to (a work team, a role, an "
                "image, a model, an S3 location); the message names it.",
                f"Create it, or point {part} at one that exists in this account and region; {_AGAIN}",
            )
        case ErrorKind.IN_USE:
            return (
                f"the resource {operation} needs is busy",
                f"{service} answered that the resource is in use or changing state.",
                "Wait until it settles (its next state change), then try again.",
            )
        case ErrorKind.CAPACITY:
            return (
                "AWS has no capacity for the instances asked for, in this region, right now",
                "The account may use them, but AWS could not provision them at the moment.",
                f"Try again later, choose another instance type in {part}, or switch spot training on or "
                f"off; {_AGAIN}",
            )
        case ErrorKind.THROTTLED:
            return (
                f"{service} throttled {operation}",
                "Too many requests reached the service at once; AWS asks callers to slow down.",
                "Nothing: sagechain retries with backoff. If it persists, the failure email names the event.",
            )
        case ErrorKind.SERVER:
            return (
                f"{service} failed inside while handling {operation}",
                "AWS had a temporary problem of its own (HTTP 5xx).",
                "Nothing: sagechain retries. If it persists, check the AWS Health Dashboard.",
            )
    return (
        f"{service} refused {operation}",
        f"{service} refused the request; its code and message say why.",
        f"Read the message, fix {part} or the stack as it says; {_AGAIN}",
    )


def explain_aws_error(
    service: str,
    operation: str,
    code: str,
    message: str,
    *,
    region: str | None = None,
    instance_type: str | None = None,
    http_status: int | None = None,
) -> AwsErrorExplanation:
    """What an AWS error means and what to do, for a person: cause, meaning, fix, retryable."""
    retryable = is_retryable(code, http_status)
    if code in RETRYABLE_CODES and code not in _SERVER_CODES:
        kind = ErrorKind.THROTTLED
    elif retryable:
        kind = ErrorKind.SERVER
    else:
        kind = _KINDS.get(code, ErrorKind.OTHER)
    name: str | None = None
    url: str | None = None
    if kind is ErrorKind.QUOTA:
        cause, meaning, fix, name, url = _quota(service, operation, message, region, instance_type)
    else:
        cause, meaning, fix = _explained(kind, service, operation, _SPEC_PART.get(operation, "the request"))
    return AwsErrorExplanation(
        service=service,
        operation=operation,
        code=code,
        message=message,
        kind=kind,
        cause=f"{cause} ({code})",
        meaning=meaning,
        fix=fix,
        retryable=retryable,
        quota_name=name,
        quota_console_url=url,
    )
