"""SageMaker Runtime: InvokeEndpoint, its errors turned into the API's.

InvokeEndpoint's errors (API reference, API_runtime_InvokeEndpoint.html "Errors", and
botocore's sagemaker-runtime model): InternalDependencyException (530), InternalFailure
(500), ModelError (424), ModelNotReadyException (429), ServiceUnavailable (503),
ValidationError (400); plus ThrottlingException (400), common to every SageMaker API
(CommonErrors.html). A missing endpoint is a ValidationError ("Endpoint ... not found").
Nothing SageMaker says is passed on: its messages may hold ARNs and the account id.
"""

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from sagechain.adapters.clients import RUNTIME_CONNECT_TIMEOUT, sagemaker_runtime_client
from sagechain.api_errors import (
    ApiError,
    EndpointMissingError,
    InvalidRequestError,
    InvocationTimeoutError,
    ModelFailedError,
    ModelUnavailableError,
    ThrottledError,
)
from sagechain.errors import EndpointDeniedError
from sagechain.observability import logger
from sagechain.ports import EndpointAnswer

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_sagemaker_runtime.type_defs import InvokeEndpointInputTypeDef

THROTTLED_RETRY_AFTER = 1
NOT_READY_RETRY_AFTER = 5
# Errors that say nothing about the request: retried, then answered 429 or 503.
_TRANSIENT: dict[str, Callable[[], ApiError]] = {
    "ThrottlingException": lambda: ThrottledError(
        "SageMaker is throttling this model; retry shortly", retry_after=THROTTLED_RETRY_AFTER
    ),
    "ModelNotReadyException": lambda: ModelUnavailableError(
        "the model is not ready to serve yet; retry shortly",
        code="model_not_ready",
        retry_after=NOT_READY_RETRY_AFTER,
    ),
    **dict.fromkeys(
        ("ServiceUnavailable", "InternalFailure", "InternalDependencyException"),
        lambda: ModelUnavailableError(
            "SageMaker could not serve the request; retry shortly",
            code="service_unavailable",
            retry_after=NOT_READY_RETRY_AFTER,
        ),
    ),
}


def _error(err: ClientError, endpoint: str) -> ApiError | None:
    """The API error a SageMaker error means, or None for one that is sagechain's own fault
    (EndpointDeniedError for a denial: see there)."""
    code = err.response.get("Error", {}).get("Code", "")
    message = str(err.response.get("Error", {}).get("Message", ""))[:500]
    if code in _TRANSIENT:
        return _TRANSIENT[code]()
    if code == "ModelError":
        status = err.response.get("OriginalStatusCode", "an error")
        logger.warning(
            "the model failed",
            extra={"endpoint": endpoint, "original_status": status, "original_message": message},
        )
        return ModelFailedError(f"the model failed on this request (it answered {status})")
    if code == "ValidationError" and "not found" in message.lower():
        return EndpointMissingError(
            "the model's endpoint is not available right now (it may be being replaced)"
        )
    if code == "AccessDeniedException":
        # InvokeEndpoint is allowed only on endpoints tagged for this stack: one that was just
        # deleted has no tags left to match, so AWS answers AccessDenied rather than not found.
        # predict rechecks models/<model>/model.json (404 for a deleted model); otherwise it is
        # a misconfiguration, answered 500 and logged.
        raise EndpointDeniedError(f"InvokeEndpoint on {endpoint} was denied: {message}") from err
    if code == "ValidationError":
        logger.warning(
            "SageMaker rejected the request", extra={"endpoint": endpoint, "sagemaker_message": message}
        )
        return InvalidRequestError("SageMaker rejected the request as sent")
    return None


class SageMakerRuntimeEndpoint:
    """Real-time endpoints through InvokeEndpoint, one attempt per call."""

    def __init__(
        self, client_for: Callable[[int], "SageMakerRuntimeClient"] = sagemaker_runtime_client
    ) -> None:
        self._client_for = client_for

    def invoke(
        self, endpoint: str, body: bytes, content_type: str, accept: str | None, timeout_seconds: float
    ) -> EndpointAnswer:
        """One InvokeEndpoint that gives up after timeout_seconds (connect plus read)."""
        read_timeout = max(1, math.floor(timeout_seconds - RUNTIME_CONNECT_TIMEOUT))
        request: InvokeEndpointInputTypeDef = {
            "EndpointName": endpoint,
            "Body": body,
            "ContentType": content_type,
        }
        if accept:
            request["Accept"] = accept
        try:
            response = self._client_for(read_timeout).invoke_endpoint(**request)
            return EndpointAnswer(response["Body"].read(), response.get("ContentType"))
        except ClientError as err:
            mapped = _error(err, endpoint)
            if mapped is None:
                raise
            raise mapped from err
        except (ReadTimeoutError, ConnectTimeoutError) as err:
            raise InvocationTimeoutError("the model did not answer in time") from err
        except (EndpointConnectionError, ConnectionClosedError) as err:
            raise ModelUnavailableError(
                "SageMaker could not be reached; retry shortly",
                code="service_unavailable",
                retry_after=NOT_READY_RETRY_AFTER,
            ) from err
