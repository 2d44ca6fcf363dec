"""The stack's two REST APIs, called with the caller's AWS credentials (SigV4).

With ApiAuth=IAM (the template's default) API Gateway wants every request signed with
Signature Version 4 for the service `execute-api` by a principal allowed execute-api:Invoke
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html);
botocore's SigV4Auth signs with whatever credentials the caller's session resolves. With
ApiAuth=API_KEY, pass the key (--api-key): it is sent as x-api-key instead.
"""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session

from sagechain_cli.errors import FAILED, NOT_FOUND, REFUSED, CliError

TIMEOUT_SECONDS = 35  # API Gateway gives up at 29 s


@dataclass(frozen=True)
class Answer:
    """A 2XX answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class ApiClient:
    """Signed requests to one API's base URL (…/v1)."""

    def __init__(
        self,
        base_url: str,
        region: str,
        credentials: Credentials | None,
        api_key: str | None = None,
        http: URLLib3Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._region = region
        self._credentials = credentials
        self._api_key = api_key
        self._http = http or URLLib3Session(timeout=TIMEOUT_SECONDS)

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; a CliError that says what to do unless the API answered 2XX."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.base_url + quote(path) + (f"?{urlencode(params)}" if params else "")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        if self._api_key:
            request.headers["x-api-key"] = self._api_key
        elif self._credentials is not None:
            SigV4Auth(self._credentials, "execute-api", self._region).add_auth(request)
        try:
            response = self._http.send(request.prepare())
        except BotoCoreError as err:  # connection refused, DNS, TLS, timeouts
            raise CliError(f"could not reach {self.base_url}: {err}", FAILED) from None
        answer = Answer(response.status_code, dict(response.headers.items()), response.content)
        if 200 <= answer.status < 300:
            return answer
        raise _refusal(method, path, answer)


def _refusal(method: str, path: str, answer: Answer) -> CliError:
    code, message = "", answer.body.decode(errors="replace")[:500]
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            code, message = str(error.get("code", "")), str(error.get("message", ""))
        elif "message" in document:
            message = str(document["message"])
    said = f"{method} {path}: {answer.status}{' ' + code if code else ''}: {message}"
    if answer.status == 404:
        return CliError(said, NOT_FOUND)
    if answer.status == 403:
        hint = (
            " (your AWS identity needs execute-api:Invoke on this API: see the stack outputs "
            "InferenceInvokeArn and OperatorInvokeArn, and the README's 'Who may call what')"
        )
        return CliError(said + hint, REFUSED)
    if answer.status == 409:
        return CliError(said, REFUSED)
    return CliError(said, FAILED)
