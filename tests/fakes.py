"""In-memory stand-ins for the ports, so service tests need no AWS and no moto."""

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from sagechain.console import console_url
from sagechain.errors import ObjectNotFoundError, ObjectTooLargeError
from sagechain.event_sources.sagemaker import JobKind
from sagechain.events import SagechainEvent
from sagechain.ports import (
    Cursor,
    EndpointAnswer,
    EndpointFacts,
    LabelingJobFacts,
    LabelTally,
    ObjectPage,
    StoredObject,
    TrainingJobFacts,
    TuningJobFacts,
)
from sagechain.run_history import RunChange, RunItem, RunRecord


class MemoryWriter:
    """Buffers until commit, like a multipart upload."""

    def __init__(self, store: "MemoryStore", key: str) -> None:
        self._store = store
        self._key = key
        self._data = bytearray()
        self.aborted = False

    def write(self, data: bytes) -> None:
        self._data += data

    def commit(self) -> None:
        self._store.objects[self._key] = bytes(self._data)

    def abort(self) -> None:
        self.aborted = True


class VersionedObjects(dict[str, bytes]):
    """key -> latest bytes, keeping every write as a version like a versioned S3 bucket: a key's
    first write is version "v1", its next "v2", and a delete leaves the versions in place."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.versions: dict[tuple[str, str], bytes] = {}
        self._written: dict[str, int] = {}
        for key, data in (objects or {}).items():
            self[key] = data

    def __setitem__(self, key: str, data: bytes) -> None:
        self._written[key] = self._written.get(key, 0) + 1
        self.versions[key, f"v{self._written[key]}"] = data
        super().__setitem__(key, data)


class MemoryStore:
    """A versioned bucket as a dict of key -> bytes, listed in key order like S3.

    A read naming a version gets that version, and a version never written is refused as S3
    refuses it (GetObject: 404 NoSuchVersion, which the adapter raises as ObjectNotFoundError).
    """

    def __init__(self, bucket: str = "bucket", objects: dict[str, bytes] | None = None) -> None:
        self.bucket = bucket
        self.objects = VersionedObjects(objects)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        if version_id is None:
            if key not in self.objects:
                raise ObjectNotFoundError(key)
            data = self.objects[key]
        elif (key, version_id) in self.objects.versions:
            data = self.objects.versions[key, version_id]
        else:
            raise ObjectNotFoundError(key)
        if len(data) > max_bytes:
            raise ObjectTooLargeError(key, len(data), max_bytes)
        return data

    def exists(self, key: str) -> bool:
        return key in self.objects

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield StoredObject(key, len(self.objects[key]))

    def iter_object_pages(self, prefix: str) -> Iterator[ObjectPage]:
        listed = list(self.iter_objects(prefix))
        for start in range(0, len(listed), 1000):
            page = listed[start : start + 1000]
            yield ObjectPage([obj.key for obj in page], [obj.size for obj in page])

    def iter_lines(self, key: str) -> Iterator[bytes]:
        yield from self.read_bytes(key, 1 << 40).splitlines()

    def open_writer(self, key: str, content_type: str) -> MemoryWriter:
        return MemoryWriter(self, key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    def open_random_access(self, key: str, version_id: str | None = None) -> BinaryIO:
        return io.BytesIO(self.read_bytes(key, 1 << 40, version_id))

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str) -> None:
        self.objects[key] = stream.read()

    def copy(self, source_key: str, key: str) -> None:
        if source_key not in self.objects:
            raise ObjectNotFoundError(source_key)
        self.objects[key] = self.objects[source_key]


class RecordingPublisher:
    """Keeps every published event."""

    def __init__(self) -> None:
        self.events: list[SagechainEvent] = []

    def publish(self, event: SagechainEvent) -> None:
        self.events.append(event)


class FakeSageMaker:
    """SageMakerLookup over dicts: tags by ARN, Describe* results by name; records what was asked."""

    def __init__(
        self,
        tags: dict[str, dict[str, str]] | None = None,
        training: dict[str, TrainingJobFacts] | None = None,
        labeling: dict[str, LabelingJobFacts] | None = None,
        tuning: dict[str, TuningJobFacts] | None = None,
        endpoints: dict[str, EndpointFacts] | None = None,
    ) -> None:
        self.tag_map = dict(tags or {})
        self.training = dict(training or {})
        self.labeling = dict(labeling or {})
        self.tuning = dict(tuning or {})
        self.endpoints = dict(endpoints or {})
        self.portals: dict[str, str] = {}
        self.asked: list[str] = []

    def tags(self, arn: str) -> dict[str, str]:
        self.asked.append(f"ListTags {arn}")
        return self.tag_map.get(arn, {})

    def training_job(self, name: str) -> TrainingJobFacts | None:
        self.asked.append(f"DescribeTrainingJob {name}")
        return self.training.get(name)

    def labeling_job(self, name: str) -> LabelingJobFacts | None:
        self.asked.append(f"DescribeLabelingJob {name}")
        return self.labeling.get(name)

    def tuning_job(self, name: str) -> TuningJobFacts | None:
        self.asked.append(f"DescribeHyperParameterTuningJob {name}")
        return self.tuning.get(name)

    def endpoint(self, name: str) -> EndpointFacts | None:
        self.asked.append(f"DescribeEndpoint {name}")
        return self.endpoints.get(name)

    def console_url(self, kind: JobKind, name: str) -> str:
        return console_url("us-east-1", kind.console_kind, name)

    def training_log_url(self, name: str) -> str:
        return f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:prefix={name}/"

    def worker_portal(self, workteam_arn: str) -> str | None:
        self.asked.append(f"DescribeWorkteam {workteam_arn}")
        return self.portals.get(workteam_arn)


class RecordingRunStore:
    """Keeps every RunChange applied (the DynamoDB semantics are tested against moto)."""

    def __init__(self) -> None:
        self.changes: list[RunChange] = []

    def apply(self, change: RunChange) -> None:
        self.changes.append(change)

    def get_run(self, run_id: str) -> RunRecord | None:
        return None

    def list_runs(self, limit: int, cursor: Cursor | None) -> tuple[list[RunItem], Cursor | None]:
        return [], None


class MemoryDeploymentStore(MemoryStore):
    """MemoryStore with the deploy stage's conditional write and delete."""

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        if key in self.objects:
            return False
        self.objects[key] = data
        return True

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class MemoryLabelCounters:
    """LabelCounters in memory, keeping how often they were called."""

    def __init__(self) -> None:
        self.tallies: dict[str, LabelTally] = {}
        self.calls = 0

    def add(self, run_id: str, labeled: int, unusable: int) -> LabelTally:
        self.calls += 1
        old = self.tallies.get(run_id, LabelTally(0, 0))
        self.tallies[run_id] = LabelTally(old.labeled + labeled, old.unusable + unusable)
        return self.tallies[run_id]


class ScriptedEndpoint:
    """An endpoint that answers (or raises) from a script, one entry per call, and keeps the calls."""

    def __init__(self, *script: EndpointAnswer | Exception) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def invoke(
        self, endpoint: str, body: bytes, content_type: str, accept: str | None, timeout_seconds: float
    ) -> EndpointAnswer:
        self.calls.append(
            {
                "endpoint": endpoint,
                "body": body,
                "content_type": content_type,
                "accept": accept,
                "timeout_seconds": timeout_seconds,
            }
        )
        entry = self.script.pop(0)
        if isinstance(entry, Exception):
            raise entry
        return entry


class FakeClock:
    """Monotonic time that only moves when something sleeps; jitter takes the full cap."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds

    def jitter(self, cap: float) -> float:
        return cap
