"""API Gateway for the offline stack: HTTP requests become REST API proxy events.

Routes come from template.yaml (each function's `Type: Api` events), so the local API
has exactly the deployed paths; each route knows its API (Api or OperatorApi), and one
server answers both. Authentication is not modelled, except API keys: a request that
carries x-api-key must carry a key of its route's API's usage plan, or it is refused 403
as API Gateway refuses it. Binary bodies are base64-encoded as API Gateway does
for the stack's binary media types, and a base64-encoded response is decoded on the
way out.

Where the offline API differs from API Gateway, it does so to help a person at a terminal:
an unknown route is a JSON 404 that lists the routes (API Gateway answers 403 "Missing
Authentication Token"); a body that is not UTF-8 text arrives base64-encoded whatever its
Content-Type says (curl --data-binary without -H sends application/x-www-form-urlencoded, which
API Gateway would pass on as mangled text: the handler answers 415 either way); a handler that
raises is a 502 as API Gateway's "Internal server error", not a dropped connection; and the
deployed APIs' URLs in answers are rewritten to the server's own (serve()).
"""

import base64
import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.template import ACCOUNT

TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")
STAGE = "v1"


@dataclass(frozen=True)
class Route:
    """One `Type: Api` event of a function."""

    function: str
    method: str
    path: str
    api: str = "Api"  # the template's logical id of the REST API the route is on

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path template as a regex with one named group per {parameter}."""
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class ApiResponse:
    """What the client gets back."""

    status: int
    headers: dict[str, str]
    body: bytes


def proxy_event(
    route: Route, method: str, raw_path: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event API Gateway sends for this request."""
    parts = urlsplit(raw_path)
    match = route.pattern.match(parts.path)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    content_type = headers.get("Content-Type", headers.get("content-type", ""))
    is_text = not body or (content_type.startswith(TEXT_TYPES) and _is_utf8(body))
    return {
        "resource": route.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": parse_qs(parts.query) or None,
        "pathParameters": match.groupdict() if match and match.groupdict() else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local" if route.api == "Api" else f"local-{route.api}",
            "stage": STAGE,
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{parts.path}",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(datetime.now(UTC).timestamp() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
        },
        "body": body.decode() if is_text else base64.b64encode(body).decode(),
        "isBase64Encoded": not is_text,
    }


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _json(status: int, document: dict[str, Any]) -> ApiResponse:
    return ApiResponse(status, {"Content-Type": "application/json"}, json.dumps(document).encode())


class LocalApi:
    """Routes requests to handlers by the template's Api events."""

    def __init__(
        self,
        routes: list[Route],
        invoke: Callable[[str, dict[str, Any]], Any],
        api_keys: dict[str, str] | None = None,
        deployed_urls: dict[str, str] | None = None,
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self.api_keys = api_keys or {}  # key value -> the API whose usage plan has it
        # The base URL each API (logical id) has in the functions' environment, e.g. the predict
        # URL template: serve() rewrites them in answers to the local server's.
        self.deployed_urls = deployed_urls or {}
        # Text replaced in every text answer (deployed URL -> local URL); serve() and the sandbox add.
        self.replacements: dict[str, str] = {}

    def route_list(self) -> list[str]:
        """Every route as METHOD /v1/path, the order the template declares them."""
        return list(dict.fromkeys(f"{r.method.upper()} /{STAGE}{r.path}" for r in self.routes))

    def _localized(self, headers: dict[str, str], payload: bytes) -> bytes:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if not self.replacements or not content_type.startswith(TEXT_TYPES):
            return payload
        text = payload.decode()
        for deployed, local in self.replacements.items():
            text = text.replace(deployed, local)
        return text.encode()

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> ApiResponse:
        """One request, answered as API Gateway would."""
        path = urlsplit(raw_path).path
        routes = [r for r in self.routes if r.method.upper() in {method, "ANY"} and r.pattern.match(path)]
        api_key = next((value for name, value in headers.items() if name.lower() == "x-api-key"), None)
        if routes and api_key is not None:
            # A key works only on the stages of its usage plan; elsewhere API Gateway answers 403
            # (INVALID_API_KEY, message "Forbidden": {"message":"Forbidden"} uncustomized, here in
            # the template's DEFAULT_4XX error shape; tests/unit/test_local_api.py checks both).
            routes = [r for r in routes if self.api_keys.get(api_key) == r.api]
            if not routes:
                return _json(403, {"error": {"code": "INVALID_API_KEY", "message": "Forbidden"}})
        if routes:
            route = routes[0]
            result = self._invoke(route.function, proxy_event(route, method, raw_path, headers, body))
            data = result.get("body") or ""
            payload = base64.b64decode(data) if result.get("isBase64Encoded") else data.encode()
            # Powertools answers with multiValueHeaders; API Gateway merges both forms.
            multi = result.get("multiValueHeaders") or {}
            answer_headers = {key: values[-1] for key, values in multi.items() if values}
            answer_headers.update(result.get("headers") or {})
            status = int(result.get("statusCode", 200))
            return ApiResponse(status, answer_headers, self._localized(answer_headers, payload))
        # API Gateway answers an unknown route 403 "Missing Authentication Token"; offline, a
        # person gets told what exists instead.
        unknown = f"no route {method} /{STAGE}{path} (on AWS: 403 Missing Authentication Token)"
        return _json(
            404, {"error": {"code": "ROUTE_NOT_FOUND", "message": unknown}, "routes": self.route_list()}
        )


def serve(api: LocalApi, port: int, lock: threading.Lock) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 that answers through api (one request at a time); the
    deployed APIs' URLs in its answers become its own (port 0: any free port)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # API Gateway's URLs start with the stage (/v1/...); the routes do not.
            path = self.path.removeprefix(f"/{STAGE}") or "/"
            try:
                with lock:
                    response = api.handle(self.command, path, dict(self.headers.items()), body)
            except Exception:  # API Gateway answers a failed integration 502; so does this server
                traceback.print_exc()
                response = _json(502, {"message": "Internal server error"})
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            print(f"  http {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    local = f"http://127.0.0.1:{server.server_port}/{STAGE}"
    api.replacements.update(dict.fromkeys(api.deployed_urls.values(), local))
    return server
