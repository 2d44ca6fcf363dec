"""The team's own labeling tool: what Label Studio and CVAT import, and reading what they give back.

Out (start_labeling writes them under the run):
    runs/<run_id>/label-studio/tasks.json   one task per image, {"data": {"image": "s3://..."}}
    runs/<run_id>/label-studio/config.xml   the labeling config for the task and the spec's labels
    runs/<run_id>/cvat/labels.json          CVAT's label specification (the "Raw" label constructor)
Back (collect_labels reads them):
    runs/<run_id>/label-studio/annotations/...   Label Studio's S3 target storage: one object per annotation
    runs/<run_id>/labels/<file>                  a whole export: Label Studio JSON, JSON-MIN, COCO (LS, CVAT)

Formats, as documented:
- Task and annotation JSON: https://labelstud.io/guide/task_format.html ("Label Studio JSON format of
  annotated tasks"): a task has data and annotations; each annotation has result, was_cancelled,
  ground_truth, created_at/updated_at; a rectangle's value x/y/width/height is in percent of the
  image, whose pixel size the result item carries as original_width/original_height.
- Target storage: https://labelstud.io/guide/storage.html#Target-storage ("The target storage receives
  a JSON-formatted export of each annotation"): a task with its annotations, or (older releases) one
  annotation with its task nested under "task".
- JSON-MIN: https://labelstud.io/guide/export.html#JSON-MIN: one flat object per task, the image under
  its data key and each control's value under its name (a single choice as a string, several as
  {"choices": [...]}, rectangles as a list of values with rectanglelabels and original_width/height).
- COCO: https://cocodataset.org/#format-data (images, annotations with bbox [x, y, width, height] in
  pixels, categories), as Label Studio (https://labelstud.io/guide/export.html#COCO) and CVAT
  (https://docs.cvat.ai/docs/dataset_management/formats/format-coco/) export it.
"""

import json
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from sagechain.errors import DatasetRejectedError
from sagechain.manifest import Box
from sagechain.spec import TaskType

LABEL_STUDIO_FOLDER = "label-studio/"
TASKS_FILE = "label-studio/tasks.json"
CONFIG_FILE = "label-studio/config.xml"
CVAT_LABELS_FILE = "cvat/labels.json"
ANNOTATIONS_FOLDER = "label-studio/annotations/"
DONE_MARKER = "label-studio/done"
EXPORTS_FOLDER = "labels/"
# Where collect_labels keeps what each image's annotations came to (not a trigger's prefix).
RECEIVED_FOLDER = "label-studio/received/"

# The names config.xml gives its tags: tasks carry the image under "image", JSON-MIN names each
# control's value after the control.
IMAGE_KEY = "image"
CHOICES_NAME = "choice"
RECTANGLES_NAME = "label"

Outcome = Literal["labeled", "cancelled", "empty"]


# ---------------------------------------------------------------- out
def labeling_config(task: TaskType, labels: list[str]) -> bytes:
    """The Label Studio labeling config: single Choices, multiple Choices, or RectangleLabels
    (https://labelstud.io/tags/choices.html, https://labelstud.io/tags/rectanglelabels.html)."""
    if task is TaskType.OBJECT_DETECTION:
        items = "".join(f"    <Label value={quoteattr(label)}/>\n" for label in labels)
        control = (
            f'  <RectangleLabels name="{RECTANGLES_NAME}" toName="{IMAGE_KEY}">\n'
            f"{items}  </RectangleLabels>\n"
        )
    else:
        choice = "single" if task is TaskType.IMAGE_CLASSIFICATION else "multiple"
        items = "".join(f"    <Choice value={quoteattr(label)}/>\n" for label in labels)
        control = (
            f'  <Choices name="{CHOICES_NAME}" toName="{IMAGE_KEY}" choice="{choice}" showInline="true">\n'
            f"{items}  </Choices>\n"
        )
    return f'<View>\n  <Image name="{IMAGE_KEY}" value="${IMAGE_KEY}"/>\n{control}</View>\n'.encode()


def task_document(uri: str) -> bytes:
    """One Label Studio task: the image as the s3:// URI that the project's S3 source storage resolves."""
    return json.dumps({"data": {IMAGE_KEY: uri}}, ensure_ascii=False).encode()


def cvat_label_spec(task: TaskType, labels: list[str]) -> bytes:
    """CVAT's label specification (Project or Task, Labels, Raw): rectangles for boxes, tags for classes."""
    kind = "rectangle" if task is TaskType.OBJECT_DETECTION else "tag"
    spec = [{"name": label, "type": kind, "attributes": []} for label in labels]
    return json.dumps(spec, indent=2, ensure_ascii=False).encode() + b"\n"


