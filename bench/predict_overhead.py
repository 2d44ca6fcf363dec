"""Benchmark: predict's own time per request, against an endpoint that answers at once.

The real handler (functions/predict/app.py, loaded as Lambda loads it) runs on API Gateway
proxy events carrying 10 KB, 100 KB and 1 MB images base64-encoded, as API Gateway sends
binary bodies. InvokeEndpoint goes through a real botocore client whose answer botocore's
Stubber returns without any network, and model.json is already in the handler's cache, so
what is timed is the handler's own work: parsing the request, validating the query,
decoding the body, calling botocore, mapping the scores, building the response. Base64
decoding the same bodies alone is timed too: it is the floor no handler can go under.

    make bench            # or: python -m bench.predict_overhead [--requests 1000]
"""

import argparse
import base64
import binascii
import copy
import importlib.util
import io
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

import boto3  # noqa: E402
from botocore.response import StreamingBody  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from local.lambda_context import FakeLambdaContext  # noqa: E402

from sagechain.adapters.sagemaker_runtime import SageMakerRuntimeEndpoint  # noqa: E402
from sagechain.inference.predict import ModelDirectory  # noqa: E402
from sagechain.records import ModelInfo  # noqa: E402

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "predict",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "DATA_BUCKET": "bench-bucket",
    "NAME_PREFIX": "sagechain",
    "STACK_NAME": "sagechain",
    "STACK_ID": "arn:aws:cloudformation:us-east-1:123456789012:stack/sagechain/bench",
}
SIZES = {"10 KB": 10_000, "100 KB": 100_000, "1 MB": 1_000_000}
LABELS = [f"class-{i}" for i in range(10)]
ANSWER = json.dumps({"prediction": [round(1 / (i + 2), 4) for i in range(len(LABELS))]}).encode()
MODEL = ModelInfo(
    model="flowers",
    endpoint_name="sagechain-flowers",
    task="image-classification",
    labels=LABELS,
    algorithm="builtin",
    model_name="sagechain-flowers-1",
    training_job_name="sagechain-flowers-1",
    run_id="flowers-8b39944c64ac",
    dataset="flowers",
    deployed_at=datetime(2026, 11, 25, tzinfo=UTC),
)


class _OneModel:
    """The bucket as the handler's model cache sees it: one model.json."""

    bucket = "bench-bucket"

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        return MODEL.model_dump_json().encode()


def load_handler() -> ModuleType:
    """functions/predict/app.py, imported under its environment, InvokeEndpoint stubbed."""
    os.environ.update(ENVIRONMENT)
    path = ROOT / "functions" / "predict" / "app.py"
    spec = importlib.util.spec_from_file_location("bench_predict_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.models = ModelDirectory(_OneModel(), ttl_seconds=3600)  # type: ignore[arg-type]
    return module


def image_event(size: int) -> dict[str, Any]:
    """The sample API Gateway event carrying a JPEG-looking body of `size` bytes."""
    event = json.loads((ROOT / "events" / "predict" / "png_image.json").read_text())
    body = b"\xff\xd8\xff" + os.urandom(size - 3)
    event["body"] = base64.b64encode(body).decode()
    event["headers"]["Content-Type"] = event["multiValueHeaders"]["Content-Type"][0] = "image/jpeg"
    return event


def decode_body(body: str) -> bytes:
    """What any handler must do to an API Gateway binary body: the floor."""
    return binascii.a2b_base64(body.encode("ascii"), strict_mode=True)


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at `fraction` of the sorted list (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bare_handler(event: dict[str, Any], client: Any) -> dict[str, Any]:
    """The least a predict handler does: decode the body, InvokeEndpoint through the same botocore
    client, read the answer, return it (the ratio's other side)."""
    body = decode_body(event["body"])
    answer = client.invoke_endpoint(EndpointName=MODEL.endpoint_name, ContentType="image/jpeg", Body=body)
    return {"statusCode": 200, "body": json.dumps(json.loads(answer["Body"].read()))}


def paired(
    calls: list[Callable[[], object]], before: Callable[[], object], requests: int
) -> list[list[float]]:
    """Milliseconds per call of each, measured in turns (the order rotating) so all see the same
    machine: a shared CI machine's speed drifts within seconds. `before` runs before each turn
    (it queues the stubbed answers the turn's calls take)."""
    for _ in range(20):
        before()
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for i in range(requests):
        before()
        order = list(range(len(calls)))
        order = order[i % len(order) :] + order[: i % len(order)]
        for index in order:
            start = time.perf_counter_ns()
            calls[index]()
            samples[index].append((time.perf_counter_ns() - start) / 1e6)
    return samples


def main() -> int:
    """Print p50 and p99 of the handler and of base64 decoding alone, per image size."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per size")
    args = parser.parse_args()
    handler = load_handler()
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    handler.endpoints = SageMakerRuntimeEndpoint(lambda _timeout: client)
    context = FakeLambdaContext(function_name="predict", memory_limit_in_mb=1024)

    def answer() -> None:
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(ANSWER), len(ANSWER)), "ContentType": "application/json"},
        )

    def queue_answer() -> None:  # one for the handler, one for the bare handler
        answer()
        answer()

    print(f"predict handler, {args.requests} requests per size, Python {sys.version.split()[0]}")
    columns = ("handler p50", "handler p99", "bare p50", "bare p99", "b64 p50")
    print(f"{'image':>7} | " + " | ".join(f"{c:>11}" for c in columns) + " | p50 ratio | p99 ratio")
    for name, size in SIZES.items():
        event = image_event(size)
        queue_answer()
        response = handler.handler(copy.deepcopy(event), context)
        assert response["statusCode"] == 200, response
        assert bare_handler(event, client)["statusCode"] == 200
        whole, bare, decode = paired(
            [
                partial(handler.handler, event, context),
                partial(bare_handler, event, client),
                partial(decode_body, event["body"]),
            ],
            queue_answer,
            args.requests,
        )
        figures = (
            percentile(whole, 0.5),
            percentile(whole, 0.99),
            percentile(bare, 0.5),
            percentile(bare, 0.99),
            percentile(decode, 0.5),
        )
        print(
            f"{name:>7} | "
            + " | ".join(f"{value:8.3f} ms" for value in figures)
            + f" | {figures[0] / figures[2]:9.2f} | {figures[1] / figures[3]:9.2f}"
        )
    stubber.deactivate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
