"""collect_batch: a transform job's end becomes predictions.jsonl and a summary, or Batch Failed."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from sagechain.batch.collect_batch import (
    BatchShard,
    CollectConfig,
    batch_shard_of,
    collect_batch,
    collect_shard,
    stop_overdue_batch,
)
from sagechain.batch.start_batch import BatchDeadline, start_batch
from sagechain.event_sources.s3 import ObjectRef
from sagechain.event_sources.sagemaker import JobKind, StateChange, state_change
from sagechain.events import BatchCompleted, BatchFailed, BatchStarted
from sagechain.ports import StoredObject
from sagechain.records import BatchRecord
from tests.fakes import MemoryDeploymentStore, MemoryStore, RecordingPublisher
from tests.unit.test_expiry import RecordingSchedules
from tests.unit.test_start_batch import CONFIG, IMAGES, KEY, MODEL, NOW, FakeTransformJobs, live_model

LATER = datetime(2026, 3, 10, 3, tzinfo=UTC)
COLLECT = CollectConfig(stack_name="sagechain", shard_images=5000, readers=4)


class RecordingQueue:
    """collect_batch's own queue: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_all(self, bodies: list[str]) -> None:
        self.sent.extend(bodies)


RECORD = f"models/{MODEL}/batches/tonight.json"


def started(task: str, images: dict[str, bytes]) -> tuple[MemoryStore, BatchStarted, FakeTransformJobs]:
    objects = {KEY: b'{"k": 1, "threshold": 0.5}', **{IMAGES + k: v for k, v in images.items()}}
    objects[f"models/{MODEL}/model.json"] = live_model(task)
    store = MemoryDeploymentStore("sagechain-data", objects)
    sagemaker = FakeTransformJobs()
    event = start_batch(
        ObjectRef(bucket=store.bucket, key=KEY, etag="e1"),
        store,
        sagemaker,
        RecordingPublisher(),
        CONFIG,
        NOW,
        RecordingSchedules(),
    )
    assert isinstance(event, BatchStarted)
    return store, event, sagemaker


def answer(store: MemoryStore, sagemaker: FakeTransformJobs, answers: dict[str, object]) -> None:
    [request] = sagemaker.jobs.values()
    output = request["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{store.bucket}/")
    for image, body in answers.items():
        store.objects[f"{output}{image}.out"] = json.dumps(body).encode()


def change(sagemaker: FakeTransformJobs, status: str, reason: str | None = None) -> StateChange:
    [request] = sagemaker.jobs.values()
    name = request["TransformJobName"]
    detail = {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
        "TransformJobStatus": status,
        "Tags": {tag["Key"]: tag["Value"] for tag in request["Tags"]},
        **({"FailureReason": reason} if reason else {}),
    }
    event = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Transform Job State Change",
        "time": "2026-03-10T03:00:00Z",
        "resources": [detail["TransformJobArn"]],
        "detail": detail,
    }
    parsed = state_change(event, JobKind.TRANSFORM)
    assert parsed is not None
    return parsed


def lines(store: MemoryStore) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in store.objects[f"batches/{MODEL}/tonight/predictions.jsonl"].splitlines()
    ]


def test_a_completed_classification_batch_writes_one_line_per_image_and_the_counts() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x", "b.jpg": b"x", "c.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": [0.9, 0.1], "b.jpg": [0.2, 0.8]})
    publisher = RecordingPublisher()

    event = collect_batch(
        change(sagemaker, "Completed"),
        store,
        publisher,
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )

    assert isinstance(event, BatchCompleted)
    assert lines(store) == [
        {"image": IMAGES + "a.jpg", "predictions": [{"label": "daisy", "score": 0.9}]},
        {"image": IMAGES + "b.jpg", "predictions": [{"label": "rose", "score": 0.8}]},
    ]
    assert (event.images, event.scored, event.failed, event.label_counts) == (
        3,
        2,
        1,
        {"daisy": 1, "rose": 1},
    )
    summary = json.loads(store.objects[f"batches/{MODEL}/tonight/summary.json"])
    assert summary["failed_images"][0]["image"] == IMAGES + "c.jpg"
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    assert (record.status, record.scored, record.predictions_uri) == ("Completed", 2, event.predictions_uri)
    assert publisher.events == [event]


