"""The predict service on in-memory fakes: bodies, model lookup, retries and output mapping."""

import base64
import json
from datetime import UTC, datetime

import pytest

from sagechain.api_errors import (
    EndpointMissingError,
    InvalidRequestError,
    InvocationTimeoutError,
    ModelFailedError,
    ModelNotFoundError,
    ModelUnavailableError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    ThrottledError,
    UnsupportedMediaTypeError,
)
from sagechain.inference import predict as service
from sagechain.ports import EndpointAnswer
from sagechain.records import ModelInfo
from tests.fakes import FakeClock, MemoryStore, ScriptedEndpoint

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
LABELS = ["daisy", "rose", "tulip", "iris", "lily", "orchid"]


def model_info(
    task: str = "image-classification", algorithm: str = "builtin", **overrides: object
) -> ModelInfo:
    return ModelInfo.model_validate(
        {
            "model": "flowers",
            "endpoint_name": "sagechain-flowers",
            "task": task,
            "labels": LABELS,
            "labeling": {"mode": "ground-truth"},
            "algorithm": algorithm,
            "model_name": "sagechain-flowers-1",
            "training_job_name": "sagechain-flowers-1",
            "run_id": "flowers-8b39944c64ac",
            "dataset": "flowers",
            "deployed_at": datetime(2026, 11, 25, tzinfo=UTC),
            **overrides,
        }
    )


def store_with(*infos: ModelInfo) -> MemoryStore:
    return MemoryStore(objects={f"models/{i.model}/model.json": i.model_dump_json().encode() for i in infos})


def answer(prediction: object) -> EndpointAnswer:
    return EndpointAnswer(json.dumps({"prediction": prediction}).encode(), "application/json")


def run(
    endpoint: ScriptedEndpoint,
    info: ModelInfo | None = None,
    body: bytes = PNG,
    content_type: str | None = "image/png",
    clock: FakeClock | None = None,
    **options: object,
) -> object:
    clock = clock or FakeClock()
    directory = service.ModelDirectory(store_with(info or model_info()), ttl_seconds=60, now=clock.now)
    request = service.PredictRequest(model="flowers", body=body, content_type=content_type, **options)  # type: ignore[arg-type]
    timing = service.Timing(now=clock.now, sleep=clock.sleep, jitter=clock.jitter)
    return service.predict(request, directory, endpoint, clock.now() + 25, timing)


# ---------------------------------------------------------------- the body


def test_a_decoded_body_of_exactly_the_limit_is_accepted() -> None:
    payload = b"\xff" * service.MAX_PAYLOAD_BYTES

    decoded = service.body_bytes(base64.b64encode(payload).decode(), base64_encoded=True)

    assert len(decoded) == 6_291_456


@pytest.mark.parametrize("size", [service.MAX_PAYLOAD_BYTES + 1, service.MAX_PAYLOAD_BYTES + 2, 8_000_000])
def test_a_decoded_body_over_the_limit_is_413_whatever_its_padding(size: int) -> None:
    encoded = base64.b64encode(b"\xff" * size).decode()

    with pytest.raises(PayloadTooLargeError, match=f"{size:,} bytes"):
        service.body_bytes(encoded, base64_encoded=True)


