"""Labels that come with the dataset: class folders, a Ground Truth manifest, or COCO JSON.

Each reader writes labeled lines in Ground Truth's output form (sagechain.manifest), in
the spec's class order. A label missing from spec.labels rejects the run and names the
file and the label.
"""

import json
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from sagechain.errors import DatasetRejectedError, ObjectNotFoundError, ObjectTooLargeError
from sagechain.ingest.upload import skip_reason
from sagechain.layout import dataset_prefix, images_prefix
from sagechain.manifest import Box, LabeledLineBuilder, ManifestStats, task_for_ground_truth_type
from sagechain.ports import ObjectStore, ObjectWriter, StoredObject
from sagechain.spec import DatasetSpec, TaskType

COCO_MAX_BYTES = 256 * 1024 * 1024
_DEFAULT_DEPTH = 3


def _images(store: ObjectStore, dataset: str, stats: ManifestStats) -> Iterator[StoredObject]:
    for obj in store.iter_objects(images_prefix(dataset)):
        reason = skip_reason(obj)
        if reason:
            stats.skipped[reason] += 1
        else:
            yield obj


def write_class_folder_labels(
    store: ObjectStore,
    dataset: str,
    spec: DatasetSpec,
    builder: LabeledLineBuilder,
    writer: ObjectWriter,
    stats: ManifestStats,
) -> None:
    """images/<label>/<file>: the folder right under images/ is the image's label."""
    if spec.task is TaskType.OBJECT_DETECTION:
        raise DatasetRejectedError(
            "Class folders carry no bounding boxes: for object-detection set labeling.labels_file "
            "to a Ground Truth manifest (*.manifest) or COCO JSON (*.json)."
        )
    prefix = images_prefix(dataset)
    for obj in _images(store, dataset, stats):
        relative = obj.key[len(prefix) :]
        if "/" not in relative:
            stats.skipped["unlabeled"] += 1
            continue
        label = relative.split("/", 1)[0]
        writer.write(builder.classification(store.uri(obj.key), [label], where=f"images/{relative}"))
        stats.objects += 1
        stats.label_counts[label] += 1


def _label_attribute(line: dict[str, Any], preferred: str, where: str) -> str | None:
    candidates = [k for k in line if k != "source-ref" and f"{k}-metadata" in line]
    if preferred in candidates:
        return preferred
    if len(candidates) > 1:
        raise DatasetRejectedError(
            f"{where}: several label attributes ({', '.join(sorted(candidates))}); "
            "set labeling.label_attribute to the one to train on."
        )
    return candidates[0] if candidates else None


def _class_name(class_map: dict[str, str], index: object, where: str) -> str:
    try:
        return class_map[str(index)]
    except KeyError:
        raise DatasetRejectedError(f"{where}: class id {index} is not in the line's class-map") from None


def _ground_truth_line(
    line: dict[str, Any], attribute: str, spec: DatasetSpec, builder: LabeledLineBuilder, where: str
) -> tuple[bytes, list[str]]:
    value = line[attribute]
    metadata = line[f"{attribute}-metadata"]
    task = task_for_ground_truth_type(str(metadata.get("type", "")))
    if task is not spec.task:
        raise DatasetRejectedError(
            f"{where}: a {metadata.get('type')!r} label, but the spec's task is {spec.task.value}"
        )
    uri = str(line["source-ref"])
    class_map = {str(k): str(v) for k, v in metadata.get("class-map", {}).items()}
    if task is TaskType.IMAGE_CLASSIFICATION:
        names = [str(metadata.get("class-name") or _class_name(class_map, value, where))]
        return builder.classification(uri, names, where), names
    if task is TaskType.IMAGE_CLASSIFICATION_MULTILABEL:
        names = [_class_name(class_map, index, where) for index in value]
        return builder.classification(uri, names, where), names
    size = value["image_size"][0]
    boxes = [
        Box(
            _class_name(class_map, a["class_id"], where),
            a["left"],
            a["top"],
            a["width"],
            a["height"],
        )
        for a in value["annotations"]
    ]
    dims = (int(size["width"]), int(size["height"]), int(size.get("depth", _DEFAULT_DEPTH)))
    return builder.detection(uri, dims, boxes, where), [box.label for box in boxes]


