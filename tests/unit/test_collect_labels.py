"""collect_labels: annotations from the team's tool arrive in any order, count once, and complete the run."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import LabelingCompleted, LabelingProgress, LabelsRejected
from sagechain.labeling.collect_labels import LabelsArrival, collect_labels, labels_arrival
from sagechain.ports import LabelTally
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec
from tests.fakes import MemoryDeploymentStore, MemoryLabelCounters, RecordingPublisher
from tests.runs import DEFAULTS, stop_attempt

RUN_ID = "garden-0123456789ab"
BUCKET = "data"
IMAGES = f"s3://{BUCKET}/datasets/garden/images/"
NAMES = ["a.png", "b.png", "c.png"]
FIXTURES = Path(__file__).parent.parent / "fixtures" / "own_tool"


def make_run(mode: str = "label-studio", task: str = "image-classification") -> MemoryDeploymentStore:
    """A run as start_labeling leaves it in own-tool mode: spec, run.json, input.manifest."""
    labels = ["apple", "blueberry"] if task == "object-detection" else ["rose", "tulip"]
    spec = DatasetSpec.model_validate({"task": task, "labels": labels, "labeling": {"mode": mode}})
    info = RunInfo(
        run_id=RUN_ID,
        dataset="garden",
        source_uri=f"s3://{BUCKET}/datasets/garden/dataset.json",
        source_version="v1",
        task=task,
        labeling_mode=mode,
        label_attribute="label",
        manifest_uri=f"s3://{BUCKET}/runs/{RUN_ID}/input.manifest",
        objects=len(NAMES),
        created_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
    )
    manifest = b"".join(json.dumps({"source-ref": IMAGES + name}).encode() + b"\n" for name in NAMES)
    return MemoryDeploymentStore(
        BUCKET,
        {
            f"runs/{RUN_ID}/spec.json": spec.with_defaults(DEFAULTS).model_dump_json().encode(),
            f"runs/{RUN_ID}/run.json": info.model_dump_json().encode(),
            f"runs/{RUN_ID}/input.manifest": manifest,
        },
    )


def task_object(name: str, label: str, at: str, cancelled: bool = False) -> bytes:
    """A target-storage object in Label Studio's task format."""
    result = [] if cancelled else [{"type": "choices", "value": {"choices": [label]}}]
    annotation = {"id": 1, "result": result, "was_cancelled": cancelled, "updated_at": at}
    return json.dumps({"id": 1, "data": {"image": IMAGES + name}, "annotations": [annotation]}).encode()


_COUNTERS: dict[int, MemoryLabelCounters] = {}


def counters(store: MemoryDeploymentStore) -> MemoryLabelCounters:
    """The run's counters, one set per store (what the idempotency table holds)."""
    return _COUNTERS.setdefault(id(store), MemoryLabelCounters())


def arrive(store: MemoryDeploymentStore, key: str, body: bytes | None = None) -> object:
    if body is not None:
        store.objects[key] = body
    arrival = labels_arrival(ObjectRef(bucket=BUCKET, key=key))
    assert arrival is not None
    publisher = RecordingPublisher()
    event = collect_labels(arrival, store, publisher, counters(store))
    assert publisher.events == ([event] if event else [])
    return event


def annotation_key(n: int) -> str:
    return f"runs/{RUN_ID}/label-studio/annotations/{n}"


def manifest_labels(store: MemoryDeploymentStore) -> dict[str, int]:
    lines = store.objects[f"runs/{RUN_ID}/labeled.manifest"].splitlines()
    return {json.loads(line)["source-ref"].removeprefix(IMAGES): json.loads(line)["label"] for line in lines}


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (f"runs/{RUN_ID}/label-studio/annotations/17", "annotation"),
        (f"runs/{RUN_ID}/label-studio/done", "done"),
        (f"runs/{RUN_ID}/labels/export.json", "export"),
        (f"runs/{RUN_ID}/label-studio/received/labeled/x.json", None),
        (f"runs/{RUN_ID}/label-studio/annotations/", None),
        (f"runs/{RUN_ID}/training/labels/x", None),
        ("datasets/garden/labels/x.json", None),
    ],
)
def test_only_the_tools_keys_are_arrivals(key: str, kind: str | None) -> None:
    arrival = labels_arrival(ObjectRef(bucket=BUCKET, key=key, etag="e1"))
    assert (arrival.kind if arrival else None) == kind
    if isinstance(arrival, LabelsArrival):
        assert (arrival.run_id, arrival.version) == (RUN_ID, "e1")


