"""Benchmark: completing an own-tool labeling of 100,000 images (collect_labels, the done marker).

Runs the real service over the in-memory store of the tests (tests/fakes.py), filled as
collect_labels leaves a run whose every image has one annotation recorded: run.json, spec.json,
input.manifest, and one record per image under label-studio/received/labeled/. The done marker
then completes it: the records are listed and read (16 at a time, in windows of 512), the
labeled manifest is streamed to a writer that counts bytes and drops them, and Labeling
Completed is published. It prints the time, images/s, and the peak of Python allocations.

    python -m bench.own_tool_labels --images 100000
"""

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.runs import DEFAULTS

from bench.measure import peak_memory_mib
from sagechain.events import LabelingCompleted
from sagechain.labeling.collect_labels import (
    LABELED_FOLDER,
    LabelsArrival,
    _digest,
    _state,
    collect_labels,
)
from sagechain.labeling.label_studio import LabeledImage
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec

BUCKET = "bench-bucket"
RUN_ID = "bench-0123456789ab"
LABELS = ["rose", "tulip", "daisy"]


class CountingWriter:
    """A streamed upload that keeps only its size."""

    def __init__(self, store: "BenchStore") -> None:
        self._store = store

    def write(self, data: bytes) -> None:
        self._store.manifest_bytes += len(data)

    def commit(self) -> None:
        self._store.objects[f"runs/{RUN_ID}/labeled.manifest"] = b"(counted)"

    def abort(self) -> None:
        raise AssertionError("the benchmark's completion failed")


class BenchStore(MemoryDeploymentStore):
    """The tests' in-memory store, whose labeled manifest is counted, not kept."""

    manifest_bytes = 0

    def open_writer(self, key: str, content_type: str) -> CountingWriter:  # type: ignore[override]
        return CountingWriter(self)


def labeled_run(images: int) -> BenchStore:
    """A run whose every image has a recorded annotation, as collect_labels leaves it."""
    spec = DatasetSpec.model_validate({"task": "image-classification", "labels": LABELS})
    created = datetime(2026, 12, 1, 9, tzinfo=UTC)
    info = RunInfo(
        run_id=RUN_ID,
        dataset="bench",
        source_uri=f"s3://{BUCKET}/datasets/bench/dataset.json",
        source_version="v1",
        task="image-classification",
        labeling_mode="label-studio",
        label_attribute="label",
        manifest_uri=f"s3://{BUCKET}/runs/{RUN_ID}/input.manifest",
        objects=images,
        created_at=created,
    )
    objects = {
        f"runs/{RUN_ID}/spec.json": spec.with_defaults(DEFAULTS).model_dump_json().encode(),
        f"runs/{RUN_ID}/run.json": info.model_dump_json().encode(),
        f"runs/{RUN_ID}/label-studio/done": b"",
    }
    lines = []
    for i in range(images):
        uri = f"s3://{BUCKET}/datasets/bench/images/{i // 10_000:03}/img {i:07}.jpg"
        lines.append(json.dumps({"source-ref": uri}).encode() + b"\n")
        image = LabeledImage(uri, [LABELS[i % 3]], [], None, "2026-12-01T10:00:00Z", {})
        key = f"runs/{RUN_ID}/{LABELED_FOLDER}{_digest(uri)}.json"
        objects[key] = _state(image, f"runs/{RUN_ID}/label-studio/annotations/{i}")
    objects[f"runs/{RUN_ID}/input.manifest"] = b"".join(lines)
    return BenchStore(BUCKET, objects)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    arrival = LabelsArrival(run_id=RUN_ID, key=f"runs/{RUN_ID}/label-studio/done", kind="done", version="d1")
    # Timed on its own (tracemalloc slows every allocation down), then measured on a fresh run.
    store, publisher = labeled_run(args.images), RecordingPublisher()
    started = time.perf_counter()
    collect_labels(arrival, store, publisher)
    elapsed = time.perf_counter() - started
    [event] = publisher.events
    assert isinstance(event, LabelingCompleted)
    assert event.labeled == args.images
    measured = labeled_run(args.images)
    peak_mib, max_rss_mib = peak_memory_mib(lambda: collect_labels(arrival, measured, RecordingPublisher()))
    print(f"images                      {args.images:>12,}")
    print(f"manifest bytes streamed     {store.manifest_bytes:>12,}")
    print(f"completion (collect_labels) {elapsed:>12.2f} s  ({args.images / elapsed:,.0f} images/s)")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter and the store)")


if __name__ == "__main__":
    main()
