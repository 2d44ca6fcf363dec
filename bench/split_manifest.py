"""Benchmark: splitting a 1,000,000-line labeled manifest into train and validation.

Runs the real stage (start_training, provided-labels trigger) and the real S3 adapter over an
in-process S3 client: get_object streams a labeled.manifest generated on the fly (three
classes, in Ground Truth's output form, about 250 bytes a line) and uploads are counted,
then dropped. SageMaker is a recorder: the bench measures the split, not a network. It
prints lines/s, the peak of Python allocations and the process's peak RSS, and the ratio to
a bare read of the same stream, which is the floor: the split cannot be faster than reading.

    make bench            # or: python -m bench.split_manifest --lines 1000000
"""

import argparse
import io
import itertools
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))

from bench.fake_s3 import CountingUploads
from bench.measure import peak_memory_mib
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.events import SagechainEvent, TrainingStarted
from sagechain.ports import LabelingJobSummary
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec
from sagechain.training.settings import TrainingEnvironment
from sagechain.training.start_training import TrainingTrigger, start_training

BUCKET = "bench-bucket"
# CPU seconds of the whole process (every thread): the machine is shared, and wall time swings with
# the other jobs on it far more than CPU time does.
CLOCK = time.process_time
RUN_ID = "bench-0123456789ab"
LABELS = ["rose", "tulip", "daisy"]
CREATED = datetime(2026, 11, 25, tzinfo=UTC)
SPEC = DatasetSpec.model_validate(
    {
        "task": "image-classification",
        "labels": LABELS,
        "labeling": {"mode": "provided"},
        "training": {"instance_type": "ml.p3.2xlarge"},
    }
)
INFO = RunInfo(
    run_id=RUN_ID,
    dataset="bench",
    source_uri=f"s3://{BUCKET}/datasets/bench.zip",
    source_version="v1",
    task="image-classification",
    labeling_mode="provided",
    label_attribute="label",
    manifest_uri=f"s3://{BUCKET}/runs/{RUN_ID}/labeled.manifest",
    objects=0,
    created_at=CREATED,
)
ENVIRONMENT = TrainingEnvironment.from_env(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/bench",
        "NAME_PREFIX": "sagechain",
        "STACK_NAME": "sagechain",
        "ALLOW_CUSTOM_NETWORK_ACCESS": "false",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
    }
)


def _template(index: int) -> bytes:
    metadata = {
        "class-name": LABELS[index],
        "confidence": 0.93,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/bench",
        "human-annotated": "yes",
        "creation-date": "2026-11-25T12:00:00.000000",
    }
    line = {"source-ref": "SOURCE", "label": index, "label-metadata": metadata}
    source = f"s3://{BUCKET}/datasets/bench/images/%03d/img %07d.jpg"
    return json.dumps(line, separators=(",", ":")).replace("SOURCE", source).encode() + b"\n"


_TEMPLATES = [_template(index) for index in range(len(LABELS))]