def test_out_of_order_and_duplicate_annotations_count_once_and_the_latest_wins() -> None:
    store = make_run()

    # Given a newer annotation of a.png arriving before an older one, and a duplicate
    first = arrive(store, annotation_key(2), task_object("a.png", "tulip", "2026-11-30T12:00:00Z"))
    older = arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z"))
    again = arrive(store, annotation_key(2))
    cancelled = arrive(store, annotation_key(3), task_object("b.png", "", "2026-11-30T12:00:00Z", True))

    assert isinstance(first, LabelingProgress)
    assert [e.labeled for e in (first, older, again) if isinstance(e, LabelingProgress)] == [1, 1, 1]
    assert isinstance(cancelled, LabelingProgress)
    assert (cancelled.labeled, cancelled.unusable, cancelled.total) == (1, 1, 3)
    # When b.png is then labeled and c.png too, the run completes with each image once
    arrive(store, annotation_key(4), task_object("b.png", "rose", "2026-11-30T13:00:00Z"))
    done = arrive(store, annotation_key(5), task_object("c.png", "rose", "2026-11-30T13:00:00Z"))

    assert isinstance(done, LabelingCompleted)
    assert (done.labeled, done.total, done.label_counts) == (3, 3, {"tulip": 1, "rose": 2})
    assert done.completed_by == "every image annotated"
    assert manifest_labels(store) == {"a.png": 1, "b.png": 0, "c.png": 0}
    # And anything after completion changes nothing
    assert arrive(store, annotation_key(6), task_object("c.png", "tulip", "2026-11-30T14:00:00Z")) is None
    assert manifest_labels(store)["c.png"] == 0


def test_the_done_marker_finishes_with_what_is_labeled_and_counts_the_rest() -> None:
    store = make_run()
    arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z"))
    arrive(store, annotation_key(2), task_object("b.png", "", "2026-11-30T11:00:00Z", cancelled=True))

    event = arrive(store, f"runs/{RUN_ID}/label-studio/done", b"")

    assert isinstance(event, LabelingCompleted)
    assert (event.labeled, event.skipped) == (1, {"cancelled": 1, "unlabeled": 2})
    assert manifest_labels(store) == {"a.png": 0}


def test_an_export_completes_the_run_at_once_in_the_form_provided_labels_produce() -> None:
    store = make_run(task="object-detection")
    raw = (FIXTURES / "cvat_coco_boxes.json").read_bytes()

    event = arrive(store, f"runs/{RUN_ID}/labels/annotations.json", raw)

    assert isinstance(event, LabelingCompleted)
    assert (event.labeled, event.label_counts) == (2, {"apple": 1, "blueberry": 1})
    assert event.skipped == {"not_in_run": 1, "unlabeled": 1}
    line = json.loads(store.objects[f"runs/{RUN_ID}/labeled.manifest"].splitlines()[0])
    assert line["label"] == {
        "image_size": [{"width": 200, "height": 100, "depth": 3}],
        "annotations": [{"class_id": 0, "left": 10, "top": 10, "width": 40, "height": 25}],
    }
    assert line["label-metadata"]["type"] == "groundtruth/object-detection"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{oops", "export.json is not valid JSON"),
        (
            json.dumps([{"image": "s3://data/datasets/other/images/a.png", "choice": "rose"}]).encode(),
            "None of the images in export.json is an image of run",
        ),
        (
            json.dumps([{"image": IMAGES + "a.png", "choice": "daisy"}]).encode(),
            "export.json has no label of the spec: daisy are not in labels (rose, tulip)",
        ),
        (
            json.dumps([{"image": IMAGES + "a.png"}]).encode(),
            "export.json gives no usable annotation for any image",
        ),
    ],
)
def test_an_unusable_export_is_rejected_naming_the_file_and_nothing_is_written(
    body: bytes, says: str
) -> None:
    store = make_run()
    before = dict(store.objects)

    event = arrive(store, f"runs/{RUN_ID}/labels/export.json", body)

    assert isinstance(event, LabelsRejected)
    assert says in event.reason
    assert event.source_uri == f"s3://{BUCKET}/runs/{RUN_ID}/labels/export.json"
    assert {k: v for k, v in store.objects.items() if k != f"runs/{RUN_ID}/labels/export.json"} == before


