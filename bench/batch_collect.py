"""Benchmark: collecting a 1,000,000-image batch against S3 latency, in shards, with concurrent reads.

Runs the real collect_batch code (collect_shard, its merge and write_predictions' reader threads)
over an in-memory bucket whose every answer GET sleeps --latency-ms (time.sleep releases the GIL,
as a socket wait does), at the function's concurrency (sagechain.batch.settings.ANSWER_READERS).
It measures the fan-out (one pass over the manifest writing each shard's own manifest), the first
shard and the last one (it reads only its own manifest), with every other part already written,
so the same invocation finds the set complete and merges all of them: the per-invocation figures
that must fit Lambda's 900 s. The batch's total is the fan-out, the shards running side by side
(each its own invocation) and that merge.

    make bench            # or: python -m bench.batch_collect --images 1000000 --latency-ms 20
"""

import argparse
import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))

from bench.batch_outputs import ANSWER, INFO, PREFIX
from sagechain.batch.collect_batch import (
    PART_SUMMARY_SUFFIX,
    PARTS_DIR,
    BatchShard,
    CollectConfig,
    collect_shard,
    write_shard_manifests,
)
from sagechain.batch.outputs import OUTPUT_SUFFIX, BatchSummary
from sagechain.batch.settings import ANSWER_READERS
from sagechain.batch.start_batch import TRANSFORM_MANIFEST
from sagechain.layout import batch_record_key, batch_work_prefix
from sagechain.ports import StoredObject
from sagechain.records import BatchRecord

MODEL, NAME, BATCH_ID = "sagechain-bench", "night", "night-0123456789ab"
JOB = f"sagechain-batch-{BATCH_ID}"
WORK = batch_work_prefix(MODEL, NAME, BATCH_ID)


class Writer:
    """Counts the bytes of one object; keeps them when asked (the merge reads the parts back)."""

    def __init__(self, bucket: "LatentBucket", key: str) -> None:
        self.bucket, self.key, self.data = bucket, key, bytearray()

    def write(self, data: bytes) -> None:
        self.bucket.written += len(data)
        if not self.key.endswith("predictions.jsonl"):
            self.data += data

    def commit(self) -> None:
        self.bucket.objects[self.key] = bytes(self.data)

    def abort(self) -> None:
        pass