def test_a_completed_detection_batch_writes_boxes_over_the_threshold() -> None:
    store, _, sagemaker = started("object-detection", {"a.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": {"prediction": [[1, 0.75, 0.1, 0.2, 0.3, 0.4], [0, 0.2, 0, 0, 1, 1]]}})

    event = collect_batch(
        change(sagemaker, "Completed"),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )

    assert isinstance(event, BatchCompleted)
    assert lines(store) == [
        {
            "image": IMAGES + "a.jpg",
            "predictions": [
                {"label": "rose", "score": 0.75, "xmin": 0.1, "ymin": 0.2, "xmax": 0.3, "ymax": 0.4}
            ],
        }
    ]


@pytest.mark.parametrize(
    ("status", "reason", "says"),
    [("Failed", "ClientError: bad image", "ClientError: bad image"), ("Stopped", None, "stopped")],
)
def test_a_failed_or_stopped_job_fails_the_batch_with_the_reason(
    status: str, reason: str | None, says: str
) -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})

    event = collect_batch(
        change(sagemaker, status, reason),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )

    assert isinstance(event, BatchFailed)
    assert says in event.reason
    assert BatchRecord.model_validate_json(store.objects[RECORD]).status == status


def test_a_duplicate_completion_is_handled_once() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": [0.9, 0.1]})
    collect_batch(
        change(sagemaker, "Completed"),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )
    publisher = RecordingPublisher()

    assert (
        collect_batch(
            change(sagemaker, "Completed"),
            store,
            publisher,
            RecordingQueue(),
            COLLECT,
            LATER,
            RecordingSchedules(),
        )
        is None
    )
    assert publisher.events == []


def test_another_stacks_transform_job_is_ignored() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})

    assert (
        collect_batch(
            change(sagemaker, "Completed"),
            store,
            RecordingPublisher(),
            RecordingQueue(),
            CollectConfig("other-stack", 5000, 4),
            LATER,
            RecordingSchedules(),
        )
        is None
    )


def test_the_documented_transform_state_change_reads_as_a_failed_transform_job() -> None:
    from tests.aws import sample_event  # noqa: PLC0415

    parsed = state_change(sample_event("collect_batch", "transform_job_failed"), JobKind.TRANSFORM)

    assert parsed is not None
    assert (parsed.name, parsed.status) == ("sagechain-batch-tonight-3f2a9c1d0b7e", "Failed")
    assert parsed.failure_reason == "ClientError: See job logs for more information"
    assert parsed.tags["sagechain:batch"] == "sagechain-flowers/tonight"


# ---------------------------------------------------------------- big batches: shards, parts, one merge
FIVE = {f"{n}.jpg": b"x" for n in "abcde"}
FIVE_ANSWERS: dict[str, object] = {
    "a.jpg": [0.9, 0.1],
    "b.jpg": [0.2, 0.8],
    "c.jpg": [0.7, 0.3],
    "e.jpg": [0.4, 0.6],
}
SHARDED = CollectConfig(stack_name="sagechain", shard_images=2, readers=4)


def queued_shards(store: MemoryStore, sagemaker: FakeTransformJobs) -> list[BatchShard]:
    queue = RecordingQueue()
    queued = collect_batch(
        change(sagemaker, "Completed"),
        store,
        RecordingPublisher(),
        queue,
        SHARDED,
        LATER,
        RecordingSchedules(),
    )
    shards = [batch_shard_of(json.loads(body)) for body in queue.sent]
    assert queued == shards
    return [shard for shard in shards if shard is not None]


def test_answers_read_by_many_threads_keep_the_manifests_order() -> None:
    images = {f"{n:03d}.jpg": b"x" for n in range(50)}
    store, _, sagemaker = started("image-classification", images)
    answer(store, sagemaker, {name: [0.9, 0.1] if n % 2 else [0.1, 0.9] for n, name in enumerate(images)})

    collect_batch(
        change(sagemaker, "Completed"),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        CollectConfig("sagechain", 5000, readers=8),
        LATER,
        RecordingSchedules(),
    )

    assert [line["image"] for line in lines(store)] == [IMAGES + name for name in images]
    assert [line["predictions"][0]["label"] for line in lines(store)][:2] == ["rose", "daisy"]  # type: ignore[index]