def test_a_text_body_is_measured_in_utf8_bytes() -> None:
    body = "é" * (service.MAX_PAYLOAD_BYTES // 2 + 1)  # two bytes each

    with pytest.raises(PayloadTooLargeError):
        service.body_bytes(body, base64_encoded=False)


@pytest.mark.parametrize("body", ["", None])
def test_no_body_is_a_bad_request(body: str | None) -> None:
    with pytest.raises(InvalidRequestError, match="no body"):
        service.body_bytes(body, base64_encoded=True)


@pytest.mark.parametrize("body", ["abc", "ab!d", "é" * 4])
def test_a_body_that_is_not_base64_is_a_bad_request(body: str) -> None:
    with pytest.raises(InvalidRequestError, match="base64"):
        service.body_bytes(body, base64_encoded=True)


def test_unsupported_content_type_is_415_before_the_model_is_looked_up() -> None:
    endpoint = ScriptedEndpoint()
    directory = service.ModelDirectory(MemoryStore(), ttl_seconds=60)
    request = service.PredictRequest(model="flowers", body=b"a rose", content_type="text/plain")

    with pytest.raises(UnsupportedMediaTypeError, match="text/plain"):
        service.predict(
            request, directory, endpoint, 25, service.Timing(lambda: 0, lambda _: None, lambda c: c)
        )

    assert endpoint.calls == []


def test_json_is_415_for_a_builtin_model() -> None:
    endpoint = ScriptedEndpoint()

    with pytest.raises(UnsupportedMediaTypeError, match="reads images"):
        run(endpoint, body=b"{}", content_type="application/json")

    assert endpoint.calls == []


def test_an_image_content_type_with_other_bytes_is_a_bad_request_and_sagemaker_is_not_called() -> None:
    endpoint = ScriptedEndpoint()

    with pytest.raises(InvalidRequestError, match="not a JPEG or PNG"):
        run(endpoint, body=b"GIF89a....", content_type="image/png")

    assert endpoint.calls == []


@pytest.mark.parametrize(
    ("declared", "body", "sent"),
    [
        ("application/x-image", JPEG, "image/jpeg"),
        ("application/x-image", PNG, "image/png"),
        ("image/png; charset=binary", PNG, "image/png"),
        ("IMAGE/JPEG", JPEG, "image/jpeg"),
    ],
)
def test_builtin_models_get_the_type_the_bytes_are_and_json_back(
    declared: str, body: bytes, sent: str
) -> None:
    endpoint = ScriptedEndpoint(answer([0.1] * len(LABELS)))

    run(endpoint, body=body, content_type=declared)

    [call] = endpoint.calls
    assert (call["content_type"], call["accept"], call["endpoint"]) == (
        sent,
        "application/json",
        "sagechain-flowers",
    )


# ---------------------------------------------------------------- output mapping


def test_image_classification_also_reads_a_bare_list_of_probabilities() -> None:
    body = json.dumps([0.05, 0.6, 0.1, 0.2, 0.03, 0.02]).encode()
    endpoint = ScriptedEndpoint(EndpointAnswer(body, "application/json"))

    prediction = run(endpoint, k=1)

    assert prediction.model_dump(exclude_none=True)["predictions"] == [  # type: ignore[attr-defined]
        {"label": "rose", "score": 0.6}
    ]


def test_image_classification_answers_the_top_k_labels_highest_first() -> None:
    endpoint = ScriptedEndpoint(answer([0.05, 0.6, 0.1, 0.2, 0.03, 0.02]))

    prediction = run(endpoint, k=3)

    assert prediction.model_dump(exclude_none=True) == {  # type: ignore[attr-defined]
        "model": "flowers",
        "task": "image-classification",
        "k": 3,
        "predictions": [
            {"label": "rose", "score": 0.6},
            {"label": "iris", "score": 0.2},
            {"label": "tulip", "score": 0.1},
        ],
    }


def test_image_classification_defaults_to_five_labels_and_k_above_the_label_count_returns_all() -> None:
    scores = [0.3, 0.25, 0.2, 0.15, 0.06, 0.04]

    default = run(ScriptedEndpoint(answer(scores)))
    everything = run(ScriptedEndpoint(answer(scores)), k=100)

    assert [p.label for p in default.predictions] == ["daisy", "rose", "tulip", "iris", "lily"]  # type: ignore[attr-defined]
    assert len(everything.predictions) == len(LABELS)  # type: ignore[attr-defined]


def test_multilabel_answers_every_label_at_or_over_the_threshold_highest_first() -> None:
    endpoint = ScriptedEndpoint(answer([0.9, 0.2, 0.5, 0.7, 0.49, 0.0]))

    prediction = run(endpoint, info=model_info("image-classification-multilabel"))

    assert [(p.label, p.score) for p in prediction.predictions] == [  # type: ignore[attr-defined]
        ("daisy", 0.9),
        ("iris", 0.7),
        ("tulip", 0.5),
    ]
    assert prediction.threshold == 0.5  # type: ignore[attr-defined]


def test_multilabel_threshold_comes_from_the_request() -> None:
    endpoint = ScriptedEndpoint(answer([0.9, 0.2, 0.5, 0.7, 0.49, 0.0]))

    prediction = run(endpoint, info=model_info("image-classification-multilabel"), threshold=0.8)

    assert [p.label for p in prediction.predictions] == ["daisy"]  # type: ignore[attr-defined]


def test_object_detection_answers_boxes_over_the_threshold_in_image_fractions() -> None:
    # AWS's sample answer shape: [class, score, xmin, ymin, xmax, ymax], coordinates normalized.
    endpoint = ScriptedEndpoint(
        answer(
            [
                [4.0, 0.86, 0.31, 0.07, 0.71, 0.93],
                [0.0, 0.73, 0.57, 0.40, 0.83, 0.97],
                [4.0, 0.33, 0.37, 0.03, 0.63, 0.60],
                [-1.0, 0.99, 0.0, 0.0, 0.0, 0.0],
                [2.0, 0.91, 0.01, 0.02, 0.30, 0.40],
            ]
        )
    )

    prediction = run(endpoint, info=model_info("object-detection"))

    assert [p.model_dump() for p in prediction.predictions] == [  # type: ignore[attr-defined]
        {"label": "tulip", "score": 0.91, "xmin": 0.01, "ymin": 0.02, "xmax": 0.30, "ymax": 0.40},
        {"label": "lily", "score": 0.86, "xmin": 0.31, "ymin": 0.07, "xmax": 0.71, "ymax": 0.93},
        {"label": "daisy", "score": 0.73, "xmin": 0.57, "ymin": 0.40, "xmax": 0.83, "ymax": 0.97},
    ]


def test_object_detection_reads_the_annotation_form_in_pixels_as_image_fractions() -> None:
    # AWS's documented answer to accept "application/json;annotation=1" (object-detection-in-formats.html).
    endpoint = ScriptedEndpoint(
        EndpointAnswer(
            json.dumps(
                {
                    "image_size": [{"width": 500, "height": 400, "depth": 3}],
                    "annotations": [
                        {"class_id": 0, "score": 0.943, "left": 111, "top": 134, "width": 61, "height": 128},
                        {"class_id": 0, "score": 0.0013, "left": 161, "top": 250, "width": 79, "height": 143},
                        {"class_id": 1, "score": 0.6, "left": 100, "top": 0, "width": 400, "height": 200},
                    ],
                }
            ).encode(),
            "application/json",
        )
    )

    prediction = run(endpoint, info=model_info("object-detection"))

    assert [p.model_dump() for p in prediction.predictions] == [  # type: ignore[attr-defined]
        {
            "label": "daisy",
            "score": 0.943,
            "xmin": 0.222,
            "ymin": 0.335,
            "xmax": 0.344,
            "ymax": pytest.approx(0.655),
        },
        {"label": "rose", "score": 0.6, "xmin": 0.2, "ymin": 0.0, "xmax": 1.0, "ymax": 0.5},
    ]


@pytest.mark.parametrize(
    ("task", "body"),
    [
        ("image-classification", b"not json"),
        ("image-classification", b'{"predictions": [0.1]}'),
        ("image-classification", json.dumps({"prediction": [0.5, 0.5]}).encode()),
        ("image-classification", json.dumps({"prediction": ["a"] * len(LABELS)}).encode()),
        ("object-detection", json.dumps({"prediction": [[0, 0.9, 0, 0]]}).encode()),
        ("object-detection", json.dumps({"prediction": [[len(LABELS), 0.9, 0, 0, 1, 1]]}).encode()),
        ("object-detection", json.dumps({"annotations": [], "image_size": []}).encode()),
        (
            "object-detection",
            json.dumps(
                {"annotations": [{"class_id": 0}], "image_size": [{"width": 5, "height": 5}]}
            ).encode(),
        ),
    ],
)
def test_an_unreadable_builtin_answer_is_a_model_error(task: str, body: bytes) -> None:
    endpoint = ScriptedEndpoint(EndpointAnswer(body, "application/json"))

    with pytest.raises(ModelFailedError) as caught:
        run(endpoint, info=model_info(task))

    assert caught.value.code == "invalid_model_output"


def test_custom_containers_get_json_through_and_their_answer_back_as_it_came() -> None:
    reply = EndpointAnswer(b'{"sentiment": "positive"}', "application/json")
    endpoint = ScriptedEndpoint(reply)

    result = run(
        endpoint,
        info=model_info(algorithm="custom"),
        body=b'{"text": "great"}',
        content_type="application/json; charset=utf-8",
        accept="application/json",
    )

    assert result == reply
    [call] = endpoint.calls
    assert (call["content_type"], call["accept"]) == ("application/json; charset=utf-8", "application/json")


def test_invalid_json_for_a_custom_container_is_a_bad_request() -> None:
    endpoint = ScriptedEndpoint()

    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        run(endpoint, info=model_info(algorithm="custom"), body=b"{oops", content_type="application/json")

    assert endpoint.calls == []


def test_a_custom_answer_too_large_for_a_lambda_response_is_502() -> None:
    endpoint = ScriptedEndpoint(EndpointAnswer(b"\0" * 4_600_000, "application/octet-stream"))

    with pytest.raises(ResponseTooLargeError):
        run(endpoint, info=model_info(algorithm="custom"))


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"a": 1}', '{"a": 1}'),
        ("text/csv; charset=utf-8", b"a,b", "a,b"),
        ("application/json", b"\xff\xfe", b"\xff\xfe"),
        ("image/png", PNG, PNG),
        (None, b"x", b"x"),
    ],
)
def test_custom_answers_go_back_as_text_only_when_textual_and_utf8(
    content_type: str | None, body: bytes, expected: str | bytes
) -> None:
    assert service.answer_body(EndpointAnswer(body, content_type)) == expected


