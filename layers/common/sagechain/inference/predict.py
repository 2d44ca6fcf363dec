"""Stage 8: POST /models/{model}/predict, an image in and the model's answer out.

The live model is models/<model>/model.json (written when its endpoint is in service),
read through a per-container cache with a short TTL. The body is checked before SageMaker
is called: its size (the decoded payload, at most 6,291,456 bytes), its content type, and
for built-in algorithms that it really is a JPEG or PNG. InvokeEndpoint is retried with
full-jitter exponential backoff while SageMaker throttles or the endpoint is not ready, as
long as the answer still fits inside API Gateway's 29 s. A built-in algorithm's JSON
becomes labels or boxes; a custom container's answer is passed through as it came.
"""

import binascii
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from sagechain.api_errors import (
    ApiError,
    EndpointMissingError,
    InvalidRequestError,
    InvocationTimeoutError,
    ModelNotFoundError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    UnsupportedMediaTypeError,
)
from sagechain.errors import EndpointDeniedError, ObjectNotFoundError
from sagechain.layout import model_key
from sagechain.ports import EndpointAnswer, EndpointInvoker, ObjectStore
from sagechain.prediction import Prediction, builtin_prediction
from sagechain.records import ModelInfo

# InvokeEndpoint's Body limit (botocore's sagemaker-runtime model: Body max 6291456), checked
# on the decoded payload: API Gateway hands binary bodies to Lambda base64-encoded.
MAX_PAYLOAD_BYTES = 6_291_456
# A Lambda response is at most 6 MB with its JSON envelope; what a custom container answers
# must fit, base64-encoded when it is binary. Keep ~290 KB for headers and JSON escaping.
MAX_ANSWER_BYTES = 6_000_000
MODEL_JSON_MAX_BYTES = 1024 * 1024
DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.5

# Built-in image classification reads image/jpeg, image/png and application/x-image; object
# detection image/jpeg and image/png (SageMaker developer guide: image-classification.html
# "Inference with the Image Format Algorithm", object-detection-in-formats.html). Both answer
# JSON: {"prediction": [...]}; object detection also answers pixel boxes to
# "application/json;annotation=1", which builtin_prediction reads too.
IMAGE_TYPES = ("image/jpeg", "image/png", "application/x-image")
CUSTOM_TYPES = (*IMAGE_TYPES, "application/json")
BUILTIN_ACCEPT = "application/json"
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# SageMaker endpoint names (InvokeEndpoint's EndpointName pattern, at most 63 characters).
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# A header SageMaker accepts: printable ASCII, at most 1,024 characters.
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,1024}")
# Answers read as text; anything else goes back base64-encoded (API Gateway decodes it
# for callers whose Accept header names a binary media type of the Api).
_TEXT_TYPES = re.compile(r"(text/.*|application/(json|.*\+json|x-ndjson|jsonlines|xml|csv))(;.*)?", re.I)
# A name that was not found is asked again after this long, even when the TTL is longer.
NOT_FOUND_TTL_SECONDS = 5.0
ENDPOINT_MISSING_RETRY_AFTER = 60


