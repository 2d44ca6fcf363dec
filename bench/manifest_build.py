"""Benchmark: the Ground Truth input manifest of a 1,000,000-image dataset, and of 10,000,000.

Runs the real service (prepare_dataset) and the real S3 adapter, uploads counted and dropped, over
two kinds of listing:
- a stub whose list_objects_v2 pages are dicts generated on the fly (1,000 keys a page, as S3
  sends them): the landed code's figure was taken on it, and the landed loop (one JSON encoder
  per line, one write per line) is run again here beside the new one;
- real S3 ListObjectsV2 XML pages (ListBucketResult, with continuation tokens, Delimiter and
  CommonPrefixes) answered to a real botocore client and parsed by botocore: the baseline is a
  bare paginated listing of the same pages through the same client.
Every ratio's two sides are timed in the same run, in turns, --repeats times (min/median/max).

--large N lists N images (10,000,000 by default in `make bench`) with --latency seconds of
simulated S3 latency per page (30 ms), in folders of 10,000: wall and CPU time, and the time
projected for Lambda at the function's memory (CPU share memory / 1,769 MB).

    make bench            # or: python -m bench.manifest_build --objects 1000000 --large 10000000
"""

import argparse
import gc
import io
import json
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "common"))

import boto3
import botocore.config
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from bench.fake_s3 import CountingUploads
from bench.measure import peak_memory_mib
from sagechain.adapters import s3 as s3_adapter
from sagechain.adapters.clients import S3_CONNECTIONS, listing_session
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import DatasetPrepared, SagechainEvent
from sagechain.guardrails import Guardrails
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import dataset_upload, skip_reason
from sagechain.manifest import ManifestStats
from sagechain.ports import StoredObject
from sagechain.settings import SpecDefaults

BUCKET = "bench-bucket"
# CPU seconds of the whole process (every thread): the machine is shared, and wall time swings with
# the other jobs on it far more than CPU time does.
CLOCK = time.process_time
PREPARE_MEMORY_MB = 1769  # template.yaml, PrepareDatasetFunction's MemorySize
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

    def paginate(  # the stub answers every listing flat, whatever the delimiter
        self,
        Bucket: str,  # noqa: N803 - boto3's names
        Prefix: str,  # noqa: N803
        Delimiter: str | None = None,  # noqa: N803
    ) -> Iterator[dict[str, Any]]:
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


def _get_object(request: dict[str, Any]) -> dict[str, Any]:
    """The dataset's spec; any other key is missing (the dataset's first run, no live model)."""
    if request["Key"] != "datasets/bench/dataset.json":
        raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
    return {"ContentLength": len(SPEC), "Body": io.BytesIO(SPEC)}


class FakeS3(CountingUploads):
    """The few S3 calls prepare_dataset makes; uploads are counted, not kept."""

    def __init__(self, objects: int) -> None:
        self._objects = objects
        super().__init__()

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator(self._objects)

    def get_object(self, **request: Any) -> dict[str, Any]:
        return _get_object(request)


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
        "DEFAULT_ENDPOINT_TTL_HOURS": "0",
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
        "MAX_ENDPOINT_TTL_HOURS": "0",
        "ALLOW_WORSE_MODEL": "false",
        "DEFAULT_MAX_LABELING_COST_USD": "1000000",
        "DEFAULT_WORKTEAM_ARN": DEFAULTS.workteam_arn or "",
        "ALLOW_PUBLIC_WORKFORCE": "false",
        "ALLOWED_WORKTEAM_ARNS": "",
        "MAX_RUN_COST_USD": "1000000",
        "INSTANCE_PRICE_OVERRIDES": "",
    }
)


IMAGES = "datasets/bench/images/"
FOLDER = 10_000  # images a folder: datasets/bench/images/<nnn>/img <nnnnnnn>.jpg