class LatentBucket:
    """The data bucket in memory: an answer's GET waits `latency` s; everything else is instant."""

    bucket = "bench"

    def __init__(self, latency: float) -> None:
        self.latency, self.objects, self.written = latency, dict[str, bytes](), 0
        self.gets, self.merge_started, self.manifest_read = 0, 0.0, 0
        self._lock = threading.Lock()

    def uri(self, key: str) -> str:
        return f"s3://bench/{key}"

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        if key.endswith(OUTPUT_SUFFIX):
            time.sleep(self.latency)
            with self._lock:
                self.gets += 1
            return ANSWER
        return self.objects[key]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            yield StoredObject(key, len(self.objects[key]))

    def iter_lines(self, key: str) -> Iterator[bytes]:
        if key.startswith(WORK + PARTS_DIR):
            time.sleep(self.latency)  # a part's GET: its first byte waits like any other
        for line in self.objects[key].splitlines():
            if key.endswith(".manifest"):
                self.manifest_read += len(line) + 1
            yield line

    def open_writer(self, key: str, content_type: str) -> Writer:
        return Writer(self, key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        self.merge_started = time.perf_counter()
        return self.objects.setdefault(key, data) == data

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def open_random_access(self, key: str, version_id: str | None = None) -> Any:
        raise NotImplementedError

    def upload_stream(self, key: str, stream: Any, content_type: str) -> None:
        raise NotImplementedError


def seeded(images: int, shard_images: int, latency: float) -> tuple[LatentBucket, list[BatchShard]]:
    """A completed batch's manifest and record, and every part but the last already written."""
    bucket = LatentBucket(latency)
    entries = (json.dumps(f"{i // 1000:04d}/{i:07d}.jpg") for i in range(images))
    bucket.objects[WORK + TRANSFORM_MANIFEST] = (
        json.dumps([{"prefix": f"s3://bench/{PREFIX}"}])[:-1].encode()
        + b"\n"
        + b",\n".join(e.encode() for e in entries)
        + b"]\n"
    )
    record = BatchRecord(
        batch_id=BATCH_ID,
        model=MODEL,
        batch_name=NAME,
        batch_uri=f"s3://bench/batches/{MODEL}/{NAME}/",
        status="InProgress",
        transform_job_name=JOB,
        scored_by=INFO,
        k=1,
        threshold=0.5,
        images=images,
        skipped={},
        content_type="application/x-image",
        instance_type="ml.m5.large",
        instance_count=1,
        max_runtime_minutes=240,
        console_url="https://console.aws.amazon.com/sagemaker",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    bucket.objects[batch_record_key(MODEL, NAME)] = record.model_dump_json().encode()
    count = math.ceil(images / shard_images)
    shards = [
        BatchShard(
            model=MODEL,
            batch_name=NAME,
            batch_id=BATCH_ID,
            transform_job_name=JOB,
            shard=n,
            shards=count,
            shard_images=shard_images,
        )
        for n in range(count)
    ]
    line = (
        b'{"image":"'
        + PREFIX.encode()
        + b'0000/0000000.jpg","predictions":[{"label":"class-3","score":0.4}]}'
    )
    part = b"\n".join([line] * shard_images) + b"\n"
    summary = BatchSummary(images=shard_images, scored=shard_images, label_counts={"class-3": shard_images})
    for shard in shards[:-1]:
        bucket.objects[f"{WORK}{PARTS_DIR}{shard.shard:05d}.jsonl"] = part
        bucket.objects[f"{WORK}{PARTS_DIR}{shard.shard:05d}{PART_SUMMARY_SUFFIX}"] = (
            summary.model_dump_json().encode()
        )
    return bucket, shards


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--shard-images", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=ANSWER_READERS)
    args = parser.parse_args()

    bucket, shards = seeded(args.images, args.shard_images, args.latency_ms / 1000)
    last = shards[-1]
    manifest_bytes = len(bucket.objects[WORK + TRANSFORM_MANIFEST])
    # The fan-out (the Completed change): one pass over the manifest into the shards' manifests.
    record = BatchRecord.model_validate_json(bucket.objects[batch_record_key(MODEL, NAME)])
    fan_from = time.perf_counter()
    write_shard_manifests(bucket, record, shards)
    fan_seconds = time.perf_counter() - fan_from
    bucket.manifest_read, bucket.written = 0, 0
    config = CollectConfig(stack_name="bench", shard_images=args.shard_images, readers=args.readers)
    # The first shard: its answers only (its slice starts the manifest; the set is not complete yet).
    first_from = time.perf_counter()
    assert collect_shard(shards[0], bucket, _Publisher(), config, datetime.now(UTC)) is None
    first_seconds = time.perf_counter() - first_from
    rate = bucket.gets / first_seconds
    first_read, bucket.manifest_read = bucket.manifest_read, 0
    # The last shard: it reads its own manifest, answers its slice, finds the set complete, merges.
    started = time.perf_counter()
    completed = collect_shard(last, bucket, _Publisher(), config, datetime.now(UTC))
    ended = time.perf_counter()
    assert completed is not None
    assert completed.images == args.images
    shard_seconds = bucket.merge_started - started
    merge_seconds = ended - bucket.merge_started
    shards_count, written = len(shards), bucket.written

    print(
        f"images                      {args.images:>12,} in {shards_count:,} shards of {args.shard_images:,}"
    )
    print(f"GET latency                 {args.latency_ms:>12.0f} ms, {args.readers} readers")
    print(f"fan-out: shard manifests    {fan_seconds:>12.2f} s (one pass over {manifest_bytes:,} bytes)")
    print(f"first shard                 {first_seconds:>12.2f} s ({rate:,.0f} answers/s)")
    print(f"manifest bytes per shard    {first_read:>12,} (first), {bucket.manifest_read:,} (last)")
    print(f"last shard, before merging  {shard_seconds:>12.2f} s (reads only its own manifest)")
    print(f"merge of the parts          {merge_seconds:>12.2f} s ({shards_count:,} parts, {written:,} bytes)")
    print(f"last shard + merge, 1 call  {shard_seconds + merge_seconds:>12.2f} s (Lambda allows 900 s)")
    print(
        f"no shards, one invocation   {args.images / rate:>12.0f} s (every answer at the first shard's rate)"
    )


class _Publisher:
    def publish(self, event: object) -> None:
        pass


if __name__ == "__main__":
    main()
