"""Benchmark: completing an own-tool labeling of 100,000 images (collect_labels, the done marker).

Runs the real service over the in-memory store of the tests (tests/fakes.py), filled as
collect_labels leaves a run whose every image has one annotation recorded: run.json, spec.json,
input.manifest, and one record per image under label-studio/received/labeled/. The done marker
then completes it: the records are listed and read (16 at a time, in windows of 512), the
labeled manifest is streamed to a writer that counts bytes and drops them, and Labeling
Completed is published. It prints the time, images/s, and the peak of Python allocations.

With --arrivals, it instead sends one Label Studio target-storage object per image, one by one,
to a fresh run of that many images, over a store that counts the S3 requests each arrival makes
(GET, HEAD, PUT, DELETE, and a LIST per 1,000 keys listed, as ListObjectsV2 pages them), and the
DynamoDB counter calls; the last arrival completes the run. It prints the calls per arrival
(mean, max), the completing arrival's, and the total.

    python -m bench.own_tool_labels --images 100000
    python -m bench.own_tool_labels --arrivals 100000
"""

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes import MemoryDeploymentStore, MemoryLabelCounters, RecordingPublisher
from tests.runs import DEFAULTS

from bench.measure import peak_memory_mib
from sagechain.events import LabelingCompleted, LabelingProgress
from sagechain.labeling.collect_labels import (
    LABELED_FOLDER,
    LabelsArrival,
    _digest,
    _state,
    collect_labels,
)
from sagechain.labeling.label_studio import LabeledImage
from sagechain.ports import StoredObject
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


class CountingStore(MemoryDeploymentStore):
    """The tests' in-memory store, counting the S3 requests made of it; listed by folder, so that
    listing a small folder of a big run costs the benchmark nothing (S3 pages by prefix too)."""

    manifest_bytes = 0

    def __init__(self, bucket: str, objects: dict[str, bytes]) -> None:
        self.calls: Counter[str] = Counter()
        self.folders: defaultdict[str, set[str]] = defaultdict(set)
        super().__init__(bucket, {})
        for key, data in objects.items():
            self.place(key, data)

    def place(self, key: str, data: bytes) -> None:
        """Put an object there without counting it (what the tool or an earlier stage wrote)."""
        self.objects[key] = data
        self.folders[key.rsplit("/", 1)[0] + "/"].add(key)

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        self.calls["GET"] += 1
        return super().read_bytes(key, max_bytes, version_id)

    def iter_lines(self, key: str) -> Iterator[bytes]:
        self.calls["GET"] += 1
        yield from super().read_bytes(key, 1 << 40).splitlines()

    def exists(self, key: str) -> bool:
        self.calls["HEAD"] += 1
        return super().exists(key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.calls["PUT"] += 1
        self.place(key, data)

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        self.calls["PUT"] += 1
        if key in self.objects:
            return False
        self.place(key, data)
        return True

    def delete(self, key: str) -> None:
        self.calls["DELETE"] += 1
        self.objects.pop(key, None)
        self.folders[key.rsplit("/", 1)[0] + "/"].discard(key)

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        keys = sorted(
            key
            for folder, held in self.folders.items()
            if folder.startswith(prefix) or prefix.startswith(folder)
            for key in held
            if key.startswith(prefix)
        )
        self.calls["LIST"] += max(1, math.ceil(len(keys) / 1000))
        for key in keys:
            yield StoredObject(key, len(self.objects[key]))

    def open_writer(self, key: str, content_type: str) -> CountingWriter:  # type: ignore[override]
        self.calls["PUT"] += 1  # one streamed upload (its multipart parts are not counted)
        return CountingWriter(self)  # type: ignore[arg-type]

    @property
    def total(self) -> int:
        """Every S3 request counted so far."""
        return sum(self.calls.values())


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


def unlabeled_run(images: int) -> tuple[CountingStore, list[str]]:
    """A run as start_labeling leaves it in label-studio mode, and its image URIs."""
    done = labeled_run(0).objects
    info = RunInfo.model_validate_json(done[f"runs/{RUN_ID}/run.json"]).model_copy(update={"objects": images})
    uris = [f"s3://{BUCKET}/datasets/bench/images/{i // 10_000:03}/img {i:07}.jpg" for i in range(images)]
    objects = {
        f"runs/{RUN_ID}/spec.json": done[f"runs/{RUN_ID}/spec.json"],
        f"runs/{RUN_ID}/run.json": info.model_dump_json().encode(),
        f"runs/{RUN_ID}/input.manifest": b"".join(
            json.dumps({"source-ref": u}).encode() + b"\n" for u in uris
        ),
    }
    return CountingStore(BUCKET, objects), uris


def count_arrivals(images: int) -> None:
    """Send one annotation object per image and print the S3 and DynamoDB calls per arrival."""
    store, uris = unlabeled_run(images)
    counters = MemoryLabelCounters()
    per_arrival: list[int] = []
    event = None
    started = time.perf_counter()
    for i, uri in enumerate(uris):
        key = f"runs/{RUN_ID}/label-studio/annotations/{i}"
        annotation = {"result": [{"type": "choices", "value": {"choices": [LABELS[i % 3]]}}]}
        task = {
            "id": i,
            "data": {"image": uri},
            "annotations": [annotation | {"updated_at": "2026-12-01T10:00Z"}],
        }
        store.place(key, json.dumps(task).encode())
        before = store.total
        event = collect_labels(
            LabelsArrival(run_id=RUN_ID, key=key, kind="annotation", version=f"e{i}"),
            store,
            RecordingPublisher(),
            counters,
        )
        per_arrival.append(store.total - before)
        assert isinstance(event, LabelingProgress if i < images - 1 else LabelingCompleted), event
    elapsed = time.perf_counter() - started
    assert isinstance(event, LabelingCompleted)
    assert event.labeled == images
    progress = per_arrival[:-1]
    print(f"arrivals                    {images:>12,}")
    mean = sum(progress) / len(progress)
    print(f"S3 calls per arrival        {mean:>12.2f} mean, {max(progress)} max (progress)")
    print(f"S3 calls, completing one    {per_arrival[-1]:>12,}")
    print(f"S3 calls in all             {store.total:>12,}  {dict(store.calls)}")
    print(f"DynamoDB counter calls      {counters.calls:>12,}")
    print(f"time (in memory)            {elapsed:>12.2f} s")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--arrivals", type=int, help="count the S3 calls of this many arrivals instead")
    args = parser.parse_args()
    if args.arrivals:
        count_arrivals(args.arrivals)
        return
    arrival = LabelsArrival(run_id=RUN_ID, key=f"runs/{RUN_ID}/label-studio/done", kind="done", version="d1")
    # Timed on its own (tracemalloc slows every allocation down), then measured on a fresh run.
    store, publisher = labeled_run(args.images), RecordingPublisher()
    started = time.perf_counter()
    collect_labels(arrival, store, publisher, MemoryLabelCounters())
    elapsed = time.perf_counter() - started
    [event] = publisher.events
    assert isinstance(event, LabelingCompleted)
    assert event.labeled == args.images
    measured = labeled_run(args.images)
    peak_mib, max_rss_mib = peak_memory_mib(
        lambda: collect_labels(arrival, measured, RecordingPublisher(), MemoryLabelCounters())
    )
    print(f"images                      {args.images:>12,}")
    print(f"manifest bytes streamed     {store.manifest_bytes:>12,}")
    print(f"completion (collect_labels) {elapsed:>12.2f} s  ({args.images / elapsed:,.0f} images/s)")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter and the store)")


if __name__ == "__main__":
    main()
