"""Provided labels: class folders, Ground Truth manifests and COCO become one labeled manifest."""

import json
from typing import Any

import pytest

from sagechain.events import DatasetPrepared, DatasetRejected
from tests.fakes import MemoryStore
from tests.unit.test_prepare_dataset import BUCKET, IMAGE, make_zip, manifest_lines, run, spec

PROVIDED = {"mode": "provided"}


def gt_line(ref: str, attribute: str, value: Any, metadata: dict[str, Any]) -> str:
    return json.dumps({"source-ref": ref, attribute: value, f"{attribute}-metadata": metadata})


def test_class_folders_become_class_indexes_in_the_specs_order() -> None:
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/dog/1.jpg": IMAGE,
            "datasets/pets/images/cat/2.jpg": IMAGE,
            "datasets/pets/images/cat/deeper/3.jpg": IMAGE,
            "datasets/pets/images/loose.jpg": IMAGE,
            "datasets/pets/dataset.json": spec(labeling=PROVIDED),
        },
    )

    event = run(store)

    assert isinstance(event, DatasetPrepared)
    assert event.manifest_uri.endswith("/labeled.manifest")
    lines = manifest_lines(store, event)
    by_ref = {line["source-ref"].rsplit("/images/", 1)[1]: line for line in lines}
    assert by_ref["dog/1.jpg"]["label"] == 1
    assert by_ref["dog/1.jpg"]["label-metadata"]["class-name"] == "dog"
    assert by_ref["dog/1.jpg"]["label-metadata"]["type"] == "groundtruth/image-classification"
    assert by_ref["cat/deeper/3.jpg"]["label"] == 0
    assert event.label_counts == {"cat": 2, "dog": 1}
    assert event.skipped == {"unlabeled": 1}
    assert event.cost_estimate is None


def test_class_folder_not_in_the_spec_rejects_the_run_naming_file_and_label() -> None:
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/cat/1.jpg": IMAGE,
            "datasets/pets/images/Horse/2.jpg": IMAGE,
            "datasets/pets/dataset.json": spec(labeling=PROVIDED),
        },
    )

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert "images/Horse/2.jpg" in event.reason
    assert "label 'Horse' is not in spec.labels (cat, dog)" in event.reason
    assert not any(key.startswith("runs/") for key in store.objects)


def test_class_folders_cannot_label_object_detection() -> None:
    document = spec(task="object-detection", labeling=PROVIDED)
    store = MemoryStore(
        BUCKET, {"datasets/pets/images/cat/1.jpg": IMAGE, "datasets/pets/dataset.json": document}
    )

    event = run(store)

    assert "Class folders carry no bounding boxes" in event.reason


def test_ground_truth_multilabel_manifest_is_reindexed_to_the_spec_and_failures_skipped() -> None:
    meta = {"type": "groundtruth/image-classification-multilabel", "class-map": {"0": "dog", "1": "cat"}}
    lines = [
        gt_line("s3://data/datasets/pets/images/a.jpg", "animals", [0, 1], meta),
        gt_line("s3://data/datasets/pets/images/b.jpg", "animals", [0], meta),
        gt_line("s3://data/datasets/pets/images/c.jpg", "animals", [], {**meta, "failure-reason": "timeout"}),
    ]
    document = spec(
        task="image-classification-multilabel",
        labels=["cat", "dog"],
        labeling={"mode": "provided", "labels_file": "labels.manifest"},
    )
    store = MemoryStore(
        BUCKET,
        {"datasets/pets/labels.manifest": "\n".join(lines).encode(), "datasets/pets/dataset.json": document},
    )

    event = run(store)

    assert isinstance(event, DatasetPrepared)
    written = manifest_lines(store, event)
    assert [line["label"] for line in written] == [[0, 1], [1]]
    assert written[1]["label-metadata"]["class-map"] == {"1": "dog"}
    assert event.skipped == {"unlabeled": 1}