def test_a_ground_truth_run_ignores_the_tools_keys() -> None:
    store = make_run(mode="ground-truth")

    assert arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z")) is None
    assert not any("/received/" in key for key in store.objects)


def test_a_stopped_run_takes_no_more_labels() -> None:
    store = make_run()
    stop_attempt(store, run_id=RUN_ID)

    assert arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z")) is None
    assert arrive(store, f"runs/{RUN_ID}/label-studio/done", b"") is None
    assert f"runs/{RUN_ID}/labeled.manifest" not in store.objects


class Crash(BaseException):
    """The runtime killed mid-invocation: nothing in the stage can clean up."""


class CrashingPublisher(RecordingPublisher):
    def publish(self, event: object) -> None:
        raise Crash("killed before PutEvents")


def test_a_completion_killed_before_its_publish_is_published_by_the_redelivery_once() -> None:
    store = make_run()
    for n, name in enumerate(NAMES[:2], start=1):
        arrive(store, annotation_key(n), task_object(name, "rose", "2026-11-30T11:00:00Z"))
    last = labels_arrival(ObjectRef(bucket=BUCKET, key=annotation_key(3), etag="e3"))
    assert last is not None
    store.objects[annotation_key(3)] = task_object("c.png", "tulip", "2026-11-30T11:00:00Z")

    # Given the last annotation's completion dies after labeled.manifest is written
    with pytest.raises(Crash):
        collect_labels(last, store, CrashingPublisher(), counters(store))
    manifest = store.objects[f"runs/{RUN_ID}/labeled.manifest"]

    # When another arrival comes first, then the crashed one is delivered again
    other = RecordingPublisher()
    done = labels_arrival(ObjectRef(bucket=BUCKET, key=f"runs/{RUN_ID}/label-studio/done", etag="d"))
    assert done is not None
    assert collect_labels(done, store, other, counters(store)) is None
    retried = RecordingPublisher()
    event = collect_labels(last, store, retried, counters(store))

    # Then only the redelivery publishes, the completion it had recorded, and the manifest is untouched
    assert other.events == []
    assert isinstance(event, LabelingCompleted)
    assert retried.events == [event]
    assert (event.labeled, event.label_counts, event.completed_by) == (
        3,
        {"rose": 2, "tulip": 1},
        "every image annotated",
    )
    assert store.objects[f"runs/{RUN_ID}/labeled.manifest"] == manifest
    assert [v for k, v in store.objects.versions if k == f"runs/{RUN_ID}/labeled.manifest"] == ["v1"]


def test_a_completion_killed_while_streaming_the_manifest_is_finished_by_its_redelivery_alone() -> None:
    store = make_run()
    arrive(store, annotation_key(1), task_object("a.png", "tulip", "2026-11-30T11:00:00Z"))
    export = json.dumps([{"image": IMAGES + name, "choice": "rose"} for name in NAMES]).encode()
    key = f"runs/{RUN_ID}/labels/export.json"
    store.objects[key] = export
    arrival = labels_arrival(ObjectRef(bucket=BUCKET, key=key, etag="x1"))
    assert arrival is not None
    real_writer = store.open_writer

    class DyingWriter:
        def __init__(self, key: str, content_type: str) -> None:
            self.inner = real_writer(key, content_type)

        def write(self, data: bytes) -> None:
            raise Crash("out of memory")

        def commit(self) -> None:  # pragma: no cover - never reached
            self.inner.commit()

        def abort(self) -> None:  # pragma: no cover - a killed runtime aborts nothing
            self.inner.abort()

    # Given the export's completion dies while the manifest streams up (nothing visible yet)
    store.open_writer = DyingWriter  # type: ignore[assignment,method-assign]
    with pytest.raises(Crash):
        collect_labels(arrival, store, RecordingPublisher(), counters(store))
    store.open_writer = real_writer  # type: ignore[method-assign]
    assert f"runs/{RUN_ID}/labeled.manifest" not in store.objects

    # When the done marker (it would finish with a.png alone) arrives meanwhile, then the export again
    assert arrive(store, f"runs/{RUN_ID}/label-studio/done", b"") is None
    publisher = RecordingPublisher()
    event = collect_labels(arrival, store, publisher, counters(store))

    # Then the export's labels are the run's, published once
    assert isinstance(event, LabelingCompleted)
    assert publisher.events == [event]
    assert event.completed_by == "the export export.json"
    assert manifest_labels(store) == {"a.png": 0, "b.png": 0, "c.png": 0}


