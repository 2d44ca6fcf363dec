"""The errors an API caller sees: one family, each class carrying its HTTP status and code.

Every error body is {"error": {"code": ..., "message": ...}}. Messages are written here or
by the services for the caller: never a stack trace, an ARN or an account id.
"""

from typing import ClassVar

from sagechain.errors import SagechainError


class ApiError(SagechainError):
    """An error answered to the caller; `retry_after` (seconds) becomes a Retry-After header."""

    status: ClassVar[int] = 500
    code: str = "internal_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class InvalidRequestError(ApiError):
    """400: the request cannot be answered as sent (empty or undecodable body, bad parameter)."""

    status = 400
    code = "invalid_request"


class ModelNotFoundError(ApiError):
    """404: no live model has this name."""

    status = 404
    code = "model_not_found"


class BatchNotFoundError(ApiError):
    """404: the model has no batch of this name."""

    status = 404
    code = "batch_not_found"


class RunNotFoundError(ApiError):
    """404: no run has this id."""

    status = 404
    code = "run_not_found"


class StateConflictError(ApiError):
    """409: the request does not apply to the run's or model's current state (the message says
    which state, and what would apply)."""

    status = 409
    code = "conflict"


class PayloadTooLargeError(ApiError):
    """413: the decoded body is larger than SageMaker accepts."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    """415: the body's content type is not one the model reads."""

    status = 415
    code = "unsupported_media_type"


class ModelFailedError(ApiError):
    """424: the model itself failed on the request, or answered something unreadable."""

    status = 424
    code = "model_error"


class ThrottledError(ApiError):
    """429: SageMaker throttled the invocation, even after the retries."""

    status = 429
    code = "throttled"
    retryable = True


class ModelUnavailableError(ApiError):
    """503: the endpoint cannot serve now (not ready, scaling, or SageMaker itself); retried first."""

    status = 503
    code = "model_unavailable"
    retryable = True


class EndpointMissingError(ModelUnavailableError):
    """503: the model's endpoint does not exist right now (being replaced or deleted); not retried."""

    code = "endpoint_unavailable"
    retryable = False


class ResponseTooLargeError(ApiError):
    """502: the model answered more than a Lambda response can carry."""

    status = 502
    code = "response_too_large"


class InvocationTimeoutError(ApiError):
    """504: the model did not answer within the time API Gateway allows."""

    status = 504
    code = "timeout"