def bare_listing(objects: int) -> float:
    """Seconds to walk the stub's pages and touch every key: the stub's floor."""
    started = CLOCK()
    count = 0
    for page in _Paginator(objects).paginate(Bucket=BUCKET, Prefix=IMAGES):
        for item in page["Contents"]:
            count += len(item["Key"]) > 0
    assert count == objects
    return CLOCK() - started


def build_manifest(client: Any, objects: int) -> tuple[float, DatasetPrepared]:
    """Seconds for prepare_dataset to list and write the whole manifest."""
    store = S3ObjectStore(BUCKET, client)
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/bench/dataset.json", version_id="v1"))
    assert upload is not None
    publisher = _NullPublisher()
    started = CLOCK()
    event = prepare_dataset(upload, store, publisher, DEFAULTS, ZipLimits.from_env({}), GUARDRAILS)
    elapsed = CLOCK() - started
    assert isinstance(event, DatasetPrepared), event
    assert event.objects == objects
    return elapsed, event


def landed_build(objects: int) -> float:
    """Seconds for the landed code's listing loop on the stub (git 2647a45, prepare_dataset's
    _write_input_lines over S3ObjectStore.iter_objects): a StoredObject, skip_reason, a json.dumps
    (a new encoder) and a write per object."""
    client = FakeS3(objects)
    writer = S3ObjectStore(BUCKET, client).open_writer("runs/x/input.manifest", "application/x-ndjson")  # type: ignore[arg-type]
    stats = ManifestStats()
    started = CLOCK()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=IMAGES):
        for item in page.get("Contents", []):
            obj = StoredObject(item["Key"], item["Size"])
            reason = skip_reason(obj)
            if reason:
                stats.skipped[reason] += 1
                continue
            uri = f"s3://{BUCKET}/{obj.key}"
            writer.write(b'{"source-ref": ' + json.dumps(uri, ensure_ascii=False).encode() + b"}\n")
            stats.objects += 1
    writer.commit()
    elapsed = CLOCK() - started
    assert stats.objects == objects
    return elapsed


# ---------------------------------------------------------------- real S3 XML through botocore


