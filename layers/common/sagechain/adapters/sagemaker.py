"""SageMaker errors in sagechain's terms, shared by every stage that creates resources."""

from botocore.exceptions import ClientError

from sagechain.aws_errors import is_retryable
from sagechain.errors import RequestRefusedError

# SageMaker answers a duplicate name with ResourceInUse (jobs) or a ValidationException
# saying the resource already exists (models, endpoint configs): both mean the work was
# already started by an earlier delivery of the same event.
_ALREADY_EXISTS_MARKERS = ("already exist", "already in use")


def is_already_exists(err: ClientError) -> bool:
    """Whether a Create* call failed only because the name is taken."""
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "").lower()
    if code == "ResourceInUse":
        return True
    return code == "ValidationException" and any(marker in message for marker in _ALREADY_EXISTS_MARKERS)


def refusal(err: ClientError, operation: str) -> RequestRefusedError | None:
    """The refusal a ClientError stands for, or None when it is transient (throttling, 5xx) and
    must propagate so botocore, then Lambda and EventBridge, retry it."""
    error = err.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if is_retryable(code, status):
        return None
    return RequestRefusedError(operation, code, str(error.get("Message", "")), http_status=status)
