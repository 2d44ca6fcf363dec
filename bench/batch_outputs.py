"""Benchmark: a batch of 1,000,000 images, its transform manifest and its answers mapped to predictions.

Runs the real batch code: write_transform_manifest over a listing generated on the fly, and
write_predictions over 1,000,000 answers in the image classification algorithm's form (a JSON
list of probabilities, ten classes) read back from the manifest's lines. Objects are produced in
memory and written bytes are counted, then dropped: the figures measure sagechain's mapping, not
S3. Against real S3 each answer is one GetObject, so collect_batch's time is bounded by S3's
latency per object, not by this mapping (see bench/README.md).

    make bench            # or: python -m bench.batch_outputs --images 1000000
"""

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))

from bench.measure import peak_memory_mib
from sagechain.batch.manifest import manifest_images, write_transform_manifest
from sagechain.batch.outputs import write_predictions
from sagechain.ports import StoredObject
from sagechain.records import ModelInfo

PREFIX = "batches/sagechain-bench/night/images/"
LABELS = [f"class-{i}" for i in range(10)]
INFO = ModelInfo(
    model="sagechain-bench",
    endpoint_name="sagechain-bench",
    task="image-classification",
    labels=LABELS,
    algorithm="builtin",
    model_name="sagechain-bench-model",
    training_job_name="sagechain-bench-train",
    run_id="bench-0123456789ab",
    dataset="bench",
    deployed_at=datetime(2026, 12, 1, tzinfo=UTC),
)
ANSWER = json.dumps([0.02, 0.03, 0.05, 0.4, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]).encode()


class KeptLines:
    """A writer that keeps the manifest's lines (the collect step reads them back) and counts bytes."""

    def __init__(self, keep: bool) -> None:
        self.keep, self.lines, self.written = keep, bytearray(), 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.keep:
            self.lines += data

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


def listing(images: int) -> Iterator[StoredObject]:
    for i in range(images):
        yield StoredObject(f"{PREFIX}{i // 1000:04d}/{i:07d}.jpg", 50_000)


def run(images: int) -> tuple[float, float, int, int]:
    manifest = KeptLines(keep=True)
    started = time.perf_counter()
    write_transform_manifest(listing(images), PREFIX, f"s3://bench/{PREFIX}", manifest, INFO.task)
    built = time.perf_counter()
    predictions = KeptLines(keep=False)
    summary = write_predictions(
        INFO,
        manifest_images(bytes(manifest.lines).splitlines()),
        PREFIX,
        "batches/sagechain-bench/night/b/output/",
        lambda _key: ANSWER,
        predictions,
        k=1,
        threshold=0.5,
    )
    mapped = time.perf_counter()
    assert summary.scored == images
    return built - started, mapped - built, manifest.written, predictions.written


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1_000_000)
    args = parser.parse_args()

    build, mapping, manifest_bytes, prediction_bytes = run(args.images)
    peak_mib, max_rss_mib = peak_memory_mib(lambda: run(args.images))

    print(f"images                      {args.images:>12,}")
    print(f"manifest bytes              {manifest_bytes:>12,}")
    print(f"predictions.jsonl bytes     {prediction_bytes:>12,}")
    print(f"build manifest              {build:>12.2f} s  ({args.images / build:,.0f} images/s)")
    print(f"map answers                 {mapping:>12.2f} s  ({args.images / mapping:,.0f} answers/s)")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc; the manifest kept in memory)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter)")


if __name__ == "__main__":
    main()