# ---------------------------------------------------------------- back
@dataclass
class ToolAnnotation:
    """One task's annotation as the tool gave it back, before it is checked against the run."""

    image: str = ""
    outcome: Outcome = "labeled"
    labels: list[str] = field(default_factory=list)
    # Boxes in pixels (left, top, width, height), not yet checked against the image.
    boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    size: tuple[int, int] | None = None
    updated_at: str = ""
    problems: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class LabeledImage:
    """What an image's annotation comes to: class names or boxes in pixels, in the spec's labels."""

    uri: str
    labels: list[str]
    boxes: list[Box]
    size: tuple[int, int] | None
    updated_at: str
    problems: dict[str, int]


def _number(value: Any) -> float:
    return float(value)


def _result_regions(result: list[Any], note: ToolAnnotation) -> None:
    """Label Studio result items: choices and rectanglelabels (percent -> pixels)."""
    for item in result:
        if not isinstance(item, dict):
            note.problems["unreadable_region"] += 1
            continue
        value = item.get("value") or {}
        kind = item.get("type")
        if kind == "choices":
            note.labels.extend(str(name) for name in value.get("choices", []))
        elif kind == "rectanglelabels":
            _percent_box(value, item, note)
        else:
            note.problems[f"unsupported_region:{kind}"] += 1


def _percent_box(value: dict[str, Any], item: dict[str, Any], note: ToolAnnotation) -> None:
    width = item.get("original_width", value.get("original_width"))
    height = item.get("original_height", value.get("original_height"))
    if not width or not height:
        note.problems["box_without_image_size"] += 1
        return
    size = (int(width), int(height))
    note.size = note.size or size
    if value.get("rotation"):
        note.problems["box_rotated"] += 1
    for label in value.get("rectanglelabels", []):
        note.boxes.append(
            (
                str(label),
                _number(value["x"]) * size[0] / 100,
                _number(value["y"]) * size[1] / 100,
                _number(value["width"]) * size[0] / 100,
                _number(value["height"]) * size[1] / 100,
            )
        )


def _chosen(annotations: list[Any]) -> tuple[dict[str, Any] | None, Outcome]:
    """The annotation that counts: the ground-truth-marked one, else the latest; never a cancelled one."""
    live = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not live:
        return None, "cancelled" if annotations else "empty"
    marked = [a for a in live if a.get("ground_truth")]
    pool = marked or live
    latest = max(
        pool, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id")))
    )
    return latest, "labeled" if latest.get("result") else "empty"


def _task_image(task: dict[str, Any]) -> str:
    data = task.get("data")
    if not isinstance(data, dict) or not isinstance(data.get(IMAGE_KEY), str):
        raise KeyError(f"data.{IMAGE_KEY}")
    return str(data[IMAGE_KEY])


def _from_task(task: dict[str, Any]) -> ToolAnnotation:
    """A task in Label Studio JSON (with its annotations)."""
    annotations = task.get("annotations") or task.get("completions") or []
    chosen, outcome = _chosen(annotations)
    note = ToolAnnotation(image=_task_image(task), outcome=outcome)
    if chosen is not None:
        note.updated_at = str(chosen.get("updated_at") or chosen.get("created_at") or "")
        _result_regions(chosen.get("result") or [], note)
    return note


def _from_annotation(annotation: dict[str, Any]) -> ToolAnnotation:
    """One annotation with its task nested under "task" (target storage objects of older releases)."""
    task = annotation["task"]
    if not isinstance(task, dict):
        raise KeyError("task.data")
    return _from_task({"data": task.get("data"), "annotations": [annotation]})


def _from_json_min(row: dict[str, Any]) -> ToolAnnotation:
    """One JSON-MIN row: the image and each control's value under the control's name."""
    note = ToolAnnotation(image=str(row[IMAGE_KEY]))
    note.updated_at = str(row.get("updated_at") or row.get("created_at") or "")
    choice = row.get(CHOICES_NAME)
    if isinstance(choice, str):
        note.labels.append(choice)
    elif isinstance(choice, dict):
        note.labels.extend(str(name) for name in choice.get("choices", []))
    for value in row.get(RECTANGLES_NAME) or []:
        if isinstance(value, dict):
            _percent_box(value, value, note)
    if not note.labels and not note.boxes and not note.problems:
        note.outcome = "empty"
    return note


def _from_coco(document: dict[str, Any]) -> list[ToolAnnotation]:
    """COCO: boxes in pixels; for classification, an image's labels are its annotations' categories."""
    categories = {c["id"]: str(c["name"]) for c in document.get("categories", [])}
    notes: dict[Any, ToolAnnotation] = {}
    for image in document.get("images", []):
        file_name = str(image["file_name"]).replace("\\", "/")
        size = (
            (int(image["width"]), int(image["height"]))
            if image.get("width") and image.get("height")
            else None
        )
        notes[image["id"]] = ToolAnnotation(image=file_name, outcome="empty", size=size)
    for annotation in document.get("annotations", []):
        note = notes.get(annotation.get("image_id"))
        if note is None:
            continue
        category = categories.get(annotation.get("category_id"))
        if category is None:
            note.problems["unknown_category_id"] += 1
            continue
        note.outcome = "labeled"
        note.labels.append(category)
        bbox = annotation.get("bbox")
        if bbox and len(bbox) == 4:  # COCO's [x, y, width, height]
            left, top, width, height = (_number(v) for v in bbox)
            note.boxes.append((category, left, top, width, height))
    return list(notes.values())