def test_a_big_batch_is_collected_in_shards_and_merged_once_into_the_single_invocations_output() -> None:
    single, _, single_jobs = started("image-classification", FIVE)
    answer(single, single_jobs, FIVE_ANSWERS)
    one = collect_batch(
        change(single_jobs, "Completed"),
        single,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)

    shards = queued_shards(store, sagemaker)
    assert [(s.shard, s.shards) for s in shards] == [(0, 3), (1, 3), (2, 3)]
    assert f"batches/{MODEL}/tonight/predictions.jsonl" not in store.objects
    publisher = RecordingPublisher()
    # Out of order: the last shard to write its part merges, whichever it is.
    ended = [collect_shard(shard, store, publisher, SHARDED, LATER) for shard in reversed(shards)]

    assert ended[:2] == [None, None]
    completed = ended[2]
    assert isinstance(completed, BatchCompleted)
    assert isinstance(one, BatchCompleted)
    assert publisher.events == [completed]
    assert lines(store) == lines(single)
    assert (completed.images, completed.scored, completed.failed, completed.label_counts) == (
        one.images,
        one.scored,
        one.failed,
        one.label_counts,
    )
    summary = json.loads(store.objects[f"batches/{MODEL}/tonight/summary.json"])
    assert [f["image"] for f in summary["failed_images"]] == [IMAGES + "d.jpg"]
    assert BatchRecord.model_validate_json(store.objects[RECORD]).status == "Completed"


class ReadCountingStore(MemoryDeploymentStore):
    """Counts the bytes each streamed read returns, by key."""

    def __init__(self, bucket: str, objects: dict[str, bytes]) -> None:
        super().__init__(bucket, objects)
        self.streamed: dict[str, int] = {}

    def iter_lines(self, key: str) -> Iterator[bytes]:
        for line in super().iter_lines(key):
            self.streamed[key] = self.streamed.get(key, 0) + len(line) + 1
            yield line


def test_each_shard_reads_only_its_own_slice_of_the_manifest() -> None:
    base, _, sagemaker = started("image-classification", FIVE)
    answer(base, sagemaker, FIVE_ANSWERS)
    store = ReadCountingStore(base.bucket, base.objects)
    shards = queued_shards(store, sagemaker)
    manifest = next(key for key in store.objects if key.endswith("/transform.manifest"))
    # The fan-out streamed the manifest once.
    assert store.streamed == {manifest: len(store.objects[manifest])}
    store.streamed.clear()

    last = collect_shard(shards[2], store, RecordingPublisher(), SHARDED, LATER)

    assert last is None  # the other parts are missing
    assert manifest not in store.streamed
    assert [key for key in store.streamed if key.endswith(".manifest")] == [shards[2].manifest_key]
    for shard in shards[:2]:
        collect_shard(shard, store, RecordingPublisher(), SHARDED, LATER)
    assert [line["image"] for line in lines(store)] == [IMAGES + name for name in FIVE_ANSWERS]


def test_a_duplicate_shard_message_after_the_merge_changes_nothing() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)
    shards = queued_shards(store, sagemaker)
    for shard in shards:
        collect_shard(shard, store, RecordingPublisher(), SHARDED, LATER)
    merged = store.objects[f"batches/{MODEL}/tonight/predictions.jsonl"]
    publisher = RecordingPublisher()

    assert collect_shard(shards[1], store, publisher, SHARDED, LATER) is None
    assert collect_shard(shards[2], store, publisher, SHARDED, LATER) is None
    assert publisher.events == []
    assert store.objects[f"batches/{MODEL}/tonight/predictions.jsonl"] == merged


class RacingStore(MemoryDeploymentStore):
    """Runs another shard to its end while this one lists the parts: both then see every part."""

    def __init__(self, base: MemoryStore) -> None:
        super().__init__(base.bucket, base.objects)
        self.before_listing: list[Callable[[], object]] = []

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        if prefix.endswith("/parts/") and self.before_listing:
            self.before_listing.pop()()
        return super().iter_objects(prefix)


def test_two_shards_finishing_together_publish_one_batch_completed() -> None:
    base, _, sagemaker = started("image-classification", FIVE)
    answer(base, sagemaker, FIVE_ANSWERS)
    first, second, third = queued_shards(base, sagemaker)
    store = RacingStore(base)
    publisher = RecordingPublisher()
    collect_shard(first, store, publisher, SHARDED, LATER)
    racer: list[object] = []
    store.before_listing.append(lambda: racer.append(collect_shard(third, store, publisher, SHARDED, LATER)))

    mine = collect_shard(second, store, publisher, SHARDED, LATER)

    [theirs] = racer
    assert [mine is None, theirs is None].count(True) == 1
    assert [e.DETAIL_TYPE for e in publisher.events] == ["Batch Completed"]
    assert len(lines(store)) == 4


