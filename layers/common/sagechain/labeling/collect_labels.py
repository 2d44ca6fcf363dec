"""Labels come back from the team's own tool (Label Studio, CVAT) and the run continues by itself.

Three kinds of upload under a run in labeling mode label-studio or cvat start this stage:
- runs/<run_id>/label-studio/annotations/<...>: an object Label Studio's S3 target storage wrote (one
  per annotation). Each image's outcome is recorded under label-studio/received/ (labeled/ or
  unusable/, keyed by a digest of the image URI), so a duplicate or late object counts once and an
  image's latest usable annotation wins whatever order the objects arrive in. "Labeling Progress"
  says how far it is, from the run's counters (LabelCounters: one atomic ADD per arrival, never a
  listing, so each arrival costs O(1) S3 calls); when they say every image has a usable
  annotation, one listing confirms it and the labels are complete.
- runs/<run_id>/label-studio/done: finish now with what is labeled.
- runs/<run_id>/labels/<file>: a whole export (Label Studio JSON, JSON-MIN, COCO from Label Studio or
  CVAT) completes the labeling at once.
Complete means: runs/<run_id>/labeled.manifest is written, in the form provided labels produce (its
arrival starts training), and "Labeling Completed" is emitted with the label counts. Claim, then
publish: the arrival that completes first claims label-studio/received/completion.json (If-None-Match),
streams the manifest up, records its event in the claim before the manifest becomes visible, and
publishes it. A redelivery of that arrival (the function crashed half-way) finds its own claim:
it writes the manifest if it is not there yet, else publishes the recorded event again (notify and
track_run keep one email and one history entry per run's Labeling Completed). Any other arrival
after the claim changes nothing. The manifest is written once, so training starts once. A file
that cannot be used (not JSON, another run's images, no label of the spec, nothing usable) is
"Labels Rejected", naming the file and what to fix; nothing is changed and the run waits.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import batched
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sagechain.attempts import why_not_start
from sagechain.errors import DatasetRejectedError, ObjectNotFoundError, ObjectTooLargeError
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import LabelingCompleted, LabelingProgress, LabelsRejected, SagechainEvent
from sagechain.labeling.label_studio import (
    ANNOTATIONS_FOLDER,
    DONE_MARKER,
    EXPORTS_FOLDER,
    RECEIVED_FOLDER,
    LabeledImage,
    RunImages,
    judge,
    parse_document,
)
from sagechain.layout import (
    INPUT_MANIFEST,
    LABELED_MANIFEST,
    MANIFEST_CONTENT_TYPE,
    RUN_INFO_FILE,
    SPEC_RECORD_FILE,
    images_prefix,
    run_key,
)
from sagechain.manifest import Box, LabeledLineBuilder
from sagechain.observability import logger
from sagechain.ports import DeploymentStore, EventPublisher, LabelCounters, LabelTally
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec, LabelingMode, parse_spec

RUN_FILE_MAX_BYTES = 1024 * 1024
ANNOTATION_MAX_BYTES = 16 * 1024 * 1024
EXPORT_MAX_BYTES = 256 * 1024 * 1024
_DEPTH = 3
LABELED_FOLDER = RECEIVED_FOLDER + "labeled/"
UNUSABLE_FOLDER = RECEIVED_FOLDER + "unusable/"
# One marker per image whose labeled record the run's counter holds: written after the ADD, so a
# redelivery of the arrival that created the record (it crashed before counting) counts it then.
COUNTED_FOLDER = RECEIVED_FOLDER + "counted/"
# Who completes the labeling, and (once its manifest is streamed) the event it publishes.
COMPLETION_RECORD = RECEIVED_FOLDER + "completion.json"
# Completion reads one small record per labeled image: this many at a time (S3 GETs take tens of
# milliseconds each, so 100,000 in a row would not fit the function's timeout), in windows of
# _WINDOW images, so memory holds one window whatever the run's size.
_READERS = 16
_WINDOW = 512

ArrivalKind = Literal["annotation", "done", "export"]


class LabelsArrival(BaseModel):
    """An object uploaded under a run that may carry its labels."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    key: str
    kind: ArrivalKind
    # The upload's version id or ETag: a duplicate delivery is the same arrival, a re-upload is not.
    version: str | None = None