def _page_xml(
    prefix: str, keys: list[str], folders: list[str], next_token: str | None, *, url_encoded: bool
) -> bytes:
    """A ListObjectsV2 answer as S3 writes it (ListBucketResult); url_encoded: as S3 answers the
    `encoding-type=url` botocore asks for, the keys and prefixes URL-encoded (botocore decodes them)."""
    encoding = ""
    if url_encoded:
        prefix, keys, folders = quote(prefix), [quote(key) for key in keys], [quote(f) for f in folders]
        encoding = "<EncodingType>url</EncodingType>"
    contents = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2026-11-25T00:00:00.000Z</LastModified>"
        "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><ChecksumAlgorithm>CRC64NVME"
        "</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>48213</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for key in keys
    )
    common = "".join(f"<CommonPrefixes><Prefix>{folder}</Prefix></CommonPrefixes>" for folder in folders)
    truncated = "true" if next_token else "false"
    token = f"<NextContinuationToken>{next_token}</NextContinuationToken>" if next_token else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{BUCKET}</Name><Prefix>{prefix}</Prefix><KeyCount>{len(keys) + len(folders)}</KeyCount>"
        f"<MaxKeys>{PAGE}</MaxKeys>{encoding}<IsTruncated>{truncated}</IsTruncated>{token}{contents}{common}"
        "</ListBucketResult>"
    ).encode()


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class XmlS3(CountingUploads):
    """A real botocore S3 client whose ListObjectsV2 requests are answered with XML pages of
    `objects` images in folders of FOLDER (after `latency` seconds, as a round trip to S3 takes);
    uploads are counted, not kept (as with the stub)."""

    def __init__(self, objects: int, latency: float = 0.0, *, stock: bool = False) -> None:
        """A client as sagechain lists with (clients.s3_listing_client), or, stock, as botocore
        makes it by default (its own XML walk, timestamps read by dateutil)."""
        super().__init__()
        self._objects = objects
        self._latency = latency
        self.pages = 0
        self.generating_seconds = 0.0  # CPU spent writing the XML, not sagechain's nor botocore's
        self._lock = threading.Lock()
        session = boto3.session.Session() if stock else listing_session()
        self._client = session.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - no AWS is reached
            config=botocore.config.Config(max_pool_connections=S3_CONNECTIONS),
        )
        self._client.meta.events.register("before-send.s3.ListObjectsV2", self._answer)

    def get_paginator(self, name: str) -> Any:
        return self._client.get_paginator(name)

    def get_object(self, **request: Any) -> dict[str, Any]:
        return _get_object(request)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        cpu = time.thread_time()
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        prefix = query.get("prefix", "")
        start = int(query.get("continuation-token", "0"))
        folders = -(-self._objects // FOLDER)
        names: list[str] = []
        keys: list[str] = []
        if prefix == IMAGES and query.get("delimiter") == "/":
            names = [f"{IMAGES}{f:03}/" for f in range(start, min(start + PAGE, folders))]
            end, total = start + len(names), folders
        else:
            first, last = 0, self._objects
            if prefix != IMAGES:  # one folder: datasets/bench/images/<nnn>/
                folder = int(prefix[len(IMAGES) :].rstrip("/"))
                first, last = folder * FOLDER, min((folder + 1) * FOLDER, self._objects)
            end, total = min(first + start + PAGE, last), last
            keys = [f"{IMAGES}{i // FOLDER:03}/img {i:07}.jpg" for i in range(first + start, end)]
            end -= first
            total -= first
        token = str(end) if end < total else None
        body = _page_xml(prefix, keys, names, token, url_encoded=query.get("encoding-type") == "url")
        with self._lock:
            self.pages += 1
            self.generating_seconds += time.thread_time() - cpu
        if self._latency:
            time.sleep(self._latency)
        return AWSResponse(request.url, 200, {}, _Body(body))


def bare_botocore_listing(objects: int, *, stock: bool) -> float:
    """Seconds to list the XML pages through botocore, one after another, touching every key (the
    CPU spent writing the XML pages left out)."""
    client = XmlS3(objects, stock=stock)
    started = CLOCK()
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=IMAGES):
        for item in page.get("Contents", []):
            count += len(item["Key"]) > 0
    assert count == objects
    return CLOCK() - started - client.generating_seconds


def xml_build(objects: int) -> float:
    """Seconds for prepare_dataset to list the XML pages and write the manifest (the CPU spent
    writing the XML pages left out, as from the bare listing)."""
    client = XmlS3(objects)
    seconds, _ = build_manifest(client, objects)
    return seconds - client.generating_seconds


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _rate(objects: int, seconds: list[float]) -> str:
    return f"{objects / statistics.median(seconds):,.0f} objects/s at the median"


