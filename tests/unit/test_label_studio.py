"""What Label Studio and CVAT import (config, tasks, label spec), and reading their documented exports."""

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from sagechain.errors import DatasetRejectedError
from sagechain.labeling.label_studio import (
    RunImages,
    cvat_label_spec,
    judge,
    labeling_config,
    parse_document,
    task_document,
)
from sagechain.manifest import Box
from sagechain.spec import TaskType

FIXTURES = Path(__file__).parent.parent / "fixtures" / "own_tool"
IMAGES = "s3://data/datasets/garden/images/"
RUN = RunImages([f"{IMAGES}{name}" for name in ("a.png", "b.png", "c.png", "d.png")])


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def judged(name: str, task: TaskType, labels: list[str]) -> tuple[dict[str, object], Counter[str]]:
    """Each run image's labels (or boxes) from a fixture, and every reason something was left out."""
    found: dict[str, object] = {}
    problems: Counter[str] = Counter()
    for note in parse_document(fixture(name), name):
        uri = RUN.find(note.image)
        if uri is None:
            problems["not_in_run"] += 1
            continue
        image, lost = judge(note, uri, task, labels)
        problems.update(lost)
        if image is not None:
            found[uri.removeprefix(IMAGES)] = image.boxes if image.boxes else image.labels
    return found, problems


@pytest.mark.parametrize(
    ("task", "control", "choice"),
    [
        (TaskType.IMAGE_CLASSIFICATION, "Choices", "single"),
        (TaskType.IMAGE_CLASSIFICATION_MULTILABEL, "Choices", "multiple"),
        (TaskType.OBJECT_DETECTION, "RectangleLabels", None),
    ],
)
def test_the_labeling_config_has_the_tasks_control_and_the_specs_labels(
    task: TaskType, control: str, choice: str | None
) -> None:
    labels = ["rose", 'tulip "red" & <tall>']

    view = ET.fromstring(labeling_config(task, labels))  # noqa: S314 - our own output, not untrusted

    image, tag = list(view)
    assert (image.tag, image.get("name"), image.get("value")) == ("Image", "image", "$image")
    assert (tag.tag, tag.get("toName"), tag.get("choice")) == (control, "image", choice)
    assert [item.get("value") for item in tag] == labels


def test_a_task_names_its_image_by_the_s3_uri_the_source_storage_resolves() -> None:
    assert json.loads(task_document(f"{IMAGES}a b.png")) == {"data": {"image": f"{IMAGES}a b.png"}}


def test_the_cvat_label_spec_asks_for_rectangles_for_boxes_and_tags_for_classes() -> None:
    assert [
        label["type"] for label in json.loads(cvat_label_spec(TaskType.OBJECT_DETECTION, ["a", "b"]))
    ] == [
        "rectangle",
        "rectangle",
    ]
    assert json.loads(cvat_label_spec(TaskType.IMAGE_CLASSIFICATION, ["a"])) == [
        {"name": "a", "type": "tag", "attributes": []}
    ]


def test_label_studio_json_takes_the_ground_truth_or_latest_non_cancelled_annotation() -> None:
    found, problems = judged("ls_json_single.json", TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"])

    # a.png: the later of two annotations; b.png: the ground-truth one, not the later one or the
    # cancelled one; c.png: only cancelled
    assert found == {"a.png": ["rose"], "b.png": ["tulip"]}
    assert problems == Counter({"cancelled": 1})


def test_json_min_reads_one_and_several_choices_and_counts_unknown_labels() -> None:
    found, problems = judged(
        "ls_json_min_multi.json", TaskType.IMAGE_CLASSIFICATION_MULTILABEL, ["rose", "tulip"]
    )

    assert found == {"a.png": ["rose", "tulip"], "b.png": ["tulip"], "c.png": ["rose"]}
    assert problems == Counter({"unknown_label:daisy": 1})


def test_percent_boxes_become_pixels_of_the_original_image_and_strays_are_counted() -> None:
    found, problems = judged("ls_json_boxes.json", TaskType.OBJECT_DETECTION, ["apple", "blueberry"])

    # 200 x 100 image: x 10 % -> 20 px, width 25 % -> 50 px; the second box runs past the corner
    assert found == {"a.png": [Box("apple", 20, 20, 50, 50), Box("blueberry", 180, 80, 20, 20)]}
    assert problems == Counter(
        {"box_clipped_to_image": 1, "box_outside_image": 1, "unknown_label:pear": 1, "empty": 1}
    )


def test_an_older_target_storage_object_is_one_annotation_with_its_task_nested() -> None:
    found, problems = judged("ls_target_annotation.json", TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"])

    assert found == {"d.png": ["rose"]}
    assert not problems


def test_label_studio_coco_joins_images_by_file_name() -> None:
    found, _ = judged("ls_coco_boxes.json", TaskType.OBJECT_DETECTION, ["apple", "blueberry"])

    assert found == {"a.png": [Box("apple", 20, 20, 50, 50)], "b.png": [Box("blueberry", 150, 40, 30, 20)]}


def test_cvat_coco_joins_by_key_and_counts_images_of_another_dataset() -> None:
    found, problems = judged("cvat_coco_boxes.json", TaskType.OBJECT_DETECTION, ["apple", "blueberry"])

    assert found == {"a.png": [Box("apple", 10, 10, 40, 25)], "b.png": [Box("blueberry", 0, 0, 20, 20)]}
    assert problems == Counter({"not_in_run": 1})


@pytest.mark.parametrize(
    ("task", "expected", "lost"),
    [
        (TaskType.IMAGE_CLASSIFICATION, {"a.png": ["rose"]}, {"several_labels_for_single_label_task": 1}),
        (TaskType.IMAGE_CLASSIFICATION_MULTILABEL, {"a.png": ["rose"], "b.png": ["tulip", "rose"]}, {}),
    ],
)
def test_cvat_coco_classification_takes_the_classes_of_each_images_shapes(
    task: TaskType, expected: dict[str, list[str]], lost: dict[str, int]
) -> None:
    found, problems = judged("cvat_coco_classification.json", task, ["rose", "tulip"])

    assert found == expected
    assert problems == Counter({"empty": 1, **lost})


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{not json", "ls.json is not valid JSON"),
        (b'[{"data": {"text": "x"}, "annotations": []}]', "missing or bad 'data.image'"),
        (b'{"some": "thing"}', "is not a Label Studio task, annotation, JSON-MIN or COCO export"),
    ],
)
def test_a_file_in_no_documented_form_is_rejected_naming_it(raw: bytes, says: str) -> None:
    with pytest.raises(DatasetRejectedError, match=r"ls\.json") as err:
        parse_document(raw, "ls.json")
    assert says in err.value.reason


def test_run_images_are_found_by_uri_key_suffix_or_unique_file_name_only() -> None:
    images = RunImages([f"{IMAGES}x/a.png", f"{IMAGES}y/a.png", f"{IMAGES}b.png"])

    assert images.find(f"{IMAGES}b.png") == f"{IMAGES}b.png"
    assert images.find("datasets/garden/images/x/a.png") == f"{IMAGES}x/a.png"
    assert images.find("y/a.png") == f"{IMAGES}y/a.png"
    assert images.find("images/b.png") == f"{IMAGES}b.png"
    assert images.find("a.png") is None  # two images have that name
    assert images.find("s3://data/datasets/other/images/b.png") is None