def write_ground_truth_manifest_labels(
    store: ObjectStore,
    dataset: str,
    spec: DatasetSpec,
    builder: LabeledLineBuilder,
    writer: ObjectWriter,
    stats: ManifestStats,
) -> None:
    """A Ground Truth output manifest, re-indexed to the spec's class order, streamed line by line."""
    assert spec.labeling.labels_file is not None  # noqa: S101 - the caller dispatches on it
    key = dataset_prefix(dataset) + spec.labeling.labels_file
    lines = _lines_or_reject(store, key, spec.labeling.labels_file)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{spec.labeling.labels_file} line {number}"
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DatasetRejectedError(f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(line, dict) or not isinstance(line.get("source-ref"), str):
            raise DatasetRejectedError(f'{where}: no "source-ref"')
        attribute = _label_attribute(line, spec.labeling.label_attribute, where)
        if attribute is None or "failure-reason" in line.get(f"{attribute}-metadata", {}):
            stats.skipped["unlabeled"] += 1
            continue
        try:
            data, labels = _ground_truth_line(line, attribute, spec, builder, where)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise DatasetRejectedError(f"{where}: label is not in Ground Truth's form ({err!r})") from None
        writer.write(data)
        stats.objects += 1
        stats.label_counts.update(labels)


def _lines_or_reject(store: ObjectStore, key: str, name: str) -> Iterable[bytes]:
    if not store.exists(key):
        raise DatasetRejectedError(f"labeling.labels_file {name!r} was not found at {store.uri(key)}")
    return store.iter_lines(key)


class _CocoImage:
    __slots__ = ("boxes", "height", "labels", "width")

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.labels: list[str] = []
        self.boxes: list[Box] = []


def _coco_index(document: dict[str, Any], spec: DatasetSpec, name: str) -> dict[str, _CocoImage]:
    """file name (relative to images/) -> the image's labels and boxes."""
    categories = {c["id"]: str(c["name"]) for c in document.get("categories", [])}
    images: dict[Any, tuple[str, _CocoImage]] = {}
    for image in document.get("images", []):
        file_name = str(image["file_name"]).replace("\\", "/")
        file_name = file_name.removeprefix("./").removeprefix("images/")
        images[image["id"]] = (
            file_name,
            _CocoImage(int(image.get("width", 0)), int(image.get("height", 0))),
        )
    for annotation in document.get("annotations", []):
        where = f"{name} annotation {annotation.get('id')}"
        category = categories.get(annotation["category_id"])
        if category is None:
            raise DatasetRejectedError(
                f"{where}: category_id {annotation['category_id']} is not in categories"
            )
        file_name, entry = images[annotation["image_id"]]
        entry.labels.append(category)
        bbox = annotation.get("bbox")
        if spec.task is TaskType.OBJECT_DETECTION and bbox:
            left, top, width, height = (round(float(v)) for v in bbox)
            entry.boxes.append(Box(category, left, top, width, height))
    return dict(images.values())


def write_coco_labels(
    store: ObjectStore,
    dataset: str,
    spec: DatasetSpec,
    builder: LabeledLineBuilder,
    writer: ObjectWriter,
    stats: ManifestStats,
) -> None:
    """COCO JSON (Label Studio, CVAT): joined to the listed images by file name."""
    assert spec.labeling.labels_file is not None  # noqa: S101 - the caller dispatches on it
    name = spec.labeling.labels_file
    key = dataset_prefix(dataset) + name
    try:
        document = json.loads(store.read_bytes(key, COCO_MAX_BYTES))
    except ObjectNotFoundError:
        raise DatasetRejectedError(
            f"labeling.labels_file {name!r} was not found at {store.uri(key)}"
        ) from None
    except ObjectTooLargeError as err:
        raise DatasetRejectedError(
            f"{name} is {err.size} bytes; COCO files up to {COCO_MAX_BYTES} bytes are read. "
            "Convert it to a Ground Truth manifest (*.manifest), which is streamed."
        ) from None
    except json.JSONDecodeError as err:
        raise DatasetRejectedError(f"{name}: not valid JSON ({err.msg} at line {err.lineno})") from None
    try:
        index = _coco_index(document, spec, name)
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetRejectedError(f"{name}: not in COCO form (missing or bad {err})") from None
    by_base = {posixpath.basename(path): entry for path, entry in index.items()}
    prefix = images_prefix(dataset)
    for obj in _images(store, dataset, stats):
        relative = obj.key[len(prefix) :]
        entry = index.get(relative) or by_base.get(posixpath.basename(relative))
        where = f"{name} for images/{relative}"
        if entry is None or (spec.task.is_classification and not entry.labels):
            stats.skipped["unlabeled"] += 1
            continue
        uri = store.uri(obj.key)
        if spec.task.is_classification:
            writer.write(builder.classification(uri, entry.labels, where))
            stats.label_counts.update(set(entry.labels))
        else:
            size = (entry.width, entry.height, _DEFAULT_DEPTH)
            writer.write(builder.detection(uri, size, entry.boxes, where))
            stats.label_counts.update(box.label for box in entry.boxes)
        stats.objects += 1
