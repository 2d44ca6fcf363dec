"""A dataset folder checked as the stack will check it, before anything is uploaded.

The folder holds `dataset.json` and `images/` (and the labels file the spec names), laid out
as datasets/<name>/ in the bucket. The spec is parsed by the stack's own model
(sagechain.spec.parse_spec), filled with the stack's defaults and checked against its guardrails
(sagechain.guardrails.check_spec) read from the stack's parameters; images and provided labels
are checked the way prepare_dataset reads them, so a dataset the stack would reject is refused
here with the same reason and nothing is uploaded.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from sagechain.errors import DatasetRejectedError
from sagechain.guardrails import Guardrails, check_spec
from sagechain.layout import IMAGE_SUFFIXES, SPEC_FILE, dataset_prefix
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec, LabelingMode, TaskType, describe_validation_error, parse_spec

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class LocalFile:
    """One file to upload: where it is, where it goes, how big it is."""

    path: Path
    key: str
    size: int


@dataclass
class DatasetPlan:
    """What `upload` sends: the files (images, labels file) and dataset.json, last."""

    name: str
    spec: DatasetSpec
    files: list[LocalFile]
    spec_file: LocalFile
    skipped: Counter[str] = field(default_factory=Counter)
    label_counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Every byte to upload, dataset.json included."""
        return sum(f.size for f in self.files) + self.spec_file.size


class InvalidDatasetError(Exception):
    """The stack would reject this dataset; the message says why and what to fix."""


def _skip_reason(path: Path) -> str | None:
    """Why a file under images/ is not one of the dataset's images (as prepare_dataset skips it)."""
    if path.name.startswith("."):
        return "hidden_file"
    if not path.name.lower().endswith(IMAGE_SUFFIXES):
        return "not_an_image"
    if path.stat().st_size == 0:
        return "empty_file"
    return None


def _image_problem(path: Path, relative: str) -> str | None:
    with path.open("rb") as image:
        head = image.read(8)
    if head.startswith(_JPEG) or head.startswith(_PNG):
        return None
    return f"images/{relative} is named like an image but is not a JPEG or PNG"


def _checked_spec(spec_path: Path, environment: dict[str, str] | None, notes: list[str]) -> DatasetSpec:
    """dataset.json parsed by the stack's model, with its defaults, within its guardrails."""
    if not spec_path.is_file():
        raise InvalidDatasetError(f"{spec_path} does not exist: write one with `sagechain init`")
    try:
        spec = parse_spec(spec_path.read_bytes(), SPEC_FILE)
    except DatasetRejectedError as err:
        raise InvalidDatasetError(str(err)) from None
    if environment is None:
        notes.append("the stack's guardrails could not be read: the stack checks them on upload")
        return spec
    try:
        spec = spec.with_defaults(SpecDefaults.from_env(environment))
        check_spec(spec, Guardrails.from_env(environment))
    except DatasetRejectedError as err:
        raise InvalidDatasetError(str(err)) from None
    except ValidationError as err:
        notes.append(f"the stack's parameters did not validate here ({describe_validation_error(err)})")
    return spec


@dataclass
class _Images:
    files: list[LocalFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)


def _listed_images(images: Path, prefix: str, spec: DatasetSpec) -> _Images:
    """The images prepare_dataset will read, what it will skip, and what it would reject."""
    found = _Images()
    class_folders = spec.labeling.mode is LabelingMode.PROVIDED and spec.labeling.labels_file is None
    if class_folders and spec.task is TaskType.OBJECT_DETECTION:
        found.problems.append(
            "class folders carry no bounding boxes: for object-detection set labeling.labels_file to a "
            "Ground Truth manifest (*.manifest) or COCO JSON (*.json)"
        )
    for path in sorted(p for p in images.rglob("*") if p.is_file()):
        relative = path.relative_to(images).as_posix()
        reason = _skip_reason(path)
        problem = None if reason else _image_problem(path, relative)
        label = relative.split("/", 1)[0] if class_folders and "/" in relative else None
        if class_folders and not reason and label is None:
            reason = "unlabeled"
        if not problem and label is not None and label not in spec.labels:
            problem = f"images/{relative}: its folder {label!r} is not one of labels {spec.labels}"
        if reason:
            found.skipped[reason] += 1
        elif problem:
            found.problems.append(problem)
        else:
            found.labels.update([label] if label else [])
            found.files.append(LocalFile(path, f"{prefix}images/{relative}", path.stat().st_size))
    if not found.files:
        found.problems.append(
            f"no images under {images} (.jpg, .jpeg, .png; class folders for provided labels)"
        )
    return found


def check_dataset(folder: Path, name: str, environment: dict[str, str] | None) -> DatasetPlan:
    """The upload plan of a dataset folder, or InvalidDatasetError with every problem found.

    `environment` is prepare_dataset's (the stack's parameters as its variables); None skips the
    guardrails (they could not be read), which the plan's notes say."""
    notes: list[str] = []
    spec_path = folder / SPEC_FILE
    spec = _checked_spec(spec_path, environment, notes)
    images = folder / "images"
    if not images.is_dir():
        raise InvalidDatasetError(f"{images} does not exist: put the images under images/")
    prefix = dataset_prefix(name)
    found = _listed_images(images, prefix, spec)
    if spec.labeling.labels_file:
        labels_path = folder / spec.labeling.labels_file
        found.problems += _labels_file_problems(labels_path, spec)
        if labels_path.is_file():
            found.files.append(LocalFile(labels_path, prefix + labels_path.name, labels_path.stat().st_size))
    if found.problems:
        more = len(found.problems) - MAX_PROBLEMS_SHOWN
        raise InvalidDatasetError(
            "; ".join(found.problems[:MAX_PROBLEMS_SHOWN]) + (f" (and {more} more)" if more > 0 else "")
        )
    spec_file = LocalFile(spec_path, prefix + SPEC_FILE, spec_path.stat().st_size)
    return DatasetPlan(name, spec, found.files, spec_file, found.skipped, found.labels, notes)


def _labels_file_problems(path: Path, spec: DatasetSpec) -> list[str]:
    if not path.is_file():
        return [f"labeling.labels_file is {path.name}, but {path} does not exist"]
    if path.suffix == ".manifest":
        return []  # Ground Truth manifests are read line by line by the stack
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        return [f"{path.name} is not valid JSON ({err})"]
    if not isinstance(document, dict) or not isinstance(document.get("categories"), list):
        return [f"{path.name} is not COCO JSON: it has no categories list"]
    names = {str(category.get("name")) for category in document["categories"] if isinstance(category, dict)}
    unknown = sorted(names - set(spec.labels))
    return [f"{path.name}: categories {unknown} are not in labels {spec.labels}"] if unknown else []
