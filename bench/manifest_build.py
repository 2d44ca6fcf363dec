"""Benchmark: the Ground Truth input manifest of a 1,000,000-image dataset.

Runs the real service (prepare_dataset) and the real S3 adapter over an in-process S3
client whose list_objects_v2 pages are generated on the fly (1,000 keys a page, as S3
sends them) and whose uploads count bytes and drop them. It prints objects/s, the peak
of Python allocations, and the ratio of the time to a bare paginated listing of the
same pages, which is the floor: the manifest cannot be built faster than S3 lists.

    make bench            # or: python -m bench.manifest_build --objects 1000000
"""

import argparse
import io
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))

from bench.fake_s3 import CountingUploads
from bench.measure import peak_memory_mib
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import DatasetPrepared, SagechainEvent
from sagechain.guardrails import Guardrails
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import dataset_upload
from sagechain.settings import SpecDefaults

BUCKET = "bench-bucket"
PAGE = 1_000
SPEC = json.dumps(
    {
        "task": "image-classification",
        "labels": ["a", "b"],
        "labeling": {"mode": "ground-truth", "max_cost_usd": "1000000"},
    }
).encode()
MODIFIED = datetime(2026, 11, 25, tzinfo=UTC)


class _Paginator:
    def __init__(self, objects: int) -> None:
        self._objects = objects

    def paginate(self, Bucket: str, Prefix: str) -> Iterator[dict[str, Any]]:  # noqa: N803 - boto3's names
        for start in range(0, self._objects, PAGE):
            stop = min(start + PAGE, self._objects)
            yield {
                "IsTruncated": stop < self._objects,
                "KeyCount": stop - start,
                "Contents": [
                    {
                        "Key": f"{Prefix}{i // 10_000:03}/img {i:07}.jpg",
                        "Size": 48_213,
                        "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
                        "LastModified": MODIFIED,
                        "StorageClass": "STANDARD",
                    }
                    for i in range(start, stop)
                ],
            }


class FakeS3(CountingUploads):
    """The few S3 calls prepare_dataset makes; uploads are counted, not kept."""

    def __init__(self, objects: int) -> None:
        self._objects = objects
        super().__init__()

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator(self._objects)

    def get_object(self, **request: Any) -> dict[str, Any]:
        return {"ContentLength": len(SPEC), "Body": io.BytesIO(SPEC)}


class _NullPublisher:
    def __init__(self) -> None:
        self.events: list[SagechainEvent] = []

    def publish(self, event: SagechainEvent) -> None:
        self.events.append(event)


DEFAULTS = SpecDefaults.from_env(
    {
        "DEFAULT_WORKTEAM_ARN": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/bench",
        "DEFAULT_MAX_LABELING_COST_USD": "100",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    }
)


# The template's defaults, but no run-cost ceiling: the bench measures listing, not pricing.
GUARDRAILS = Guardrails.from_env(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "NAME_PREFIX": "sagechain",
        "ACCOUNT_ID": "123456789012",
        "ALLOWED_TRAINING_IMAGE_REPOSITORIES": "",
        "ALLOWED_TRAINING_INSTANCE_TYPES": "ml.p3.2xlarge",
        "ALLOWED_ENDPOINT_INSTANCE_TYPES": "ml.m5.large",
        "MAX_TRAINING_HOURS": "24",
        "MAX_TRAINING_INSTANCES": "2",
        "MAX_TRAINING_VOLUME_GB": "100",
        "MAX_SPOT_WAIT_HOURS": "48",
        "MAX_HYPERPARAMETER_SETS": "3",
        "MAX_TUNING_JOBS": "20",
        "MAX_PARALLEL_TUNING_JOBS": "2",
        "MAX_ENDPOINT_INSTANCES": "4",
        "DEFAULT_MAX_LABELING_COST_USD": "1000000",
        "DEFAULT_WORKTEAM_ARN": DEFAULTS.workteam_arn or "",
        "ALLOW_PUBLIC_WORKFORCE": "false",
        "ALLOWED_WORKTEAM_ARNS": "",
        "MAX_RUN_COST_USD": "1000000",
        "INSTANCE_PRICE_OVERRIDES": "",
    }
)


def bare_listing(objects: int) -> float:
    """Seconds to walk the same pages and touch every key: the floor."""
    started = time.perf_counter()
    count = 0
    for page in _Paginator(objects).paginate(Bucket=BUCKET, Prefix="datasets/bench/images/"):
        for item in page["Contents"]:
            count += len(item["Key"]) > 0
    assert count == objects
    return time.perf_counter() - started


def build_manifest(objects: int) -> tuple[float, FakeS3, DatasetPrepared]:
    """Seconds for prepare_dataset to list and write the whole manifest."""
    client = FakeS3(objects)
    store = S3ObjectStore(BUCKET, client)  # type: ignore[arg-type]
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/bench/dataset.json", version_id="v1"))
    assert upload is not None
    publisher = _NullPublisher()
    started = time.perf_counter()
    event = prepare_dataset(upload, store, publisher, DEFAULTS, ZipLimits.from_env({}), GUARDRAILS)
    elapsed = time.perf_counter() - started
    assert isinstance(event, DatasetPrepared), event
    assert event.objects == objects
    return elapsed, client, event


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=1_000_000)
    args = parser.parse_args()

    floor = bare_listing(args.objects)
    elapsed, client, _ = build_manifest(args.objects)
    peak_mib, max_rss_mib = peak_memory_mib(lambda: build_manifest(args.objects))

    print(f"objects                     {args.objects:>12,}")
    print(f"manifest bytes              {client.uploaded_bytes:>12,} in {client.parts} parts")
    print(f"bare paginated listing      {floor:>12.2f} s  ({args.objects / floor:,.0f} objects/s)")
    print(f"build manifest              {elapsed:>12.2f} s  ({args.objects / elapsed:,.0f} objects/s)")
    print(f"ratio to bare listing       {elapsed / floor:>12.2f} x")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter)")


if __name__ == "__main__":
    main()