def labels_arrival(ref: ObjectRef) -> LabelsArrival | None:
    """What an Object Created under runs/<run_id>/ is to this stage, or None for any other key."""
    parts = ref.key.split("/", 2)
    if len(parts) != 3 or parts[0] != "runs" or not parts[1] or ref.key.endswith("/"):
        return None
    rest = parts[2]
    kind: ArrivalKind
    if rest.startswith(ANNOTATIONS_FOLDER) and len(rest) > len(ANNOTATIONS_FOLDER):
        kind = "annotation"
    elif rest == DONE_MARKER:
        kind = "done"
    elif rest.startswith(EXPORTS_FOLDER) and len(rest) > len(EXPORTS_FOLDER):
        kind = "export"
    else:
        return None
    return LabelsArrival(run_id=parts[1], key=ref.key, kind=kind, version=ref.version)


class _Run(BaseModel):
    model_config = ConfigDict(frozen=True)

    info: RunInfo
    spec: DatasetSpec


def _read_run(store: DeploymentStore, run_id: str) -> _Run | None:
    try:
        info = RunInfo.model_validate_json(
            store.read_bytes(run_key(run_id, RUN_INFO_FILE), RUN_FILE_MAX_BYTES)
        )
        raw_spec = store.read_bytes(run_key(run_id, SPEC_RECORD_FILE), RUN_FILE_MAX_BYTES)
    except ObjectNotFoundError:
        return None
    return _Run(info=info, spec=parse_spec(raw_spec, run_key(run_id, SPEC_RECORD_FILE)))


def _digest(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:32]


def _state(image: LabeledImage, source: str, first: str | None = None) -> bytes:
    """An image's labeled record; `first` names the arrival that created it (it counted the image)."""
    return json.dumps(
        {
            "uri": image.uri,
            "labels": image.labels,
            "boxes": [list(box) for box in image.boxes],
            "size": list(image.size) if image.size else None,
            "updated_at": image.updated_at,
            "problems": image.problems,
            "source": source,
            "first": first if first is not None else source,
        }
    ).encode()


def _image_of_state(raw: bytes) -> LabeledImage:
    state = json.loads(raw)
    return LabeledImage(
        uri=state["uri"],
        labels=state["labels"],
        boxes=[Box(*box) for box in state["boxes"]],
        size=(int(state["size"][0]), int(state["size"][1])) if state["size"] else None,
        updated_at=state["updated_at"],
        problems=state["problems"],
    )


def _rejected(
    run: _Run,
    arrival: LabelsArrival,
    store: DeploymentStore,
    reason: str,
    skipped: Counter[str] | None = None,
) -> LabelsRejected:
    return LabelsRejected(
        run_id=arrival.run_id,
        dataset=run.info.dataset,
        source_uri=store.uri(arrival.key),
        reason=reason,
        skipped=dict(skipped or {}),
    )


def _read_arrival(store: DeploymentStore, arrival: LabelsArrival, limit: int) -> bytes | None:
    try:
        return store.read_bytes(arrival.key, limit)
    except ObjectNotFoundError:
        return None
    except ObjectTooLargeError as err:
        raise DatasetRejectedError(
            f"{arrival.key} is {err.size} bytes; at most {err.limit} are read"
        ) from None


# ---------------------------------------------------------------- one annotation object
def _identity(arrival: LabelsArrival) -> str:
    return f"{arrival.key}#{arrival.version or ''}"


def _record(
    run: _Run, arrival: LabelsArrival, store: DeploymentStore, raw: bytes
) -> tuple[int, int, Counter[str], list[str], list[str]]:
    """Record what the object's annotations come to, per image, in O(1) S3 calls per image; what
    to add to the run's counters (labeled, unusable), the problems found, and, for once the counters
    hold them, the counted markers to write and the unusable records a usable annotation replaced."""
    name = arrival.key.rsplit("/", 1)[-1]
    notes = parse_document(raw, name)
    in_run = store.uri(images_prefix(run.info.dataset))
    me = _identity(arrival)
    found: Counter[str] = Counter()
    labeled = unusable = 0
    markers: list[str] = []
    replaced: list[str] = []
    for note in notes:
        if not note.image.startswith(in_run):
            found["not_in_run"] += 1
            continue
        image, problems = judge(note, note.image, run.spec.task, run.spec.labels)
        found.update(problems)
        digest = _digest(note.image)
        labeled_key = run_key(arrival.run_id, f"{LABELED_FOLDER}{digest}.json")
        unusable_key = run_key(arrival.run_id, f"{UNUSABLE_FOLDER}{digest}.json")
        if image is not None:
            # The arrival that creates an image's record counts it; a redelivery of that arrival
            # finds no counted marker when it crashed before counting, and counts it then. Only a
            # kill between the ADD and the marker counts twice, so a listing confirms the counter
            # before completion (_complete_received).
            counted_key = run_key(arrival.run_id, f"{COUNTED_FOLDER}{digest}")
            created = store.put_bytes_if_absent(
                labeled_key, _state(image, arrival.key, me), "application/json"
            )
            count = created
            if not created:
                stored = json.loads(store.read_bytes(labeled_key, RUN_FILE_MAX_BYTES))
                count = stored.get("first") == me and not store.exists(counted_key)
                if image.updated_at >= stored["updated_at"]:
                    creator = stored.get("first", stored["source"])
                    store.put_bytes(labeled_key, _state(image, arrival.key, creator), "application/json")
            # An unusable record is deleted once the counters are moved (_collect): a redelivery
            # still finds it to uncount.
            if not count:
                replaced.append(unusable_key)
            else:
                labeled += 1
                markers.append(counted_key)
                if store.exists(unusable_key):
                    unusable -= 1
                    replaced.append(unusable_key)
        elif not store.exists(labeled_key):
            # A usable annotation of the image always wins over a cancelled or unusable one.
            record = json.dumps(
                {"uri": note.image, "problems": dict(problems), "source": arrival.key}
            ).encode()
            if store.put_bytes_if_absent(unusable_key, record, "application/json"):
                unusable += 1
            else:
                store.put_bytes(unusable_key, record, "application/json")
    return labeled, unusable, found, markers, replaced