# ---------------------------------------------------------------- the live model


def test_model_json_is_read_once_per_ttl() -> None:
    clock = FakeClock()
    store = store_with(model_info())
    directory = service.ModelDirectory(store, ttl_seconds=60, now=clock.now)
    directory.get("flowers")
    store.objects["models/flowers/model.json"] = (
        model_info(endpoint_name="sagechain-flowers-v2").model_dump_json().encode()
    )

    within = directory.get("flowers")
    clock.sleep(60)
    after = directory.get("flowers")

    assert (within.endpoint_name, after.endpoint_name) == ("sagechain-flowers", "sagechain-flowers-v2")


def test_an_unknown_model_is_404_and_asked_again_within_seconds() -> None:
    clock = FakeClock()
    store = MemoryStore()
    directory = service.ModelDirectory(store, ttl_seconds=60, now=clock.now)
    with pytest.raises(ModelNotFoundError):
        directory.get("flowers")
    store.objects.update(store_with(model_info()).objects)

    with pytest.raises(ModelNotFoundError):
        directory.get("flowers")
    clock.sleep(service.NOT_FOUND_TTL_SECONDS)

    assert directory.get("flowers").model == "flowers"


@pytest.mark.parametrize("name", ["../runs/x", "a/b", "-flowers", "x" * 64, "flowers%2F..", ""])
def test_a_name_no_endpoint_can_have_is_404_without_reading_s3(name: str) -> None:
    class NoReads(MemoryStore):
        def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
            raise AssertionError(f"read {key}")

    with pytest.raises(ModelNotFoundError):
        service.ModelDirectory(NoReads(), ttl_seconds=60).get(name)


