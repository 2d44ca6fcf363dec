"""AWS error codes in plain language: what a refused request means and what a person can do.

Which codes are worth retrying follows the AWS SDKs' retry behaviour
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html): throttling and
server-side (5xx) errors are transient; everything else says something about the request or
the account that a retry cannot change.
"""

import re
from typing import NamedTuple

# Throttling and transient codes the SDKs' standard retry mode retries.
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
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ConcurrentUpdateException",  # Application Auto Scaling: another update is in progress
    }
)

# SageMaker's quota message (CreateEndpoint, UpdateEndpoint, CreateTrainingJob):
# "The account-level service limit 'ml.m5.large for endpoint usage' is 0 Instances, with current
# utilization of 0 Instances and a request delta of 1 Instances. Please contact AWS support ..."
_QUOTA = re.compile(r"service limit '([^']+)' is (\d+) ([A-Za-z]+)")


class Explanation(NamedTuple):
    """What an AWS error means for the person who reads the email, and what to do about it."""

    meaning: str
    fix: str
    quota_name: str | None = None
    quota_url: str | None = None


def is_retryable(code: str, http_status: int | None = None) -> bool:
    """Whether a retry may succeed: throttling or a server-side (5xx) error."""
    return code in RETRYABLE_CODES or (http_status is not None and http_status >= 500)


def quota_console_url(service: str, region: str, quota_name: str | None = None) -> str:
    """The Service Quotas console's list of a service's quotas (filtered to one name when given)."""
    base = f"https://{region}.console.aws.amazon.com/servicequotas/home/services/{service}/quotas"
    return base if quota_name is None else f"{base}?search={quota_name.replace(' ', '+')}"


def explain(service: str, operation: str, code: str, message: str, region: str = "us-east-1") -> Explanation:
    """The meaning and the fix of an error code that `service`'s `operation` answered."""
    if code == "ResourceLimitExceeded":
        found = _QUOTA.search(message)
        if found:
            name, value, unit = found.groups()
            return Explanation(
                meaning=(
                    f"the account's quota '{name}' is {value} {unit.lower()}, too few for this request "
                    f"({operation} was refused). New AWS accounts start at 0 for many instance types."
                ),
                fix=(
                    f"Ask for more in the Service Quotas console ({service}, quota '{name}'), or choose an "
                    "instance type your account has quota for; then upload dataset.json again."
                ),
                quota_name=name,
                quota_url=quota_console_url(service, region, name),
            )
        return Explanation(
            meaning=f"{operation} would exceed one of the account's {service} quotas.",
            fix="Look the quota up in the Service Quotas console and ask for more, or ask for less.",
            quota_url=quota_console_url(service, region),
        )
    if code in {"AccessDenied", "AccessDeniedException"}:
        return Explanation(
            meaning=f"the function's role may not call {operation} on this resource.",
            fix="Check the function's IAM policy in template.yaml (and any permission boundary or SCP).",
        )
    if code == "ValidationException":
        return Explanation(
            meaning=f"{service} refused the {operation} request as invalid: {message}",
            fix="Fix what the message names (often the spec's deployment section), then upload "
            "dataset.json again.",
        )
    if code in {"ResourceNotFound", "ResourceNotFoundException", "ObjectNotFoundException"}:
        return Explanation(
            meaning=f"{operation} needs a resource that does not exist (any more): {message}",
            fix="Something was deleted while the run used it; upload dataset.json again.",
        )
    return Explanation(
        meaning=f"{service} refused {operation} with {code}: {message}",
        fix="Read the message; fix its cause, then upload dataset.json again.",
    )