# ---------------------------------------------------------------- the labeled manifest
def _run_uris(store: DeploymentStore, run_id: str) -> list[str]:
    uris = []
    for line in store.iter_lines(run_key(run_id, INPUT_MANIFEST)):
        if line.strip():
            uris.append(str(json.loads(line)["source-ref"]))
    return uris


# What an image's labels are, per run image in input.manifest's order (None: not labeled).
ImageSource = Callable[[list[str]], Iterator[LabeledImage | None]]


class _Completion(BaseModel):
    """The claim on a run's completion: the arrival that completes it, and its event once recorded."""

    key: str
    version: str | None = None
    event: LabelingCompleted | None = None


def _claim(store: DeploymentStore, arrival: LabelsArrival) -> _Completion | None:
    """This arrival's claim on the completion (new, or its own from an earlier delivery); None when
    another arrival holds it."""
    key = run_key(arrival.run_id, COMPLETION_RECORD)
    mine = _Completion(key=arrival.key, version=arrival.version)
    if store.put_bytes_if_absent(key, mine.model_dump_json().encode(), "application/json"):
        return mine
    try:
        held = _Completion.model_validate_json(store.read_bytes(key, RUN_FILE_MAX_BYTES))
    except ObjectNotFoundError:  # pragma: no cover - a claim is never deleted
        return None
    return held if (held.key, held.version) == (arrival.key, arrival.version) else None


def _completed_before(store: DeploymentStore, arrival: LabelsArrival) -> LabelingCompleted | None:
    """The recorded event when this arrival completed the labeling before (a redelivery after a
    crash between the manifest and the publish); None for any other arrival."""
    try:
        held = _Completion.model_validate_json(
            store.read_bytes(run_key(arrival.run_id, COMPLETION_RECORD), RUN_FILE_MAX_BYTES)
        )
    except ObjectNotFoundError:
        return None
    return held.event if (held.key, held.version) == (arrival.key, arrival.version) else None