def test_ground_truth_bounding_box_manifest_keeps_boxes_and_image_size() -> None:
    value = {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [{"class_id": 0, "left": 10, "top": 20, "width": 30, "height": 40}],
    }
    meta = {
        "type": "groundtruth/object-detection",
        "class-map": {"0": "dog"},
        "objects": [{"confidence": 0.9}],
    }
    document = spec(task="object-detection", labeling={"mode": "provided", "labels_file": "boxes.manifest"})
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/boxes.manifest": gt_line("s3://data/x.jpg", "bb", value, meta).encode(),
            "datasets/pets/dataset.json": document,
        },
    )

    event = run(store)

    line = manifest_lines(store, event)[0]
    assert line["label"]["image_size"] == [{"width": 640, "height": 480, "depth": 3}]
    assert line["label"]["annotations"] == [{"class_id": 1, "left": 10, "top": 20, "width": 30, "height": 40}]
    assert line["label-metadata"]["class-map"] == {"1": "dog"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b'{"source-ref": "s3://x/a.jpg", "l": 0, '
            b'"l-metadata": {"type": "groundtruth/image-classification", "class-name": "zebra"}}',
            "labels.manifest line 1: label 'zebra' is not in spec.labels",
        ),
        (b"\n{not json", "labels.manifest line 2: not valid JSON"),
        (b'{"l": 0}', 'labels.manifest line 1: no "source-ref"'),
        (
            b'{"source-ref": "s3://x/a.jpg", "l": {}, '
            b'"l-metadata": {"type": "groundtruth/object-detection"}}',
            "a 'groundtruth/object-detection' label, but the spec's task is image-classification",
        ),
    ],
)
def test_bad_ground_truth_manifest_is_rejected_with_the_line(content: bytes, expected: str) -> None:
    document = spec(labeling={"mode": "provided", "labels_file": "labels.manifest"})
    store = MemoryStore(
        BUCKET, {"datasets/pets/labels.manifest": content, "datasets/pets/dataset.json": document}
    )

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert expected in event.reason


def coco(annotations: list[dict[str, Any]], file_names: list[str]) -> bytes:
    return json.dumps(
        {
            "images": [
                {"id": i + 1, "file_name": name, "width": 100, "height": 50}
                for i, name in enumerate(file_names)
            ],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "fox"}],
            "annotations": annotations,
        }
    ).encode()


def test_coco_boxes_from_label_studio_become_detection_lines() -> None:
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [1.4, 2.6, 10, 20]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 5, 5]},
    ]
    document = spec(task="object-detection", labeling={"mode": "provided", "labels_file": "result.json"})
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/a.jpg": IMAGE,
            "datasets/pets/images/no-annotations.jpg": IMAGE,
            "datasets/pets/result.json": coco(annotations, ["images/a.jpg", "images/no-annotations.jpg"]),
            "datasets/pets/dataset.json": document,
        },
    )

    event = run(store)

    assert isinstance(event, DatasetPrepared)
    first, empty = manifest_lines(store, event)
    assert first["label"]["image_size"] == [{"width": 100, "height": 50, "depth": 3}]
    assert first["label"]["annotations"] == [
        {"class_id": 1, "left": 1, "top": 3, "width": 10, "height": 20},
        {"class_id": 0, "left": 5, "top": 5, "width": 5, "height": 5},
    ]
    assert empty["label"]["annotations"] == []
    assert event.label_counts == {"dog": 1, "cat": 1}


def test_coco_from_cvat_with_bare_file_names_labels_classification() -> None:
    annotations = [{"id": 7, "image_id": 1, "category_id": 2}]
    document = spec(labeling={"mode": "provided", "labels_file": "instances.json"})
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/a.jpg": IMAGE,
            "datasets/pets/images/b.jpg": IMAGE,
            "datasets/pets/instances.json": coco(annotations, ["a.jpg", "b.jpg"]),
            "datasets/pets/dataset.json": document,
        },
    )

    event = run(store)

    assert [line["label"] for line in manifest_lines(store, event)] == [1]
    assert event.skipped == {"unlabeled": 1}


def test_coco_category_not_in_the_spec_rejects_the_run_naming_file_and_label() -> None:
    annotations = [{"id": 9, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}]
    document = spec(task="object-detection", labeling={"mode": "provided", "labels_file": "coco.json"})
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/a.jpg": IMAGE,
            "datasets/pets/coco.json": coco(annotations, ["a.jpg"]),
            "datasets/pets/dataset.json": document,
        },
    )

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert "coco.json for images/a.jpg: label 'fox' is not in spec.labels" in event.reason


def test_missing_labels_file_is_rejected() -> None:
    document = spec(labeling={"mode": "provided", "labels_file": "labels.manifest"})
    store = MemoryStore(BUCKET, {"datasets/pets/dataset.json": document})

    event = run(store)

    assert "labels_file 'labels.manifest' was not found" in event.reason


def test_zip_with_provided_labels_unpacks_the_labels_file() -> None:
    annotations = [{"id": 1, "image_id": 1, "category_id": 1}]
    archive = make_zip(
        {
            "dataset.json": spec(labeling={"mode": "provided", "labels_file": "coco.json"}),
            "coco.json": coco(annotations, ["a.jpg"]),
            "images/a.jpg": IMAGE,
        }
    )
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})

    event = run(store, key="datasets/pets.zip")

    assert isinstance(event, DatasetPrepared)
    assert "datasets/pets/coco.json" in store.objects
    assert [line["label"] for line in manifest_lines(store, event)] == [0]