def test_a_broken_model_json_is_an_internal_error_that_names_no_detail() -> None:
    directory = service.ModelDirectory(
        MemoryStore(objects={"models/flowers/model.json": b"{}"}), ttl_seconds=60
    )

    with pytest.raises(Exception, match="misconfigured") as caught:
        directory.get("flowers")

    assert caught.value.status == 500  # type: ignore[attr-defined]


def test_the_cache_keeps_a_bounded_number_of_names() -> None:
    directory = service.ModelDirectory(MemoryStore(), ttl_seconds=60, max_entries=3)

    for i in range(10):
        with pytest.raises(ModelNotFoundError):
            directory.get(f"model-{i}")

    assert len(directory._entries) == 3


def test_a_missing_endpoint_forgets_the_cached_model_and_says_when_to_retry() -> None:
    clock = FakeClock()
    store = store_with(model_info())
    directory = service.ModelDirectory(store, ttl_seconds=60, now=clock.now)
    timing = service.Timing(now=clock.now, sleep=clock.sleep, jitter=clock.jitter)
    request = service.PredictRequest(model="flowers", body=PNG, content_type="image/png")
    endpoint = ScriptedEndpoint(EndpointMissingError("gone"), answer([0.1] * len(LABELS)))
    with pytest.raises(EndpointMissingError) as caught:
        service.predict(request, directory, endpoint, clock.now() + 25, timing)
    store.objects.update(store_with(model_info(endpoint_name="sagechain-flowers-v2")).objects)

    service.predict(request, directory, endpoint, clock.now() + 25, timing)

    assert caught.value.retry_after == service.ENDPOINT_MISSING_RETRY_AFTER
    assert [c["endpoint"] for c in endpoint.calls] == ["sagechain-flowers", "sagechain-flowers-v2"]