def parse_document(raw: bytes, name: str) -> list[ToolAnnotation]:
    """A target-storage object or an export, in whichever documented form it is; DatasetRejectedError
    naming the file when it is no JSON or none of the forms."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        detail = f"{err.msg} at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else str(err)
        raise DatasetRejectedError(f"{name} is not valid JSON ({detail})") from None
    try:
        if isinstance(document, dict) and "images" in document and "categories" in document:
            return _from_coco(document)
        rows = document if isinstance(document, list) else [document]
        notes = []
        for row in rows:
            if not isinstance(row, dict):
                raise TypeError("an item that is not an object")
            if "annotations" in row or "completions" in row:
                notes.append(_from_task(row))
            elif "result" in row and "task" in row:
                notes.append(_from_annotation(row))
            elif IMAGE_KEY in row:
                notes.append(_from_json_min(row))
            else:
                raise KeyError("annotations, result or image")
        return notes
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetRejectedError(
            f"{name} is not a Label Studio task, annotation, JSON-MIN or COCO export (missing or bad {err}). "
            "Export the project as JSON, JSON-MIN or COCO, or connect S3 target storage at the run's "
            "label-studio/annotations/ prefix."
        ) from None


# ---------------------------------------------------------------- the run's view
class RunImages:
    """The run's images (input.manifest's URIs), found by URI, key, path suffix or unique file name."""

    def __init__(self, uris: list[str]) -> None:
        self.uris = uris
        self._by_uri = set(uris)
        self._by_key = {uri.split("/", 3)[3]: uri for uri in uris if uri.count("/") >= 3}
        self._by_name: dict[str, list[str]] = {}
        for uri in uris:
            self._by_name.setdefault(posixpath.basename(uri), []).append(uri)

    def find(self, reference: str) -> str | None:
        """The run image a task or COCO file_name refers to, or None (also when a bare file name
        matches several images)."""
        if reference in self._by_uri:
            return reference
        if reference.startswith("s3://"):
            # An object named in full is this run's image or none of them, whatever its file name.
            return None
        path = reference.split("?", 1)[0].removeprefix("./").lstrip("/")
        if path in self._by_key:
            return self._by_key[path]
        candidates = self._by_name.get(posixpath.basename(path), [])
        by_suffix = [uri for uri in candidates if uri.endswith("/" + path)]
        if len(by_suffix) == 1:
            return by_suffix[0]
        return candidates[0] if len(candidates) == 1 else None


def _classes(note: ToolAnnotation, task: TaskType, known: set[str], problems: Counter[str]) -> list[str]:
    names = []
    for name in dict.fromkeys(note.labels):
        if name in known:
            names.append(name)
        else:
            problems[f"unknown_label:{name}"] += 1
    if task is TaskType.IMAGE_CLASSIFICATION and len(names) > 1:
        problems["several_labels_for_single_label_task"] += 1
        return []
    return names


def _boxes(note: ToolAnnotation, known: set[str], problems: Counter[str]) -> list[Box]:
    width, height = note.size or (0, 0)
    boxes = []
    for name, left, top, box_width, box_height in note.boxes:
        if name not in known:
            problems[f"unknown_label:{name}"] += 1
            continue
        clipped = _clip(left, top, box_width, box_height, width, height)
        if clipped is None:
            problems["box_outside_image"] += 1
            continue
        if clipped != (round(left), round(top), round(box_width), round(box_height)):
            problems["box_clipped_to_image"] += 1
        boxes.append(Box(name, *clipped))
    return boxes


def judge(
    note: ToolAnnotation, uri: str, task: TaskType, labels: list[str]
) -> tuple[LabeledImage | None, Counter[str]]:
    """The annotation in the spec's terms, and what was dropped on the way, counted by reason:
    cancelled or empty annotations, unknown labels, boxes outside the image. None when nothing
    usable is left."""
    problems = Counter(note.problems)
    if note.outcome != "labeled":
        problems[note.outcome] += 1
        return None, problems
    known = set(labels)
    boxes = [] if task.is_classification else _boxes(note, known, problems)
    names = _classes(note, task, known, problems) if task.is_classification else [b.label for b in boxes]
    if not names:
        if not problems:
            problems["no_usable_label"] += 1
        return None, problems
    return LabeledImage(uri, names, boxes, note.size, note.updated_at, dict(problems)), problems


def _clip(
    left: float, top: float, width: float, height: float, image_width: int, image_height: int
) -> tuple[int, int, int, int] | None:
    x0, y0 = max(0.0, left), max(0.0, top)
    x1, y1 = min(float(image_width), left + width), min(float(image_height), top + height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return round(x0), round(y0), round(x1 - x0), round(y1 - y0)
