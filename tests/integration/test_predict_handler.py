"""predict's handler on API Gateway proxy events: model.json in moto's S3, InvokeEndpoint through
botocore's Stubber, so every request SageMaker would get is checked against its API model."""

import base64
import copy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from local.lambda_context import FakeLambdaContext
from moto import mock_aws
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeoutError

from sagechain.adapters.sagemaker_runtime import SageMakerRuntimeEndpoint
from sagechain.inference import predict as service
from tests.aws import BUCKET, ROOT, load_handler, sample_event
from tests.fakes import FakeClock
from tests.stubs import count_calls, stubbed

pytestmark = pytest.mark.integration
SAMPLE_PNG = (ROOT / "local" / "sample_data.png").read_bytes()
LABELS = ["daisy", "rose", "tulip"]
ENDPOINT = "sagechain-flowers"
ACCOUNT = "123456789012"


@dataclass
class Api:
    handler: ModuleType
    client: Any
    stubber: Stubber
    calls: Any
    clock: FakeClock

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.handler.handler(event, FakeLambdaContext())  # type: ignore[no-any-return]

    def answers(self, prediction: object, expected: dict[str, Any] | None = None) -> None:
        body = json.dumps({"prediction": prediction}).encode()
        self.stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
            expected,
        )


def model_json(model: str, task: str = "image-classification", algorithm: str = "builtin") -> bytes:
    return json.dumps(
        {
            "model": model,
            "endpoint_name": f"sagechain-{model}",
            "task": task,
            "labels": LABELS,
            "labeling": {"mode": "ground-truth"},
            "algorithm": algorithm,
            "model_name": f"sagechain-{model}-1",
            "training_job_name": f"sagechain-{model}-1",
            "run_id": f"{model}-8b39944c64ac",
            "dataset": model,
            "deployed_at": datetime(2026, 11, 25, tzinfo=UTC).isoformat(),
        }
    ).encode()


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="models/flowers/model.json", Body=model_json("flowers"))
        s3.put_object(
            Bucket=BUCKET, Key="models/gardens/model.json", Body=model_json("gardens", "object-detection")
        )
        s3.put_object(
            Bucket=BUCKET, Key="models/reviews/model.json", Body=model_json("reviews", algorithm="custom")
        )
        handler = load_handler("predict")
        with stubbed("sagemaker-runtime") as (client, stubber):
            clock = FakeClock()
            handler.endpoints = SageMakerRuntimeEndpoint(lambda _timeout: client)
            handler.timing = service.Timing(now=clock.now, sleep=clock.sleep, jitter=clock.jitter)
            yield Api(handler, client, stubber, count_calls(client), clock)


def png_event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample_event("predict", "png_image"))
    event.update(changes)
    return event


def image_event(body: bytes, content_type: str = "image/jpeg", model: str = "flowers") -> dict[str, Any]:
    event = png_event(body=base64.b64encode(body).decode(), path=f"/models/{model}/predict")
    event["headers"]["Content-Type"] = event["multiValueHeaders"]["Content-Type"][0] = content_type
    event["pathParameters"] = {"model": model}
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    return event


def error_of(response: dict[str, Any]) -> tuple[int, str]:
    body = json.loads(response["body"])
    return response["statusCode"], body["error"]["code"]


# ---------------------------------------------------------------- bytes in, labels out


def test_sample_event_carries_the_sample_png_base64_encoded() -> None:
    event = sample_event("predict", "png_image")

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == SAMPLE_PNG
    assert len(set(SAMPLE_PNG)) == 256  # every byte value: nothing text-like survives by luck


def test_png_bytes_arrive_intact_in_invoke_endpoint(api: Api) -> None:
    api.answers(
        [0.1, 0.7, 0.2],
        expected={
            "EndpointName": ENDPOINT,
            "Body": SAMPLE_PNG,
            "ContentType": "image/png",
            "Accept": "application/json",
        },
    )

    response = api.call(png_event())

    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert json.loads(response["body"]) == {
        "model": "flowers",
        "task": "image-classification",
        "k": 3,
        "predictions": [
            {"label": "rose", "score": 0.7},
            {"label": "tulip", "score": 0.2},
            {"label": "daisy", "score": 0.1},
        ],
    }