# ---------------------------------------------------------------- retries


def test_a_burst_of_throttling_during_scale_out_is_retried_until_it_succeeds() -> None:
    clock = FakeClock()
    endpoint = ScriptedEndpoint(
        ThrottledError("slow down"),
        ModelUnavailableError("not ready", code="model_not_ready"),
        ThrottledError("slow down"),
        answer([0.1] * len(LABELS)),
    )

    prediction = run(endpoint, clock=clock)

    assert prediction.task == "image-classification"  # type: ignore[attr-defined]
    assert len(endpoint.calls) == 4
    # Full jitter under an exponential cap: 0.1, 0.2, 0.4 s at most (FakeClock takes the cap).
    assert clock.sleeps == [0.1, 0.2, 0.4]


def test_retries_stop_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    endpoint = ScriptedEndpoint(*(ThrottledError("slow down", retry_after=1) for _ in range(5)))

    with pytest.raises(ThrottledError) as caught:
        run(endpoint, clock=clock)

    assert len(endpoint.calls) == service.RetryPolicy().max_attempts
    assert caught.value.retry_after == 1


def test_backoff_is_capped() -> None:
    clock = FakeClock()
    policy = service.RetryPolicy(max_attempts=8)
    endpoint = ScriptedEndpoint(*(ThrottledError("slow down") for _ in range(8)))
    timing = service.Timing(now=clock.now, sleep=clock.sleep, jitter=clock.jitter)

    with pytest.raises(ThrottledError):
        service.invoke_with_retries(endpoint, "e", PNG, "image/png", None, clock.now() + 25, timing, policy)

    assert max(clock.sleeps) == policy.max_delay_seconds


def test_retries_never_run_past_the_deadline() -> None:
    # Every attempt takes 6 s before SageMaker says "not ready".
    clock = FakeClock()

    class Slow(ScriptedEndpoint):
        def invoke(self, *args: object, **kwargs: object) -> EndpointAnswer:
            clock.time += 6
            return super().invoke(*args, **kwargs)  # type: ignore[arg-type]

    endpoint = Slow(*(ModelUnavailableError("not ready") for _ in range(5)))
    timing = service.Timing(now=clock.now, sleep=clock.sleep, jitter=clock.jitter)
    start = clock.now()

    with pytest.raises(ModelUnavailableError):
        service.invoke_with_retries(endpoint, "e", PNG, "image/png", None, start + 25, timing)

    assert clock.now() - start <= 25
    assert all(
        call["timeout_seconds"] >= service.RetryPolicy().min_attempt_seconds for call in endpoint.calls
    )
    assert len(endpoint.calls) == 4


def test_each_attempt_gets_only_the_time_left() -> None:
    clock = FakeClock()
    endpoint = ScriptedEndpoint(ThrottledError("slow down"), answer([0.1] * len(LABELS)))

    run(endpoint, clock=clock)

    assert [round(c["timeout_seconds"], 3) for c in endpoint.calls] == [25, 24.9]


def test_a_past_deadline_is_a_timeout_without_a_call() -> None:
    endpoint = ScriptedEndpoint()
    timing = service.Timing(now=lambda: 100.0, sleep=lambda _: None, jitter=lambda cap: cap)

    with pytest.raises(InvocationTimeoutError):
        service.invoke_with_retries(endpoint, "e", PNG, "image/png", None, 99.0, timing)

    assert endpoint.calls == []


@pytest.mark.parametrize(
    "error",
    [
        ModelFailedError("the model failed"),
        InvalidRequestError("rejected"),
        EndpointMissingError("gone"),
        InvocationTimeoutError("slow"),
    ],
)
def test_errors_about_the_request_or_the_model_are_not_retried(error: Exception) -> None:
    endpoint = ScriptedEndpoint(error)

    with pytest.raises(type(error)):
        run(endpoint)

    assert len(endpoint.calls) == 1