def _turns(repeats: int, *runs: Callable[[], float]) -> list[list[float]]:
    """Each run `repeats` times, in turns, so that all see the same machine; each starts with the
    garbage of the one before collected, so that none pays for another's."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for index, run in enumerate(runs):
            gc.collect()
            times[index].append(run())
    return times


def large(objects: int, latency: float, memory_mb: int) -> None:
    """The large folder with latency per page: wall, CPU and the projection for Lambda."""
    client = XmlS3(objects, latency)
    wall = time.perf_counter()
    cpu, _ = build_manifest(client, objects)
    wall = time.perf_counter() - wall
    cpu -= client.generating_seconds
    sequential = client.pages * latency + cpu
    share = memory_mb / 1769  # Lambda's CPU share: a full vCPU at 1,769 MB (Lambda's documentation)
    workers = s3_adapter.LIST_WORKERS
    hidden = client.pages * latency / workers  # the latency the listing workers overlap
    pages = f"{client.pages:,} pages ({latency * 1000:.0f} ms each)"
    print(f"large folder                {objects:>12,} images in {pages}, {workers} listing workers")
    print(f"  listed and written        {wall:>12.1f} s wall, {cpu:.1f} s CPU (XML writing excluded)")
    print(f"  CPU a key                 {cpu / objects * 1e6:>12.2f} us")
    print(f"  one page after another    {sequential:>12.1f} s (pages x latency + the same CPU)")
    vcpu = f"{memory_mb} MB ({share:.2f} vCPU)"
    print(f"  projected on Lambda       {max(cpu / share, hidden):>12.1f} s at {vcpu}, limit 900 s")
    print(f"  ... with no overlap       {cpu / share + hidden:>12.1f} s (CPU, then the workers' waits)")
    print(f"  manifest bytes            {client.uploaded_bytes:>12,} in {client.parts} parts")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak process RSS          {rss:>12.1f} MiB (the whole benchmark's, interpreter included)")


def stub_figures(n: int, repeats: int) -> None:
    """The stub's figures: the new loop against the landed one, and memory."""
    stub_floor, landed, stub_build = _turns(
        repeats,
        lambda: bare_listing(n),
        lambda: landed_build(n),
        lambda: build_manifest(FakeS3(n), n)[0],
    )
    client = FakeS3(n)
    build_manifest(client, n)
    peak_mib, max_rss_mib = peak_memory_mib(lambda: build_manifest(FakeS3(n), n))
    print(f"objects                     {n:>12,} (min / median / max of {repeats} runs, seconds)")
    print(f"manifest bytes              {client.uploaded_bytes:>12,} in {client.parts} parts")
    print(f"stub: bare listing          {_spread(stub_floor)}")
    print(f"stub: landed loop           {_spread(landed)}  ({_rate(n, landed)})")
    print(f"stub: build manifest        {_spread(stub_build)}  ({_rate(n, stub_build)})")
    speedups = [old / new for old, new in zip(landed, stub_build, strict=True)]
    print(f"stub: speed-up over landed  {_spread(speedups)} x")
    print(f"peak Python allocations     {peak_mib:>12.1f} MiB (tracemalloc)")
    print(f"peak process RSS            {max_rss_mib:>12.1f} MiB (includes the interpreter)")


def botocore_figures(x: int, repeats: int) -> None:
    """The build against a bare listing of the same XML pages: through a stock botocore client, and
    through the client sagechain lists with; the three timed in turns."""
    stock_floor, xml_floor, xml_builds = _turns(
        repeats,
        lambda: bare_botocore_listing(x, stock=True),
        lambda: bare_botocore_listing(x, stock=False),
        lambda: xml_build(x),
    )
    print(f"botocore: objects           {x:>12,} (min / median / max of {repeats} runs, CPU seconds)")
    print(f"botocore: bare, stock       {_spread(stock_floor)}  ({_rate(x, stock_floor)})")
    print(f"botocore: bare, same client {_spread(xml_floor)}  ({_rate(x, xml_floor)})")
    print(f"botocore: build manifest    {_spread(xml_builds)}  ({_rate(x, xml_builds)})")
    ratios = [build / floor for build, floor in zip(xml_builds, xml_floor, strict=True)]
    print(f"botocore: ratio, same client {_spread(ratios)} x (the listing client's bare listing)")
    ratios = [build / floor for build, floor in zip(xml_builds, stock_floor, strict=True)]
    print(f"botocore: ratio, stock      {_spread(ratios)} x (a stock botocore client's bare listing)")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=1_000_000, help="0 skips the stub")
    parser.add_argument("--botocore-objects", type=int, default=100_000, help="0 skips the XML pages")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", type=int, default=10_000_000, help="0 skips the large folder")
    parser.add_argument("--latency", type=float, default=0.030)
    parser.add_argument("--memory", type=int, default=PREPARE_MEMORY_MB)
    parser.add_argument("--workers", type=int, default=s3_adapter.LIST_WORKERS, help="listing workers")
    args = parser.parse_args()
    s3_adapter.LIST_WORKERS = args.workers
    n = args.objects
    if n:
        stub_figures(n, args.repeats)
    if args.botocore_objects:
        botocore_figures(args.botocore_objects, args.repeats)
    if args.large:
        large(args.large, args.latency, args.memory)


if __name__ == "__main__":
    main()