def _complete(
    run: _Run,
    arrival: LabelsArrival,
    store: DeploymentStore,
    uris: list[str],
    labeled_and_found: tuple[int, int],
    images: ImageSource,
    skipped: Counter[str],
    completed_by: str,
) -> SagechainEvent | None:
    """Claim the completion, stream labeled.manifest (input.manifest's order) and return its event.
    labeled: (run images labeled, images labeled at all)."""
    labeled, found = labeled_and_found
    skipped["unlabeled"] += len(uris) - labeled
    if labeled == 0:
        skipped = +skipped
        return _rejected(run, arrival, store, _nothing_usable(run, arrival, found, skipped), skipped)
    claim = _claim(store, arrival)
    if claim is None:
        logger.info("another arrival completes the labeling; ignored", extra={"key": arrival.key})
        return None
    manifest_key = run_key(arrival.run_id, LABELED_MANIFEST)
    if claim.event is not None and store.exists(manifest_key):
        return claim.event
    spec = run.spec
    builder = LabeledLineBuilder(
        spec.task,
        spec.labels,
        spec.labeling.label_attribute,
        run.info.created_at.isoformat(),
        spec.labeling.mode.value,
    )
    counts: Counter[str] = Counter()
    writer = store.open_writer(manifest_key, MANIFEST_CONTENT_TYPE)
    try:
        for uri, image in zip(uris, images(uris), strict=True):
            if image is None:
                continue
            skipped.update(image.problems)
            where = f"the annotation of {uri}"
            if spec.task.is_classification:
                writer.write(builder.classification(uri, image.labels, where))
                counts.update(image.labels)
            else:
                width, height = image.size or (0, 0)
                writer.write(builder.detection(uri, (width, height, _DEPTH), image.boxes, where))
                counts.update(box.label for box in image.boxes)
        event = LabelingCompleted(
            run_id=arrival.run_id,
            dataset=run.info.dataset,
            tool="cvat" if spec.labeling.mode is LabelingMode.CVAT else "label-studio",
            labeled=labeled,
            total=len(uris),
            label_counts=dict(counts),
            skipped=dict(+skipped),
            manifest_uri=store.uri(manifest_key),
            completed_by=completed_by,
            source_uri=store.uri(arrival.key),
        )
        # Recorded before the manifest is visible: whoever finds the manifest finds its event.
        recorded = claim.model_copy(update={"event": event})
        record_key = run_key(arrival.run_id, COMPLETION_RECORD)
        store.put_bytes(record_key, recorded.model_dump_json().encode(), "application/json")
        writer.commit()
    except Exception:
        writer.abort()
        raise
    return event


def _nothing_usable(run: _Run, arrival: LabelsArrival, found: int, skipped: Counter[str]) -> str:
    name = arrival.key.rsplit("/", 1)[-1]
    unknown = sorted(reason.split(":", 1)[1] for reason in skipped if reason.startswith("unknown_label:"))
    if unknown:
        return (
            f"{name} has no label of the spec: {', '.join(unknown)} are not in labels "
            f"({', '.join(run.spec.labels)}). Use the labeling config the run wrote (config.xml or "
            "cvat/labels.json), or fix the labels, then upload it again."
        )
    if skipped.get("not_in_run") and not found:
        return (
            f"None of the images in {name} is an image of run {arrival.run_id} (dataset {run.info.dataset}): "
            "is it the export of another run's project? Upload this run's export."
        )
    what = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items())) or "nothing"
    return (
        f"{name} gives no usable annotation for any image of run {arrival.run_id} ({what}). Label the "
        "images (a cancelled or empty annotation does not count), then export or sync again."
    )


def _received(
    store: DeploymentStore, run_id: str, uris: list[str]
) -> tuple[tuple[int, int], ImageSource, Counter[str], int]:
    """The recorded annotations (one listing): how many run images are labeled, a reader of their
    records (in windows, _READERS at a time), what the unusable ones came to, and how many they are."""
    recorded = {
        obj.key.rsplit("/", 1)[-1].removesuffix(".json")
        for obj in store.iter_objects(run_key(run_id, LABELED_FOLDER))
    }
    labeled = sum(1 for uri in uris if _digest(uri) in recorded)
    skipped: Counter[str] = Counter()
    skipped["not_in_run"] += len(recorded) - labeled
    unusable = 0
    for obj in store.iter_objects(run_key(run_id, UNUSABLE_FOLDER)):
        unusable += 1
        skipped.update(json.loads(store.read_bytes(obj.key, RUN_FILE_MAX_BYTES))["problems"])

    def read(uri: str) -> LabeledImage | None:
        digest = _digest(uri)
        if digest not in recorded:
            return None
        key = run_key(run_id, f"{LABELED_FOLDER}{digest}.json")
        return _image_of_state(store.read_bytes(key, RUN_FILE_MAX_BYTES))

    def images(wanted: list[str]) -> Iterator[LabeledImage | None]:
        with ThreadPoolExecutor(max_workers=_READERS) as pool:
            for window in batched(wanted, _WINDOW, strict=False):
                yield from pool.map(read, window)

    return (labeled, len(recorded)), images, +skipped, unusable


def _export(run: _Run, arrival: LabelsArrival, store: DeploymentStore, raw: bytes) -> SagechainEvent | None:
    name = arrival.key.rsplit("/", 1)[-1]
    notes = parse_document(raw, name)
    run_images = RunImages(_run_uris(store, arrival.run_id))
    images: dict[str, LabeledImage] = {}
    skipped: Counter[str] = Counter()
    for note in notes:
        uri = run_images.find(note.image)
        if uri is None:
            skipped["not_in_run"] += 1
            continue
        image, problems = judge(note, uri, run.spec.task, run.spec.labels)
        if image is None:
            skipped.update(problems)
            continue
        current = images.get(uri)
        if current is None or image.updated_at >= current.updated_at:
            images[uri] = image

    def labeled_images(wanted: list[str]) -> Iterator[LabeledImage | None]:
        return (images.get(uri) for uri in wanted)

    found = (len(images), len(images))
    by = f"the export {name}"
    return _complete(run, arrival, store, run_images.uris, found, labeled_images, skipped, by)


