"""The REST resolver every API function uses: request validation on, every error in one shape.

API Gateway's own errors (auth, stage throttling, payloads over 10 MB) take the same shape
through the Api's gateway responses in template.yaml; their codes are API Gateway's, in
capitals (e.g. THROTTLED, ACCESS_DENIED).
"""

import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Route
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


# Parses one query string value: the value, or None when the resolver should judge it instead.
QueryParser = Callable[[str], Any | None]


class DirectRoute:
    """One of a resolver's routes answered without its per-request machinery (route search, the
    OpenAPI validation middleware, the middleware frames), for the requests it can vouch for.

    predict's time per request is mostly decoding the image and SageMaker's; what is left is this
    machinery, and on a large body it is what makes the handler slower than a bare one (issue 20:
    p50 <= 1.15x the bare handler at 1 MB; bench/predict_overhead.py). Any request it cannot
    vouch for — another method or path, a query value its parser does not take plainly (a
    repeated or comma-separated value, a number out of bounds), an event that is not a REST
    request — goes to the resolver, so every error is the resolver's own answer. What it does
    answer is built the way the resolver builds it: the same route function, the same exception
    handlers, the same ResponseBuilder (tests/integration/test_predict_handler.py compares the
    two on a matrix of requests).
    """

    def __init__(
        self, app: SagechainResolver, method: str, rule: str, queries: Mapping[str, QueryParser]
    ) -> None:
        routes = [*app._static_routes, *app._dynamic_routes]
        matching = [route for route in routes if route.method == method.upper() and route.path == rule]
        if len(matching) != 1:
            raise ValueError(f"the resolver has no single route {method} {rule}")
        self._app = app
        self._route: Route = matching[0]
        self._queries = dict(queries)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any] | None:
        """The route's answer, or None when the resolver must answer this event."""
        arguments = self._arguments(event)
        if arguments is None:
            return None
        app, route = self._app, self._route
        proxy_event = app._to_proxy_event(cast(dict[str, Any], event))
        BaseRouter.current_event = proxy_event
        BaseRouter.lambda_context = context
        try:
            app.context.update(_route=route, _path=event["path"])
            try:
                builder = app._response_builder_class(
                    response=cast(Response[Any], app._to_response(route.func(**arguments))),
                    serializer=app._serializer,
                    route=route,
                )
            except Exception as err:
                handled = app._call_exception_handler(err, route)
                if handled is None:
                    raise
                builder = handled
            return builder.build(proxy_event, app._cors)
        finally:
            app.context.clear()

    def _arguments(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        arguments = self._path_arguments(event)
        if arguments is None:
            return None
        single = event.get("queryStringParameters") or {}
        multi = event.get("multiValueQueryStringParameters") or {}
        if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
            return None
        for name, parse in self._queries.items():
            value = _one_value(single.get(name), multi.get(name))
            if value is _ABSENT:
                continue
            if not isinstance(value, str) or "," in value:
                return None
            parsed = parse(value)
            if parsed is None:
                return None
            arguments[name] = parsed
        return arguments

    def _path_arguments(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """The route's path parameters, or None when the event is not a request for this route
        (or the resolver is in debug mode: it prints each event)."""
        if self._app._debug or _not_a_rest_request(event) is not None:
            return None
        if event["httpMethod"].upper() != self._route.method:
            return None
        match = self._route.rule.match(event["path"])
        return None if match is None else dict(match.groupdict())


_ABSENT = object()
_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,8}")
_FRACTION = re.compile(r"(0|1)(\.[0-9]{1,16})?|\.[0-9]{1,16}")


def plain_whole_number(value: str) -> int | None:
    """An integer >= 1 written plainly ("3"); None leaves anything else to the resolver."""
    return int(value) if _WHOLE_NUMBER.fullmatch(value) else None


def plain_fraction(value: str) -> float | None:
    """A number from 0 to 1 written plainly ("0.25", ".5", "1"); None leaves anything else to the resolver."""
    if not _FRACTION.fullmatch(value):
        return None
    number = float(value)
    return number if 0 <= number <= 1 else None


def _one_value(single: object, multi: object) -> object:
    """The query parameter's one value; _ABSENT when it is not given; None when it is given in a
    form only the resolver should judge (several values, or the two fields disagreeing)."""
    if multi is None:
        return _ABSENT if single is None else single
    if not isinstance(multi, list) or len(multi) != 1:
        return None
    if single is not None and single != multi[0]:
        return None
    return multi[0]