class CrashingCounters(MemoryLabelCounters):
    """Counters whose next ADD never happens: the runtime dies right before it."""

    def __init__(self, shared: MemoryLabelCounters) -> None:
        super().__init__()
        self.tallies = shared.tallies

    def add(self, run_id: str, labeled: int, unusable: int) -> LabelTally:
        raise Crash("killed before UpdateItem")


def test_an_image_whose_count_was_lost_to_a_crash_is_counted_by_the_redelivery_and_completes() -> None:
    store = make_run()
    for n, name in enumerate(NAMES[:2], start=1):
        arrive(store, annotation_key(n), task_object(name, "rose", "2026-11-30T11:00:00Z"))
    last = labels_arrival(ObjectRef(bucket=BUCKET, key=annotation_key(3), etag="e3"))
    assert last is not None
    store.objects[annotation_key(3)] = task_object("c.png", "tulip", "2026-11-30T11:00:00Z")

    # Given the last image's record is written but the function dies before counting it
    with pytest.raises(Crash):
        collect_labels(last, store, RecordingPublisher(), CrashingCounters(counters(store)))
    assert counters(store).tallies[RUN_ID].labeled == 2

    # When a duplicate of another arrival and then the crashed one are delivered again
    again = arrive(store, annotation_key(1))
    publisher = RecordingPublisher()
    event = collect_labels(last, store, publisher, counters(store))

    # Then the duplicate counts nothing and the redelivery counts c.png once and completes the run
    assert isinstance(again, LabelingProgress)
    assert again.labeled == 2
    assert isinstance(event, LabelingCompleted)
    assert (event.labeled, event.label_counts) == (3, {"rose": 2, "tulip": 1})
    assert publisher.events == [event]


def test_an_overcount_is_confirmed_by_one_listing_and_neither_completes_early_nor_lists_again() -> None:
    store = make_run()
    # Given counters that ran over (a kill between counting and the counted marker): 2, 1 labeled
    arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z"))
    counters(store).add(RUN_ID, 1, 0)
    listings: list[str] = []
    real_iter = store.iter_objects

    def counting_iter(prefix: str) -> object:
        if "/label-studio/received/" in prefix:
            listings.append(prefix)
        return real_iter(prefix)

    store.iter_objects = counting_iter  # type: ignore[assignment,method-assign]

    # When b.png's annotation brings the counter to the run's 3 images, and then c.png's
    progress = arrive(store, annotation_key(2), task_object("b.png", "tulip", "2026-11-30T11:00:00Z"))
    listed = len(listings)
    completed = arrive(store, annotation_key(3), task_object("c.png", "tulip", "2026-11-30T11:00:00Z"))

    # Then b.png's arrival lists once, shows the true 2 and writes no manifest; c.png's completes
    assert isinstance(progress, LabelingProgress)
    assert (progress.labeled, progress.total) == (2, 3)
    assert listed == 2  # labeled/ and unusable/, once each
    assert counters(store).tallies[RUN_ID].labeled == 3
    assert isinstance(completed, LabelingCompleted)
    assert completed.labeled == 3


def test_an_annotation_that_does_not_complete_the_run_lists_nothing() -> None:
    store = make_run()
    listings: list[str] = []
    real_iter = store.iter_objects

    def counting_iter(prefix: str) -> object:
        if "/label-studio/received/" in prefix:
            listings.append(prefix)
        return real_iter(prefix)

    store.iter_objects = counting_iter  # type: ignore[assignment,method-assign]

    # When two of three images' annotations arrive, one cancelled
    arrive(store, annotation_key(1), task_object("a.png", "rose", "2026-11-30T11:00:00Z"))
    event = arrive(store, annotation_key(2), task_object("b.png", "", "2026-11-30T12:00:00Z", True))

    # Then progress is counted without listing the received records (only the run's few attempts)
    assert isinstance(event, LabelingProgress)
    assert (event.labeled, event.unusable) == (1, 1)
    assert listings == []