# ---------------------------------------------------------------- the stage
def collect_labels(
    arrival: LabelsArrival, store: DeploymentStore, publisher: EventPublisher, counters: LabelCounters
) -> SagechainEvent | None:
    """Record an annotation, finish on the done marker, or take a whole export; publish what happened.
    None when the key is no own-tool run of sagechain's, the labels are complete already, the run
    was stopped, or the object is gone."""
    run = _read_run(store, arrival.run_id)
    if run is None or not run.spec.labeling.mode.is_own_tool:
        return None
    if store.exists(run_key(arrival.run_id, LABELED_MANIFEST)):
        # Complete: publish again only if this arrival completed it (its publish may not have happened).
        completed = _completed_before(store, arrival)
        if completed is None:
            logger.info("labels already complete; arrival ignored", extra={"key": arrival.key})
        else:
            publisher.publish(completed)
        return completed
    # Own-tool labeling is the run's first attempt (a retry never labels again); a stopped run
    # takes no more labels and starts no training.
    reason = why_not_start(store, arrival.run_id, 1)
    if reason is not None:
        logger.info("run stopped or replaced; arrival ignored", extra={"key": arrival.key, "reason": reason})
        return None
    event: SagechainEvent | None
    try:
        limit = EXPORT_MAX_BYTES if arrival.kind == "export" else ANNOTATION_MAX_BYTES
        raw = b"" if arrival.kind == "done" else _read_arrival(store, arrival, limit)
        if raw is None:
            return None
        event = _collect(run, arrival, store, counters, raw)
    except DatasetRejectedError as rejection:
        event = _rejected(run, arrival, store, rejection.reason)
    if event is not None:
        publisher.publish(event)
    return event


def _collect(
    run: _Run, arrival: LabelsArrival, store: DeploymentStore, counters: LabelCounters, raw: bytes
) -> SagechainEvent | None:
    if arrival.kind == "export":
        return _export(run, arrival, store, raw)
    if arrival.kind == "done":
        return _complete_received(run, arrival, store, counters, "the done marker", None, Counter())
    labeled, unusable, problems, markers, replaced = _record(run, arrival, store, raw)
    # One atomic ADD per arrival instead of listing received/ (which made a run quadratic in S3 calls).
    tally = counters.add(arrival.run_id, labeled, unusable)
    for marker in markers:
        store.put_bytes(marker, b"", "application/octet-stream")
    for key in replaced:
        store.delete(key)
    if tally.labeled >= run.info.objects:
        return _complete_received(run, arrival, store, counters, "every image annotated", tally, problems)
    return _progress(run, arrival, store, tally, problems)


def _progress(
    run: _Run, arrival: LabelsArrival, store: DeploymentStore, tally: LabelTally, problems: Counter[str]
) -> LabelingProgress:
    return LabelingProgress(
        run_id=arrival.run_id,
        dataset=run.info.dataset,
        labeled=min(max(tally.labeled, 0), run.info.objects),
        unusable=max(tally.unusable, 0),
        total=run.info.objects,
        source_uri=store.uri(arrival.key),
        problems=dict(problems),
    )


def _complete_received(
    run: _Run,
    arrival: LabelsArrival,
    store: DeploymentStore,
    counters: LabelCounters,
    completed_by: str,
    tally: LabelTally | None,
    problems: Counter[str],
) -> SagechainEvent | None:
    """Complete from the recorded annotations. When the counters (`tally`) say every image is
    labeled, one listing confirms it first; if it does not, the counters are set right by it and
    the arrival is progress."""
    uris = _run_uris(store, arrival.run_id)
    labeled, images, skipped, unusable = _received(store, arrival.run_id, uris)
    if tally is not None and labeled[1] < run.info.objects:
        exact = LabelTally(labeled=labeled[1], unusable=unusable)
        counters.add(arrival.run_id, exact.labeled - tally.labeled, exact.unusable - tally.unusable)
        return _progress(run, arrival, store, exact, problems)
    return _complete(run, arrival, store, uris, labeled, images, skipped, completed_by)
