"""The labeled manifest split into train and validation: deterministic, stratified, streamed.

The scheme. Lines are read once, in file order, and each kept line is written at once to
train.manifest or validation.manifest; nothing but a few counters per class is held, so a
1,000,000-line manifest splits in constant memory (bench/split_manifest.py).

Each class k keeps two counters: n_k, the kept lines that carry k so far, and v_k, those
sent to validation. With f the validation fraction, a line carrying k goes to validation
when that brings v_k nearest to f * n_k, that is when f * (n_k + 1) - v_k >= 1/2. Within
a class this is systematic sampling: after n lines exactly round(f * n) (halves up) are in
validation, spread evenly through the class instead of bunched at its end, so each class
is split in the same proportion as the whole (stratification) whatever order the classes
come in. A multi-label line or a detection image carries several classes: it goes to
validation when the average of that gap over its classes is at least 1/2, which keeps
every class within a line or two of its share. A detection image without boxes counts as
a class of its own. The arithmetic is exact (f as a fraction), so the same manifest always
gives the same split, byte for byte, on any machine.

Lines that cannot train are dropped and counted by reason: not JSON, no "source-ref", no
label, a label Ground Truth marked as failed, a class index outside the spec's labels, or
a label not in the shape of the task.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sagechain.ports import ObjectWriter
from sagechain.spec import TaskType

# A detection image with no boxes is its own stratum.
NO_OBJECTS = -1
_FRACTION_DENOMINATOR = 1_000_000


class DropReason(StrEnum):
    """Why a manifest line was left out of both channels."""

    NOT_JSON = "not_json"
    NO_SOURCE_REF = "no_source_ref"
    NO_LABEL = "no_label"
    FAILED_LABEL = "failed_label"
    UNKNOWN_CLASS = "unknown_class"
    MALFORMED_LABEL = "malformed_label"


@dataclass(frozen=True)
class LineLabels:
    """The classes one line carries (sorted, distinct) and, for detection, its box count."""

    classes: tuple[int, ...]
    boxes: int = 0


def _class_index(value: object, num_classes: int) -> int | DropReason:
    if isinstance(value, bool):
        return DropReason.MALFORMED_LABEL
    if isinstance(value, str) and value.isdecimal():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        return DropReason.MALFORMED_LABEL
    return value if 0 <= value < num_classes else DropReason.UNKNOWN_CLASS


# One LineLabels per class for single-label lines (most lines): built once, not per line.
_SINGLE = [LineLabels((index,)) for index in range(4096)]


def _classification(value: object, multi_label: bool, num_classes: int) -> LineLabels | DropReason:
    if not multi_label and type(value) is int and 0 <= value < min(num_classes, len(_SINGLE)):
        return _SINGLE[value]
    values = value if multi_label else [value]
    if not isinstance(values, list):
        return DropReason.MALFORMED_LABEL
    if not values:
        return DropReason.NO_LABEL
    indexes = set()
    for item in values:
        index = _class_index(item, num_classes)
        if isinstance(index, DropReason):
            return index
        indexes.add(index)
    return LineLabels(tuple(sorted(indexes)))


def _detection(value: object, num_classes: int) -> LineLabels | DropReason:
    if not isinstance(value, dict):
        return DropReason.MALFORMED_LABEL
    annotations, size = value.get("annotations"), value.get("image_size")
    if not isinstance(annotations, list) or not isinstance(size, list) or not size:
        return DropReason.MALFORMED_LABEL
    classes = set()
    for box in annotations:
        if not isinstance(box, dict) or not all(
            isinstance(box.get(k), int | float) for k in ("left", "top", "width", "height")
        ):
            return DropReason.MALFORMED_LABEL
        index = _class_index(box.get("class_id"), num_classes)
        if isinstance(index, DropReason):
            return index
        classes.add(index)
    return LineLabels(tuple(sorted(classes)), boxes=len(annotations))


# json.loads on bytes guesses the encoding and skips whitespace on each call; a manifest is UTF-8
# (a byte order mark allowed) and its lines come stripped, so one decoder reads them directly.
_raw_decode = json.JSONDecoder().raw_decode


def _text(raw: bytes) -> str:
    """A line as text: UTF-8, a byte order mark dropped (what json.loads accepts of bytes)."""
    text = raw.decode()
    return text[1:] if text[:1] == "\ufeff" else text


def _parse(raw: bytes) -> dict[str, Any] | DropReason:
    try:
        text = _text(raw)
        line: Any
        line, end = _raw_decode(text)
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError)
        return DropReason.NOT_JSON
    if end != len(text) and text[end:].strip():
        return DropReason.NOT_JSON
    if not isinstance(line, dict):
        return DropReason.NOT_JSON
    source = line.get("source-ref")
    if not isinstance(source, str) or not source:
        return DropReason.NO_SOURCE_REF
    return line


def read_labels(raw: bytes, task: TaskType, attribute: str, num_classes: int) -> LineLabels | DropReason:
    """The classes of one augmented-manifest line, or why it cannot train."""
    line = _parse(raw)
    if isinstance(line, DropReason):
        return line
    metadata = line.get(f"{attribute}-metadata")
    if isinstance(metadata, dict) and "failure-reason" in metadata:
        return DropReason.FAILED_LABEL
    if line.get(attribute) is None:
        return DropReason.NO_LABEL
    if task is TaskType.OBJECT_DETECTION:
        return _detection(line[attribute], num_classes)
    return _classification(line[attribute], task is TaskType.IMAGE_CLASSIFICATION_MULTILABEL, num_classes)


class StratifiedSplitter:
    """Decides, line by line, train or validation; see the module docstring for the rule."""

    def __init__(self, validation_fraction: float) -> None:
        # repr() gives the shortest decimal for the float: 0.2 -> Fraction(1, 5), exactly.
        fraction = Fraction(repr(validation_fraction)).limit_denominator(_FRACTION_DENOMINATOR)
        self._p, self._q = fraction.numerator, fraction.denominator
        self._seen: defaultdict[int, int] = defaultdict(int)
        self._held: defaultdict[int, int] = defaultdict(int)

    def to_validation(self, classes: tuple[int, ...]) -> bool:
        """True when the line goes to validation; updates the counters either way."""
        if len(classes) == 1:  # the same rule for one stratum, without the sums
            k = classes[0]
            seen = self._seen[k] + 1
            chosen = 2 * (self._p * seen - self._q * self._held[k]) >= self._q
            self._seen[k] = seen
            if chosen:
                self._held[k] += 1
            return chosen
        strata = classes or (NO_OBJECTS,)
        # Sum over strata of q * (f * (n + 1) - v), compared with q * (1/2) * len, in integers.
        gap = sum(self._p * (self._seen[k] + 1) - self._q * self._held[k] for k in strata)
        chosen = 2 * gap >= self._q * len(strata)
        for k in strata:
            self._seen[k] += 1
            if chosen:
                self._held[k] += 1
        return chosen

    def class_counts(self) -> dict[int, tuple[int, int]]:
        """Class index -> (train, validation) lines carrying it."""
        return {k: (self._seen[k] - self._held[k], self._held[k]) for k in sorted(self._seen)}


@dataclass
class SplitResult:
    """What the split wrote and left out."""

    train: int = 0
    validation: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    max_boxes: int = 0
    class_counts: dict[int, tuple[int, int]] = field(default_factory=dict)


def split_manifest(
    lines: Iterable[bytes],
    task: TaskType,
    attribute: str,
    num_classes: int,
    validation_fraction: float,
    train: ObjectWriter,
    validation: ObjectWriter,
) -> SplitResult:
    """Stream lines into the two writers (which the caller commits or aborts)."""
    splitter = StratifiedSplitter(validation_fraction)
    result = SplitResult()
    # Lines are written a batch at a time (each writer gets them in the same order): one write per
    # _BATCH lines instead of one per line.
    to_train: list[bytes] = []
    to_validation: list[bytes] = []
    single = task is TaskType.IMAGE_CLASSIFICATION
    metadata_key = f"{attribute}-metadata"
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        fast = _single_label(line, attribute, metadata_key, num_classes) if single else None
        # Every other case, and every line to drop, the whole way.
        labels = fast if fast is not None else read_labels(line, task, attribute, num_classes)
        if isinstance(labels, DropReason):
            result.dropped[labels.value] += 1
            continue
        result.max_boxes = max(result.max_boxes, labels.boxes)
        if splitter.to_validation(labels.classes):
            to_validation.append(line)
            if len(to_validation) >= _BATCH:
                result.validation += _flush(to_validation, validation)
        else:
            to_train.append(line)
            if len(to_train) >= _BATCH:
                result.train += _flush(to_train, train)
    result.train += _flush(to_train, train)
    result.validation += _flush(to_validation, validation)
    result.class_counts = splitter.class_counts()
    return result


_BATCH = 1024


def _single_label(line: bytes, attribute: str, metadata_key: str, num_classes: int) -> LineLabels | None:
    """The common line of a single-label manifest, read in one pass (what read_labels gives it), or
    None for anything else: read_labels then decides."""
    try:
        text = _text(line)
        document, end = _raw_decode(text)
    except ValueError:
        return None
    if end != len(text) or type(document) is not dict:
        return None
    source, value, metadata = document.get("source-ref"), document.get(attribute), document.get(metadata_key)
    if type(source) is not str or not source or type(value) is not int:
        return None
    if type(metadata) is dict and "failure-reason" in metadata:
        return None
    if 0 <= value < num_classes and value < len(_SINGLE):
        return _SINGLE[value]
    return None


def _flush(batch: list[bytes], writer: ObjectWriter) -> int:
    """Write the batch's lines (newline-terminated) and empty it; how many there were."""
    count = len(batch)
    if count:
        batch.append(b"")
        writer.write(b"\n".join(batch))
        batch.clear()
    return count