@dataclass(frozen=True, slots=True)
class PredictRequest:
    """One call: the model's name, the body as bytes, and the caller's headers and options."""

    model: str
    body: bytes
    content_type: str | None
    accept: str | None = None
    k: int = DEFAULT_TOP_K
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How InvokeEndpoint is retried while SageMaker throttles or the model is not ready."""

    max_attempts: int = 5
    base_delay_seconds: float = 0.1
    max_delay_seconds: float = 2.0
    # A retry is only started when at least this long is left before the deadline.
    min_attempt_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class Timing:
    """Time as the retries see it: a monotonic clock, a sleep, a jitter (0..cap)."""

    now: Callable[[], float]
    sleep: Callable[[float], None]
    jitter: Callable[[float], float]


def body_bytes(body: str | None, base64_encoded: bool) -> bytes:
    """The request body as bytes; 413 when its decoded size is over the limit, checked
    before anything is decoded."""
    if not body:
        raise InvalidRequestError("the request has no body: send the image (or JSON) as the body")
    if not base64_encoded:
        data = body.encode()
        if len(data) > MAX_PAYLOAD_BYTES:
            raise _too_large(len(data))
        return data
    if len(body) % 4:
        raise InvalidRequestError("the body is not valid base64")
    size = len(body) // 4 * 3 - (2 if body.endswith("==") else 1 if body.endswith("=") else 0)
    if size > MAX_PAYLOAD_BYTES:
        raise _too_large(size)
    try:
        return binascii.a2b_base64(body.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise InvalidRequestError("the body is not valid base64") from None


def _too_large(size: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the body is {size:,} bytes; at most {MAX_PAYLOAD_BYTES:,} are accepted")


def media_type(content_type: str | None) -> str:
    """'image/png; x=y' -> 'image/png'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class ModelDirectory:
    """The live models (models/<model>/model.json), cached per container for a short TTL."""

    def __init__(
        self,
        store: ObjectStore,
        ttl_seconds: float,
        now: Callable[[], float] = time.monotonic,
        max_entries: int = 256,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._now = now
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, ModelInfo | None]] = OrderedDict()

    def get(self, model: str) -> ModelInfo:
        """The model's info; ModelNotFoundError when no live model has that name."""
        if not _ENDPOINT_NAME.fullmatch(model):
            raise _not_found(model)
        cached = self._entries.get(model)
        if cached is None or cached[0] <= self._now():
            cached = self._load(model)
        info = cached[1]
        if info is None:
            raise _not_found(model)
        if info.deleted_at is not None:
            raise ModelNotFoundError(
                f"model {model!r} was deleted at {info.deleted_at.isoformat()} and answers no predictions; "
                "a new run of its dataset deploys it again",
                code="model_deleted",
            )
        if info.expired_at is not None:
            # deployment.ttl_hours passed: the endpoint was deleted (expiry.py); no model serves here.
            raise ModelNotFoundError(
                f"model {model!r} expired at {info.expired_at.isoformat()}: its endpoint was deleted"
            )
        return info

    def forget(self, model: str) -> None:
        """Read the model's info again on its next request."""
        self._entries.pop(model, None)

    def recheck(self, model: str) -> None:
        """After its endpoint went missing: ModelNotFoundError when the model was deleted meanwhile
        (DELETE /models/{model}); else forget it, so the next request reads its endpoint afresh."""
        self.forget(model)
        try:
            self.get(model)
        finally:
            self.forget(model)

    def _load(self, model: str) -> tuple[float, ModelInfo | None]:
        info: ModelInfo | None
        try:
            raw = self._store.read_bytes(model_key(model), MODEL_JSON_MAX_BYTES)
            info = ModelInfo.model_validate_json(raw)
            expires = self._now() + self._ttl
        except ObjectNotFoundError:
            info, expires = None, self._now() + min(self._ttl, NOT_FOUND_TTL_SECONDS)
        except ValidationError:
            # An operator's problem, not the caller's: say little, log the rest.
            raise ApiError(f"model {model} is misconfigured", code="model_misconfigured") from None
        self._entries[model] = (expires, info)
        self._entries.move_to_end(model)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return expires, info


def _not_found(model: str) -> ModelNotFoundError:
    return ModelNotFoundError(f"no live model named {model!r}")