def test_object_detection_answers_boxes(api: Api) -> None:
    api.answers([[1.0, 0.9, 0.1, 0.2, 0.5, 0.6], [2.0, 0.3, 0, 0, 1, 1]])

    response = api.call(image_event(SAMPLE_PNG, "application/x-image", model="gardens"))

    assert json.loads(response["body"])["predictions"] == [
        {"label": "rose", "score": 0.9, "xmin": 0.1, "ymin": 0.2, "xmax": 0.5, "ymax": 0.6}
    ]


def test_a_custom_container_gets_json_and_its_answer_comes_back_with_its_content_type(api: Api) -> None:
    event = sample_event("predict", "custom_json_body")
    reply = b'{"sentiment": "positive"}'
    api.stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(reply), len(reply)), "ContentType": "application/vnd.reviews+json"},
        {
            "EndpointName": "sagechain-reviews",
            "Body": event["body"].encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
        },
    )

    response = api.call(event)

    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["application/vnd.reviews+json"]
    assert (response["body"], response["isBase64Encoded"]) == ('{"sentiment": "positive"}', False)


def test_a_custom_containers_binary_answer_goes_back_base64_encoded(api: Api) -> None:
    api.stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(SAMPLE_PNG), len(SAMPLE_PNG)), "ContentType": "image/png"},
    )

    response = api.call(image_event(SAMPLE_PNG, "image/png", model="reviews"))

    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == SAMPLE_PNG


# ---------------------------------------------------------------- the size boundary


def test_exactly_6_291_456_decoded_bytes_reach_sagemaker(api: Api) -> None:
    image = b"\xff\xd8\xff" + b"\0" * (6_291_456 - 3)
    api.answers(
        [0.1, 0.7, 0.2],
        expected={
            "EndpointName": ENDPOINT,
            "Body": image,
            "ContentType": "image/jpeg",
            "Accept": "application/json",
        },
    )

    response = api.call(image_event(image))

    assert response["statusCode"] == 200
    assert api.calls["InvokeEndpoint"] == 1


def test_one_byte_more_is_413_and_sagemaker_is_never_called(api: Api) -> None:
    image = b"\xff\xd8\xff" + b"\0" * (6_291_456 - 2)

    response = api.call(image_event(image))

    assert error_of(response) == (413, "payload_too_large")
    assert api.calls["InvokeEndpoint"] == 0


# ---------------------------------------------------------------- every status


def test_unknown_model_is_404(api: Api) -> None:
    response = api.call(image_event(SAMPLE_PNG, "image/png", model="weeds"))

    assert error_of(response) == (404, "model_not_found")
    assert api.calls["InvokeEndpoint"] == 0


def test_unsupported_content_type_is_415(api: Api) -> None:
    response = api.call(sample_event("predict", "unsupported_content_type"))

    assert error_of(response) == (415, "unsupported_media_type")
    assert api.calls["InvokeEndpoint"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": None}, "no body"),
        ({"body": base64.b64encode(b"GIF89a").decode()}, "not a JPEG or PNG"),
        ({"body": "not*base64"}, "base64"),
        ({"queryStringParameters": {"k": "0"}, "multiValueQueryStringParameters": {"k": ["0"]}}, "query k"),
        (
            {"queryStringParameters": {"k": "many"}, "multiValueQueryStringParameters": {"k": ["many"]}},
            "query k",
        ),
        (
            {
                "queryStringParameters": {"threshold": "2"},
                "multiValueQueryStringParameters": {"threshold": ["2"]},
            },
            "query threshold",
        ),
    ],
)
def test_a_bad_request_is_400_and_says_what_is_wrong(api: Api, change: dict[str, Any], message: str) -> None:
    response = api.call(png_event(**change))

    assert error_of(response) == (400, "invalid_request")
    assert message in json.loads(response["body"])["error"]["message"]
    assert api.calls["InvokeEndpoint"] == 0


def _sagemaker_error(api: Api, code: str, status: int, times: int = 1, **fields: Any) -> None:
    # SageMaker's own messages name the endpoint's ARN and the account: none may reach the caller.
    message = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{ENDPOINT} failed for account {ACCOUNT}"
    for _ in range(times):
        api.stubber.add_client_error(
            "invoke_endpoint",
            service_error_code=code,
            service_message=message,
            http_status_code=status,
            modeled_fields=fields or None,
        )


