"""Manifest lines: Ground Truth input lines and labeled lines in Ground Truth's output form.

The labeled form is what Ground Truth writes and what SageMaker's built-in image
classification and object detection algorithms read as an augmented manifest:
    {"source-ref": "s3://...", "<attr>": <label>, "<attr>-metadata": {...}}
with <label> a class index, a list of class indexes (multi-label), or
{"image_size": [...], "annotations": [...]} (bounding boxes).
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from sagechain.errors import DatasetRejectedError
from sagechain.spec import TaskType

PROVIDED_JOB_NAME = "provided-labels"
_GT_TYPES = {
    TaskType.IMAGE_CLASSIFICATION: "groundtruth/image-classification",
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: "groundtruth/image-classification-multilabel",
    TaskType.OBJECT_DETECTION: "groundtruth/object-detection",
}


def ground_truth_type(task: TaskType) -> str:
    """The metadata `type` Ground Truth writes for a task."""
    return _GT_TYPES[task]


def task_for_ground_truth_type(gt_type: str) -> TaskType | None:
    """The task a Ground Truth metadata `type` belongs to, if it is one sagechain trains."""
    return next((task for task, name in _GT_TYPES.items() if name == gt_type), None)


# One encoder for every line: json.dumps with options builds a new JSONEncoder per call.
_json_string = json.JSONEncoder(ensure_ascii=False).encode


def source_ref_line(uri: str) -> bytes:
    """One Ground Truth input line."""
    return b'{"source-ref": ' + _json_string(uri).encode() + b"}\n"


def source_ref_lines(bucket: str, keys: Iterable[str]) -> bytes:
    """Ground Truth input lines for keys of bucket, in order: source_ref_line's bytes for each
    s3://bucket/key, built in one pass (a bucket name never needs JSON escaping)."""
    keys = list(keys)
    if not keys:
        return b""
    head = '{"source-ref": "s3://' + bucket + "/"
    # One encoding of the whole list: json separates its strings by '", "', which cannot occur
    # inside an encoded string (each " in one is escaped, so never follows ", directly).
    encoded = _json_string(keys)[2:-2]
    return (head + encoded.replace('", "', '"}\n' + head) + '"}\n').encode()


class Box(NamedTuple):
    """A bounding box in pixels, left/top from the image's top-left corner."""

    label: str
    left: int
    top: int
    width: int
    height: int


@dataclass
class ManifestStats:
    """What a manifest holds and what was left out, for the event and the email."""

    objects: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    label_counts: Counter[str] = field(default_factory=Counter)


class LabeledLineBuilder:
    """Writes labeled lines in the run's class order; unknown labels reject the run."""

    def __init__(
        self,
        task: TaskType,
        labels: list[str],
        attribute: str,
        creation_date: str,
        job_name: str = PROVIDED_JOB_NAME,
    ) -> None:
        self._task = task
        self._job_name = job_name
        self._labels = labels
        self._index = {label: i for i, label in enumerate(labels)}
        self._attribute = attribute
        self._creation_date = creation_date

    def index_of(self, label: str, where: str) -> int:
        """The class index of label; names the file when the label is not in the spec."""
        try:
            return self._index[label]
        except KeyError:
            raise DatasetRejectedError(
                f"{where}: label {label!r} is not in spec.labels ({', '.join(self._labels)}). "
                "Add it to labels in dataset.json or fix the file."
            ) from None

    def _metadata(self, **extra: object) -> dict[str, object]:
        return {
            "type": ground_truth_type(self._task),
            "human-annotated": "yes",
            "creation-date": self._creation_date,
            "job-name": self._job_name,
            **extra,
        }

    def classification(self, uri: str, names: list[str], where: str) -> bytes:
        """A classification line: one class (single-label) or a set (multi-label)."""
        indexes = sorted({self.index_of(name, where) for name in names})
        if self._task is TaskType.IMAGE_CLASSIFICATION:
            if len(indexes) != 1:
                raise DatasetRejectedError(
                    f"{where}: {len(indexes)} labels ({', '.join(names)}) for a single-label task"
                )
            value: object = indexes[0]
            metadata = self._metadata(**{"class-name": self._labels[indexes[0]], "confidence": 1.0})
        else:
            value = indexes
            metadata = self._metadata(
                **{
                    "class-map": {str(i): self._labels[i] for i in indexes},
                    "confidence-map": {str(i): 1.0 for i in indexes},
                }
            )
        return self._line(uri, value, metadata)

    def detection(self, uri: str, size: tuple[int, int, int], boxes: list[Box], where: str) -> bytes:
        """A bounding-box line; size is (width, height, depth)."""
        annotations = [
            {
                "class_id": self.index_of(box.label, where),
                "left": box.left,
                "top": box.top,
                "width": box.width,
                "height": box.height,
            }
            for box in boxes
        ]
        used = sorted({a["class_id"] for a in annotations})
        value = {
            "image_size": [{"width": size[0], "height": size[1], "depth": size[2]}],
            "annotations": annotations,
        }
        metadata = self._metadata(
            **{
                "objects": [{"confidence": 1.0} for _ in boxes],
                "class-map": {str(i): self._labels[i] for i in used},
            }
        )
        return self._line(uri, value, metadata)

    def _line(self, uri: str, value: object, metadata: dict[str, object]) -> bytes:
        line = {"source-ref": uri, self._attribute: value, f"{self._attribute}-metadata": metadata}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