def predict(
    request: PredictRequest,
    directory: ModelDirectory,
    invoker: EndpointInvoker,
    deadline: float,
    timing: Timing,
    policy: RetryPolicy | None = None,
) -> Prediction | EndpointAnswer:
    """The model's answer: labels or boxes for built-in algorithms, the container's own
    answer for custom ones. `deadline` is on timing.now()'s clock."""
    declared = media_type(request.content_type)
    if declared not in CUSTOM_TYPES:
        raise UnsupportedMediaTypeError(
            f"content type {declared or '(none)'!r} is not accepted; send one of {', '.join(CUSTOM_TYPES)}"
        )
    info = directory.get(request.model)
    if info.algorithm == "custom":
        content_type, accept = _custom_headers(request, declared)
    else:
        content_type, accept = _builtin_content_type(request.body, declared), BUILTIN_ACCEPT
    try:
        answer = invoke_with_retries(
            invoker, info.endpoint_name, request.body, content_type, accept, deadline, timing, policy
        )
    except EndpointMissingError as err:
        directory.recheck(request.model)
        err.retry_after = ENDPOINT_MISSING_RETRY_AFTER
        raise
    except EndpointDeniedError:
        directory.recheck(request.model)  # 404 if the model was deleted meanwhile; else a 500
        raise
    if info.algorithm == "custom":
        return _checked_answer(answer)
    return builtin_prediction(info, answer, request.k, request.threshold)


def _custom_headers(request: PredictRequest, declared: str) -> tuple[str, str | None]:
    if declared == "application/json":
        try:
            json.loads(request.body)
        except ValueError:
            raise InvalidRequestError("the body is not valid JSON") from None
    content_type = request.content_type or declared
    for name, value in (("Content-Type", content_type), ("Accept", request.accept)):
        if value is not None and not _HEADER_VALUE.fullmatch(value):
            raise InvalidRequestError(f"the {name} header must be printable ASCII, at most 1,024 characters")
    return content_type, request.accept


def _builtin_content_type(body: bytes, declared: str) -> str:
    if declared not in IMAGE_TYPES:
        raise UnsupportedMediaTypeError(
            f"this model reads images: send one of {', '.join(IMAGE_TYPES)}, not {declared!r}"
        )
    # What the bytes are decides: object detection does not read application/x-image.
    if body.startswith(_JPEG):
        return "image/jpeg"
    if body.startswith(_PNG):
        return "image/png"
    raise InvalidRequestError("the body is not a JPEG or PNG image")


def invoke_with_retries(
    invoker: EndpointInvoker,
    endpoint: str,
    body: bytes,
    content_type: str,
    accept: str | None,
    deadline: float,
    timing: Timing,
    policy: RetryPolicy | None = None,
) -> EndpointAnswer:
    """InvokeEndpoint, retried with full-jitter exponential backoff on retryable errors while
    attempts and time are left; the last error is raised otherwise."""
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - timing.now()
        if remaining <= 0:
            raise InvocationTimeoutError("the model did not answer in time")
        try:
            return invoker.invoke(endpoint, body, content_type, accept, remaining)
        except ApiError as err:
            if not err.retryable or attempt >= policy.max_attempts:
                raise
            cap = min(policy.max_delay_seconds, policy.base_delay_seconds * 2 ** (attempt - 1))
            delay = timing.jitter(cap)
            if deadline - timing.now() - delay < policy.min_attempt_seconds:
                raise
            timing.sleep(delay)


def _checked_answer(answer: EndpointAnswer) -> EndpointAnswer:
    textual = answer.content_type is not None and _TEXT_TYPES.fullmatch(answer.content_type) is not None
    size = len(answer.body) if textual else (len(answer.body) + 2) // 3 * 4
    if size > MAX_ANSWER_BYTES:
        raise ResponseTooLargeError(
            f"the model answered {len(answer.body):,} bytes, more than an API response can carry"
        )
    return answer


def answer_body(answer: EndpointAnswer) -> str | bytes:
    """A custom container's answer as the API returns it: text when its content type is
    textual and it is UTF-8, else bytes (sent base64-encoded)."""
    if answer.content_type and _TEXT_TYPES.fullmatch(answer.content_type):
        try:
            return answer.body.decode()
        except UnicodeDecodeError:
            pass
    return answer.body