def _line(i: int) -> bytes:
    # Classes in uneven shares (50/30/20 %), mixed through the file as Ground Truth writes them.
    index = 0 if i % 10 < 5 else 1 if i % 10 < 8 else 2
    return _TEMPLATES[index] % (i // 10_000, i)


class _GeneratedManifest(io.RawIOBase):
    """A readable stream of `lines` manifest lines, produced as they are read."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self._lines = iter(range(lines))
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            chunk = b"".join(_line(i) for i in itertools.islice(self._lines, 256))
            if not chunk:
                break
            self._pending += chunk
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _EmptyListing:
    def paginate(self, **request: Any) -> Any:
        yield {"Contents": []}


class FakeS3(CountingUploads):
    """The S3 calls start_training makes; the manifest is generated, uploads are counted."""

    def __init__(self, lines: int) -> None:
        self._lines = lines
        super().__init__()

    def get_paginator(self, name: str) -> _EmptyListing:
        return _EmptyListing()  # the run has no other attempts, no pending records

    def get_object(self, Key: str, **request: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if Key.endswith("spec.json"):
            body = SPEC.model_dump_json().encode()
        elif Key.endswith("run.json"):
            body = INFO.model_dump_json().encode()
        elif Key.endswith("labeled.manifest"):
            stream = io.BufferedReader(_GeneratedManifest(self._lines), buffer_size=1 << 20)
            return {"Body": StreamingBody(stream, None)}
        else:  # no stop record, no earlier attempt's training.json
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        return {"ContentLength": len(body), "Body": io.BytesIO(body)}


class RecordingJobs:
    """SageMaker as a recorder of the requests it would get."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def labeling_job(self, name: str) -> LabelingJobSummary | None:
        return None

    def create_training_job(self, request: dict[str, Any]) -> bool:
        self.requests.append(request)
        return True

    def create_tuning_job(self, request: dict[str, Any]) -> bool:
        self.requests.append(request)
        return True

    def console_url(self, kind: str, name: str) -> str:
        return f"https://console/{kind}/{name}"


class _Events:
    def publish(self, event: SagechainEvent) -> None:
        pass


def bare_read(lines: int) -> float:
    """Seconds to read the generated stream line by line: the floor."""
    started = CLOCK()
    body = FakeS3(lines).get_object(Key="labeled.manifest")["Body"]
    count = sum(1 for _ in body.iter_lines(chunk_size=64 * 1024))
    assert count == lines
    return CLOCK() - started


def json_floor(lines: int) -> float:
    """Seconds to read the stream line by line, json.loads each line and write it back through the
    adapter's streamed upload: the least any split must do."""
    client = FakeS3(lines)
    body = client.get_object(Key="labeled.manifest")["Body"]
    writer = S3ObjectStore(BUCKET, client).open_writer("runs/x/train.manifest", "application/x-ndjson")  # type: ignore[arg-type]
    started = CLOCK()
    count = 0
    for raw in body.iter_lines(chunk_size=64 * 1024):
        count += isinstance(json.loads(raw), dict)
        writer.write(raw + b"\n")
    writer.commit()
    assert count == lines
    return CLOCK() - started


def split(lines: int) -> tuple[float, FakeS3, TrainingStarted]:
    """Seconds for start_training to read, split and upload the manifest and plan the job."""
    client = FakeS3(lines)
    store = S3ObjectStore(BUCKET, client)  # type: ignore[arg-type]
    jobs = RecordingJobs()
    trigger = TrainingTrigger(key=f"labeled-manifest/{RUN_ID}", run_id=RUN_ID)
    started = CLOCK()
    event = start_training(trigger, store, jobs, _Events(), ENVIRONMENT)
    elapsed = CLOCK() - started
    assert isinstance(event, TrainingStarted), event
    assert event.train_objects + event.validation_objects == lines
    assert len(jobs.requests) == 1
    return elapsed, client, event


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    reads, floors, splits = [], [], []
    for _ in range(args.repeats):  # in turns, so that all three see the same machine
        reads.append(bare_read(args.lines))
        floors.append(json_floor(args.lines))
        splits.append(split(args.lines)[0])
    floor, elapsed = statistics.median(reads), statistics.median(splits)
    _, client, event = split(args.lines)
    peak_mib, max_rss_mib = peak_memory_mib(lambda: split(args.lines))

    print(f"lines                       {args.lines:>12,}")
    print(f"train / validation          {event.train_objects:>12,} / {event.validation_objects:,}")
    print(f"bytes uploaded              {client.uploaded_bytes:>12,} in {client.parts} parts")
    print(f"bare line read              {floor:>12.2f} s  ({args.lines / floor:,.0f} lines/s)")
    print(f"split (start_training)      {elapsed:>12.2f} s  ({args.lines / elapsed:,.0f} lines/s)")
    print(f"ratio to bare read          {elapsed / floor:>12.2f} x (medians)")
    print(f"runs (min / median / max)   {args.repeats}")
    print(f"  bare line read            {_spread(reads)} s")
    print(f"  read + json.loads + write {_spread(floors)} s (the json floor)")
    print(f"  split (start_training)    {_spread(splits)} s")
    ratios = [a / b for a, b in zip(splits, floors, strict=True)]
    print(f"  ratio to the json floor   {_spread(ratios)} x (each run's split over its floor)")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter)")


if __name__ == "__main__":
    main()