def test_a_shard_that_crashed_mid_merge_merges_on_its_retry() -> None:
    store, _, sagemaker = started("image-classification", FIVE)
    answer(store, sagemaker, FIVE_ANSWERS)
    shards = queued_shards(store, sagemaker)
    for shard in shards[:2]:
        collect_shard(shard, store, RecordingPublisher(), SHARDED, LATER)
    assert not [k for k in store.objects if k.endswith("/merge.claim")]
    # The last shard claimed the merge, then died before writing predictions.jsonl.
    work = next(k for k in store.objects if k.endswith("/transform.manifest")).removesuffix(
        "transform.manifest"
    )
    store.objects[work + "merge.claim"] = shards[2].key.encode()
    publisher = RecordingPublisher()

    assert isinstance(collect_shard(shards[2], store, publisher, SHARDED, LATER), BatchCompleted)
    assert len(lines(store)) == 4
    assert [e.DETAIL_TYPE for e in publisher.events] == ["Batch Completed"]


def test_a_body_that_is_not_a_shard_is_not_read_as_one() -> None:
    assert batch_shard_of({"source": "aws.sagemaker", "detail": {}}) is None
    assert batch_shard_of({"batch_shard": {"shard": "x"}}) is None


# ---------------------------------------------------------------- max runtime: the deadline stops the job
class RecordingStopper:
    """StopTransformJob: stops what still runs, answers False for the rest."""

    def __init__(self, running: set[str]) -> None:
        self.running, self.stopped = running, list[str]()

    def stop_transform_job(self, name: str) -> bool:
        if name not in self.running:
            return False
        self.running.discard(name)
        self.stopped.append(name)
        return True


def deadline_of(store: MemoryStore) -> BatchDeadline:
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    return BatchDeadline(
        model=MODEL,
        batch_name="tonight",
        batch_id=record.batch_id,
        transform_job_name=record.transform_job_name,
        max_runtime_minutes=record.max_runtime_minutes,
    )


def test_a_batch_still_running_at_its_deadline_is_stopped_and_fails_saying_how_to_give_it_longer() -> None:
    store, started_event, sagemaker = started("image-classification", {"a.jpg": b"x"})
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    deadline = deadline_of(store)
    stopper = RecordingStopper({started_event.transform_job_name})
    deadlines = RecordingSchedules()
    deadlines.put(started_event.transform_job_name, LATER, deadline.message())

    assert stop_overdue_batch(deadline, store, stopper, LATER) is True
    event = collect_batch(
        change(sagemaker, "Stopped"), store, RecordingPublisher(), RecordingQueue(), COLLECT, LATER, deadlines
    )

    assert stopper.stopped == [started_event.transform_job_name]
    assert isinstance(event, BatchFailed)
    assert event.status == "Stopped"
    assert f"max runtime of {record.max_runtime_minutes} minutes" in event.reason
    assert "max_runtime_minutes in batch.json" in event.reason
    assert "MaxBatchHours" in event.reason
    assert deadlines.schedules == {}


def test_a_deadline_after_the_batch_ended_stops_nothing() -> None:
    store, started_event, sagemaker = started("image-classification", {"a.jpg": b"x"})
    answer(store, sagemaker, {"a.jpg": [0.9, 0.1]})
    deadlines = RecordingSchedules()
    deadlines.put(started_event.transform_job_name, LATER, "{}")
    collect_batch(
        change(sagemaker, "Completed"),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        deadlines,
    )
    stopper = RecordingStopper({started_event.transform_job_name})

    deadline = deadline_of(store)
    assert stop_overdue_batch(deadline, store, stopper, LATER) is False
    assert stopper.stopped == []
    assert deadlines.schedules == {}  # the completion deleted it


def test_a_batch_stopped_by_someone_else_before_its_deadline_fails_as_stopped() -> None:
    store, _, sagemaker = started("image-classification", {"a.jpg": b"x"})

    event = collect_batch(
        change(sagemaker, "Stopped"),
        store,
        RecordingPublisher(),
        RecordingQueue(),
        COLLECT,
        LATER,
        RecordingSchedules(),
    )

    assert isinstance(event, BatchFailed)
    assert "max runtime" not in event.reason