@pytest.mark.parametrize(
    ("code", "http_status", "expected", "retry_after"),
    [
        ("ThrottlingException", 400, (429, "throttled"), "1"),
        ("ModelNotReadyException", 429, (503, "model_not_ready"), "5"),
        ("ServiceUnavailable", 503, (503, "service_unavailable"), "5"),
        ("InternalFailure", 500, (503, "service_unavailable"), "5"),
        ("InternalDependencyException", 530, (503, "service_unavailable"), "5"),
    ],
)
def test_transient_sagemaker_errors_are_retried_then_answered_with_retry_after(
    api: Api, code: str, http_status: int, expected: tuple[int, str], retry_after: str
) -> None:
    _sagemaker_error(api, code, http_status, times=5)

    response = api.call(png_event())

    assert error_of(response) == expected
    assert response["multiValueHeaders"]["Retry-After"] == [retry_after]
    assert api.calls["InvokeEndpoint"] == 5
    _assert_nothing_leaks(response)


def test_a_burst_throttled_during_scale_out_succeeds_after_backoff(api: Api) -> None:
    _sagemaker_error(api, "ThrottlingException", 400, times=2)
    _sagemaker_error(api, "ModelNotReadyException", 429)
    api.answers([0.1, 0.7, 0.2])

    response = api.call(png_event())

    assert response["statusCode"] == 200
    assert api.calls["InvokeEndpoint"] == 4
    assert api.clock.sleeps == [0.1, 0.2, 0.4]


@pytest.mark.parametrize(
    ("code", "http_status", "fields", "expected"),
    [
        (
            "ModelError",
            424,
            {
                "OriginalStatusCode": 500,
                "OriginalMessage": "Traceback (most recent call last)",
                "LogStreamArn": "arn",
            },
            (424, "model_error"),
        ),
        ("ValidationError", 400, {}, (400, "invalid_request")),
    ],
)
def test_model_and_validation_errors_are_not_retried(
    api: Api, code: str, http_status: int, fields: dict[str, Any], expected: tuple[int, str]
) -> None:
    _sagemaker_error(api, code, http_status, **fields)

    response = api.call(png_event())

    assert error_of(response) == expected
    assert api.calls["InvokeEndpoint"] == 1
    _assert_nothing_leaks(response)


def test_a_missing_endpoint_is_503_with_retry_after(api: Api) -> None:
    api.stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationError",
        service_message=f"Endpoint {ENDPOINT} of account {ACCOUNT} not found.",
        http_status_code=400,
    )

    response = api.call(png_event())

    assert error_of(response) == (503, "endpoint_unavailable")
    assert response["multiValueHeaders"]["Retry-After"] == ["60"]
    _assert_nothing_leaks(response)


def test_a_model_slower_than_the_deadline_is_504(api: Api) -> None:
    class Stalled(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise URLLib3ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]

    api.stubber.add_response("invoke_endpoint", {"Body": StreamingBody(Stalled(), 100)})

    response = api.call(png_event())

    assert error_of(response) == (504, "timeout")
    assert api.calls["InvokeEndpoint"] == 1


def test_an_unexpected_error_is_500_with_nothing_to_learn_from(api: Api) -> None:
    _sagemaker_error(api, "AccessDeniedException", 403)

    response = api.call(png_event())

    assert error_of(response) == (500, "internal_error")
    assert (
        json.loads(response["body"])["error"]["message"] == "Something failed on our side; retry in a moment."
    )
    _assert_nothing_leaks(response)


def _assert_nothing_leaks(response: dict[str, Any]) -> None:
    for secret in ("arn:", ACCOUNT, "Traceback", ENDPOINT):
        assert secret not in response["body"]


# ---------------------------------------------------------------- events of another shape


@pytest.mark.parametrize(
    "event",
    [
        sample_event("predict", "http_api_v2"),
        {},
        {"httpMethod": "POST"},
        {"httpMethod": 7, "path": ["/"]},
        {"httpMethod": "POST", "path": "/models/flowers/predict", "requestContext": "forged"},
    ],
    ids=["http-api-payload-2.0", "empty", "no-path", "wrong-types", "bad-request-context"],
)
def test_an_event_that_is_not_a_rest_request_gets_a_json_400_not_a_traceback(
    api: Api, event: dict[str, Any]
) -> None:
    response = api.call(event)

    assert error_of(response) == (400, "unsupported_event")
    assert response["headers"]["Content-Type"] == "application/json"
    assert api.calls["InvokeEndpoint"] == 0


