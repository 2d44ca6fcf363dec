"""The train/validation split: same input same split, every class in proportion, bad lines counted."""

import json
import random

import pytest

from sagechain.spec import TaskType
from sagechain.training.manifest_split import SplitResult, StratifiedSplitter, split_manifest
from tests.fakes import MemoryStore, MemoryWriter
from tests.runs import classification_lines, detection_lines, provided_spec

LABELS = ["rose", "tulip", "daisy"]
SINGLE = provided_spec(TaskType.IMAGE_CLASSIFICATION, LABELS)
MULTI = provided_spec(TaskType.IMAGE_CLASSIFICATION_MULTILABEL, LABELS)
DETECTION = provided_spec(TaskType.OBJECT_DETECTION, LABELS)


def split(
    manifest: bytes, task: TaskType = TaskType.IMAGE_CLASSIFICATION, fraction: float = 0.2
) -> tuple[SplitResult, list[bytes], list[bytes]]:
    store = MemoryStore()
    train, validation = MemoryWriter(store, "train"), MemoryWriter(store, "validation")
    result = split_manifest(manifest.splitlines(), task, "label", len(LABELS), fraction, train, validation)
    train.commit()
    validation.commit()
    return result, store.objects["train"].splitlines(), store.objects["validation"].splitlines()


def class_of(line: bytes) -> int:
    return int(json.loads(line)["label"])


def test_the_same_manifest_always_splits_the_same_way() -> None:
    rng = random.Random(7)  # noqa: S311 - shuffled test data, not a secret
    labels = [[rng.choice(LABELS)] for _ in range(500)]
    manifest = classification_lines(SINGLE, "bucket", labels)

    first = split(manifest)
    second = split(manifest)

    assert first[1] == second[1]
    assert first[2] == second[2]


def test_every_class_gets_its_share_of_validation_whatever_the_order() -> None:
    # 100 roses, 37 tulips, 5 daisies, grouped by class as class folders list them.
    labels = [["rose"]] * 100 + [["tulip"]] * 37 + [["daisy"]] * 5
    manifest = classification_lines(SINGLE, "bucket", labels)

    result, train, validation = split(manifest, fraction=0.2)

    held = [class_of(line) for line in validation]
    # round(0.2 * n) per class: 20 of 100, 7 of 37 (7.4), 1 of 5.
    assert [held.count(k) for k in range(3)] == [20, 7, 1]
    assert result.class_counts == {0: (80, 20), 1: (30, 7), 2: (4, 1)}
    assert (result.train, result.validation) == (len(train), len(validation)) == (114, 28)


def test_validation_images_are_spread_through_a_class_not_taken_from_its_end() -> None:
    manifest = classification_lines(SINGLE, "bucket", [["rose"]] * 10)

    _, _, validation = split(manifest, fraction=0.2)

    # Systematic sampling: the 3rd and 8th of ten, one in each half.
    assert [json.loads(line)["source-ref"][-8:] for line in validation] == ["0002.jpg", "0007.jpg"]


@pytest.mark.parametrize(
    ("fraction", "lines", "held"), [(0.1, 30, 3), (0.3, 10, 3), (0.25, 8, 2), (0.5, 3, 2)]
)
def test_fractions_are_exact_not_rounded_by_floating_point(fraction: float, lines: int, held: int) -> None:
    manifest = classification_lines(SINGLE, "bucket", [["rose"]] * lines)

    result, _, _ = split(manifest, fraction=fraction)

    assert result.validation == held


def test_a_class_with_a_single_image_keeps_it_for_training() -> None:
    manifest = classification_lines(SINGLE, "bucket", [["rose"]] * 10 + [["daisy"]])

    result, _, _ = split(manifest, fraction=0.2)

    assert result.class_counts[2] == (1, 0)


def test_multi_label_lines_keep_every_class_within_two_lines_of_its_share() -> None:
    rng = random.Random(11)  # noqa: S311 - shuffled test data, not a secret
    labels = [rng.sample(LABELS, rng.randint(1, 3)) for _ in range(2_000)]
    manifest = classification_lines(MULTI, "bucket", labels)

    result, _, _ = split(manifest, TaskType.IMAGE_CLASSIFICATION_MULTILABEL, fraction=0.2)

    assert len(result.class_counts) == 3
    for train_count, held in result.class_counts.values():
        assert abs(held - 0.2 * (train_count + held)) <= 2


def test_detection_counts_boxes_and_keeps_images_without_objects() -> None:
    manifest = detection_lines(DETECTION, "bucket", [["rose", "rose", "tulip"], [], ["daisy"]] * 5)

    result, train, validation = split(manifest, TaskType.OBJECT_DETECTION, fraction=0.2)

    assert result.max_boxes == 3
    assert len(train) + len(validation) == 15
    assert result.class_counts[-1] == (4, 1)


def test_lines_that_cannot_train_are_dropped_and_counted_by_reason() -> None:
    good = classification_lines(SINGLE, "bucket", [["rose"], ["tulip"]])
    bad = b"\n".join(
        [
            b"not json",
            b"[1, 2]",
            b'{"label": 0, "label-metadata": {}}',
            b'{"source-ref": "s3://bucket/a.jpg"}',
            b'{"source-ref": "s3://bucket/b.jpg", "label-metadata": {"failure-reason": "ClientError: x"}}',
            b'{"source-ref": "s3://bucket/c.jpg", "label": 7}',
            b'{"source-ref": "s3://bucket/d.jpg", "label": true}',
            b"",
        ]
    )

    result, train, validation = split(good + bad)

    assert dict(result.dropped) == {
        "not_json": 2,
        "no_source_ref": 1,
        "no_label": 1,
        "failed_label": 1,
        "unknown_class": 1,
        "malformed_label": 1,
    }
    assert len(train) + len(validation) == 2


def test_a_long_stream_is_split_exactly_per_class() -> None:
    splitter = StratifiedSplitter(0.2)

    picks = [splitter.to_validation((i % 3,)) for i in range(30_000)]

    assert sum(picks) == 6_000
    assert splitter.class_counts() == {0: (8_000, 2_000), 1: (8_000, 2_000), 2: (8_000, 2_000)}


def test_a_byte_order_mark_or_stray_bytes_never_change_what_a_line_trains_as() -> None:
    """The fast single-label reading agrees with the full one: a BOM is read through, while a line
    that is not UTF-8 JSON, carries extra data, names a failed label or a class outside the spec
    is dropped for the same reason as before."""
    good = classification_lines(SINGLE, "bucket", [["rose"], ["tulip"], ["daisy"], ["rose"]]).splitlines()
    failed = json.loads(good[1])
    failed["label-metadata"]["failure-reason"] = "ClientError: worker timed out"
    lines = [
        b"\xef\xbb\xbf" + good[0],
        good[1] + b" {}",
        b"\xff\xfe not utf-8",
        json.dumps(failed).encode(),
        good[2].replace(b'"label":2', b'"label":7'),
        good[3],
    ]

    result, train, validation = split(b"\n".join(lines))

    assert result.train + result.validation == 2
    assert dict(result.dropped) == {"not_json": 2, "failed_label": 1, "unknown_class": 1}
    assert sorted(class_of(line) for line in train + validation) == [0, 0]
