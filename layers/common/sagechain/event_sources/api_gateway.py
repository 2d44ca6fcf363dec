"""The REST resolver every API function uses: request validation on, every error in one shape.

API Gateway's own errors (auth, stage throttling, payloads over 10 MB) take the same shape
through the Api's gateway responses in template.yaml; their codes are API Gateway's, in
capitals (e.g. THROTTLED, ACCESS_DENIED).
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from sagechain.api_errors import ApiError
from sagechain.observability import logger

JSON = "application/json"
# Statuses whose answers carry Retry-After.
RETRY_AFTER_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable code and a sentence for a person."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    code: str
    message: str


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    error: ErrorDetail


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> Response[str]:
    """An error answer in the API's one shape."""
    body = ErrorResponse(error=ErrorDetail(code=code, message=message)).model_dump_json()
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(status_code=status, content_type=JSON, body=body, headers=headers)


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the error statuses a route answers."""
    entries: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        entry: OpenAPIResponse = {
            "description": HTTPStatus(status).phrase,
            "content": {JSON: {"model": ErrorResponse}},
        }
        if status in RETRY_AFTER_STATUSES:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
        entries[status] = entry
    return entries


def _describe_validation_error(err: RequestValidationError) -> str:
    problems = []
    for error in err.errors():
        where = " ".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "the request is not valid"


def _not_a_rest_request(event: object) -> str | None:
    """Why an event is not an API Gateway REST proxy request (payload 1.0), or None when it is one.

    The template wires a REST API; an HTTP API (payload 2.0: version "2.0", rawPath,
    requestContext.http) or anything else must get a JSON answer, not a traceback
    (API Gateway developer guide, "Lambda proxy integrations": the 1.0 and 2.0 formats).
    """
    if not isinstance(event, Mapping):
        return "the event is not a JSON object"
    if event.get("version") == "2.0" or "rawPath" in event:
        return "this API answers API Gateway REST API requests (payload format 1.0), not HTTP API (2.0)"
    if not isinstance(event.get("httpMethod"), str) or not isinstance(event.get("path"), str):
        return "the event is not an API Gateway REST API proxy request (no httpMethod and path)"
    if not isinstance(event.get("requestContext", {}), dict):
        return "the event's requestContext is not an object"
    return None


class SagechainResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver with request validation and sagechain's error contract.

    Request validation failures are answered 400 (not Powertools' 422), ApiError subclasses
    with their own status, anything unexpected 500 with no detail (the detail is logged).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enable_validation=True, **kwargs)
        self.exception_handler(ApiError)(self._api_error)
        self.exception_handler(RequestValidationError)(self._invalid_request)
        self.exception_handler(Exception)(self._unexpected)
        self.not_found(self._no_route)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The route's answer; a 400 in the API's error shape for an event of another kind."""
        problem = _not_a_rest_request(event)
        if problem is None:
            return super().resolve(event, context)
        logger.warning("not a REST API request; answered 400", extra={"reason": problem})
        body = ErrorResponse(error=ErrorDetail(code="unsupported_event", message=problem)).model_dump_json()
        # Proxy integration's response form, which both payload formats accept.
        return {
            "statusCode": HTTPStatus.BAD_REQUEST,
            "headers": {"Content-Type": JSON},
            "multiValueHeaders": {"Content-Type": [JSON]},
            "body": body,
            "isBase64Encoded": False,
        }

    @staticmethod
    def _api_error(err: ApiError) -> Response[str]:
        logger.info("request answered with an error", extra={"status": err.status, "code": err.code})
        return error_response(err.status, err.code, err.message, err.retry_after)

    @staticmethod
    def _invalid_request(err: RequestValidationError) -> Response[str]:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", _describe_validation_error(err))

    @staticmethod
    def _unexpected(err: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something failed on our side; retry in a moment.",
        )

    @staticmethod
    def _no_route(err: NotFoundError) -> Response[str]:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route")