# ---------------------------------------------------------------- the direct route and the resolver agree


def _query(**values: str | list[str] | None) -> dict[str, Any]:
    single = {name: (v[-1] if isinstance(v, list) else v) for name, v in values.items() if v is not None}
    multi = {name: (v if isinstance(v, list) else [v]) for name, v in values.items() if v is not None}
    return {"queryStringParameters": single or None, "multiValueQueryStringParameters": multi or None}


# (the request's changes, whether the direct route answers it rather than handing it to the resolver)
_REQUESTS: list[tuple[str, dict[str, Any], bool]] = [
    ("sample", {}, True),
    ("no-query", _query(), True),
    ("k-1", _query(k="1"), True),
    ("k-large", _query(k="999999999"), True),
    ("k-zero", _query(k="0"), False),
    ("k-leading-zero", _query(k="05"), False),
    ("k-spaces", _query(k=" 2"), False),
    ("k-comma", _query(k="1,2"), False),
    ("k-repeated", _query(k=["1", "2"]), False),
    ("k-single-only", {"queryStringParameters": {"k": "2"}, "multiValueQueryStringParameters": None}, True),
    (
        "k-disagreeing",
        {"queryStringParameters": {"k": "2"}, "multiValueQueryStringParameters": {"k": ["1"]}},
        False,
    ),
    ("threshold-quarter", _query(threshold="0.25"), True),
    ("threshold-point-five", _query(threshold=".5"), True),
    ("threshold-one", _query(threshold="1.0"), True),
    ("threshold-zero", _query(threshold="0"), True),
    ("threshold-exponent", _query(threshold="1e-1"), False),
    ("threshold-over", _query(threshold="1.5"), False),
    ("threshold-nan", _query(threshold="nan"), False),
    ("both", _query(k="2", threshold="0.3"), True),
    ("unknown-query", _query(size="9"), True),
    ("lowercase-method", {"httpMethod": "post"}, True),
    ("other-method", {"httpMethod": "GET"}, False),
    ("trailing-slash", {"path": "/models/flowers/predict/"}, True),
    ("stage-in-path", {"path": "/prod/models/flowers/predict"}, False),
    ("unknown-model", {"path": "/models/tulips/predict"}, True),
    ("gif", {"body": base64.b64encode(b"GIF89a").decode()}, True),
    ("no-body", {"body": None}, True),
    ("openapi", {"httpMethod": "GET", "path": "/openapi.json", "body": None}, False),
    ("query-not-an-object", {"queryStringParameters": ["k"], "multiValueQueryStringParameters": None}, False),
    (
        "multi-value-not-a-list",
        {"queryStringParameters": None, "multiValueQueryStringParameters": {"k": "2"}},
        False,
    ),
    (
        "multi-value-not-text",
        {"queryStringParameters": None, "multiValueQueryStringParameters": {"k": [2]}},
        False,
    ),
    ("no-headers", {"headers": None, "multiValueHeaders": None}, True),
]


@pytest.mark.parametrize(
    ("changes", "direct"), [(c, d) for _, c, d in _REQUESTS], ids=[n for n, _, _ in _REQUESTS]
)
def test_the_direct_route_answers_exactly_as_the_resolver_would(
    api: Api, changes: dict[str, Any], direct: bool
) -> None:
    event = png_event(**changes)

    def answer(call: Any) -> dict[str, Any]:
        before = api.calls["InvokeEndpoint"]
        api.answers([0.1, 0.7, 0.2])
        response = call(copy.deepcopy(event), FakeLambdaContext())
        if api.calls["InvokeEndpoint"] == before:
            api.stubber._queue.clear()  # this request never reached SageMaker
        return response  # type: ignore[no-any-return]

    through_handler = answer(api.handler.handler)
    through_resolver = answer(api.handler.app.resolve)
    direct_only = answer(api.handler.direct.resolve)

    assert through_handler == through_resolver
    assert direct_only == (through_resolver if direct else None)
