"""Batch predictions: batch.json bounds, the transform manifest, and the answers mapped to predictions."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sagechain.batch.manifest import (
    ANY_IMAGE,
    TransformManifestStats,
    manifest_images,
    write_transform_manifest,
)
from sagechain.batch.outputs import BatchSummary, output_key, write_predictions
from sagechain.batch.spec import BatchBounds, BatchSpec, instance_type_of, parse_batch_spec
from sagechain.errors import BatchRejectedError
from sagechain.layout import batch_key, uploaded_batch
from sagechain.ports import StoredObject
from sagechain.records import ModelInfo
from tests.fakes import MemoryStore

BOUNDS = BatchBounds(allowed_instance_types=("ml.m5.large", "ml.c5.xlarge"), max_instances=2, max_hours=4)
PREFIX = "batches/flowers/tonight/images/"
OUTPUT = "batches/flowers/tonight/output/"
LABELS = ["daisy", "rose", "tulip"]


def model_info(task: str = "image-classification") -> ModelInfo:
    return ModelInfo.model_validate(
        {
            "model": "flowers",
            "endpoint_name": "sagechain-flowers",
            "task": task,
            "labels": LABELS,
            "algorithm": "builtin",
            "model_name": "sagechain-flowers-1",
            "training_job_name": "sagechain-flowers-1",
            "run_id": "flowers-8b39944c64ac",
            "dataset": "flowers",
            "deployed_at": datetime(2026, 11, 25, tzinfo=UTC),
        }
    )


# --- where a batch lives ---------------------------------------------------------------------


def test_only_batch_json_directly_under_a_batch_starts_it() -> None:
    assert uploaded_batch("batches/flowers/tonight/batch.json") == ("flowers", "tonight")
    assert uploaded_batch("batches/flowers/tonight/images/batch.json") is None
    assert uploaded_batch("batches/flowers/batch.json") is None
    assert uploaded_batch("datasets/flowers/batch.json") is None
    assert batch_key("flowers", "tonight", "predictions.jsonl") == "batches/flowers/tonight/predictions.jsonl"


# --- batch.json --------------------------------------------------------------------------------


def test_an_empty_batch_json_takes_the_defaults() -> None:
    spec = parse_batch_spec(b"{}", BOUNDS)

    assert spec == BatchSpec()
    assert instance_type_of(spec, BOUNDS) == "ml.m5.large"


def test_a_batch_json_within_bounds_is_kept() -> None:
    raw = json.dumps(
        {"k": 2, "threshold": 0.3, "instance_type": "ml.c5.xlarge", "instance_count": 2}
    ).encode()

    spec = parse_batch_spec(raw, BOUNDS)

    assert (spec.k, spec.threshold, instance_type_of(spec, BOUNDS), spec.instance_count) == (
        2,
        0.3,
        "ml.c5.xlarge",
        2,
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"k": 0}', "k:"),
        (b'{"colour": "red"}', "colour"),
        (b'{"instance_type": "ml.p4d.24xlarge"}', "AllowedEndpointInstanceTypes"),
        (b'{"instance_count": 3}', "MaxEndpointInstances"),
        (b'{"max_runtime_minutes": 241}', "MaxBatchHours"),
    ],
)
def test_a_bad_batch_json_is_rejected_with_what_to_fix(raw: bytes, says: str) -> None:
    with pytest.raises(BatchRejectedError) as caught:
        parse_batch_spec(raw, BOUNDS)

    assert says in caught.value.reason


# --- the transform manifest ------------------------------------------------------------------


def build(
    objects: dict[str, bytes], task: str = "image-classification"
) -> tuple[MemoryStore, TransformManifestStats]:
    store = MemoryStore(objects=objects)
    writer = store.open_writer("batches/flowers/tonight/transform.manifest", "application/json")
    stats = write_transform_manifest(store.iter_objects(PREFIX), PREFIX, store.uri(PREFIX), writer, task)
    return store, stats


def test_the_manifest_lists_the_images_relative_to_the_prefix_and_skips_other_files() -> None:
    store, stats = build(
        {
            PREFIX + "a.jpg": b"x",
            PREFIX + "sub/b.PNG": b"x",
            PREFIX + "notes.txt": b"x",
            PREFIX + "empty.jpg": b"",
            "batches/flowers/tonight/batch.json": b"{}",
        }
    )

    written = store.objects["batches/flowers/tonight/transform.manifest"]
    assert json.loads(written) == [{"prefix": f"s3://bucket/{PREFIX}"}, "a.jpg", "sub/b.PNG"]
    assert list(manifest_images(written.splitlines())) == ["a.jpg", "sub/b.PNG"]
    assert stats.images == 2
    assert dict(stats.skipped) == {"not an image (.jpg, .jpeg, .png)": 1, "empty file": 1}
    assert stats.content_type("image-classification") == ANY_IMAGE


def test_the_manifest_streams_one_key_at_a_time() -> None:
    def listing() -> Iterator[StoredObject]:
        for i in range(10_000):
            yield StoredObject(f"{PREFIX}{i:05}.jpg", 10)

    class CountingWriter:
        def __init__(self) -> None:
            self.writes, self.largest, self.committed = 0, 0, False

        def write(self, data: bytes) -> None:
            self.writes += 1
            self.largest = max(self.largest, len(data))

        def commit(self) -> None:
            self.committed = True

        def abort(self) -> None:
            raise AssertionError("aborted")

    writer = CountingWriter()

    stats = write_transform_manifest(listing(), PREFIX, f"s3://bucket/{PREFIX}", writer, "object-detection")

    assert stats.images == 10_000
    assert writer.committed
    assert writer.writes == 10_002
    assert writer.largest < 100


def test_an_empty_prefix_is_rejected_and_nothing_is_written() -> None:
    with pytest.raises(BatchRejectedError) as caught:
        build({PREFIX + "readme.md": b"x"})

    assert "no images" in caught.value.reason
    assert "1 other files skipped" in caught.value.reason


def test_an_object_detection_batch_takes_the_one_format_it_has_and_rejects_a_mix() -> None:
    _, jpegs = build({PREFIX + "a.jpg": b"x", PREFIX + "b.jpeg": b"x"}, "object-detection")

    assert jpegs.content_type("object-detection") == "image/jpeg"
    with pytest.raises(BatchRejectedError, match="two batches"):
        build({PREFIX + "a.jpg": b"x", PREFIX + "b.png": b"x"}, "object-detection")


# --- the answers as predictions --------------------------------------------------------------


def predictions(
    task: str, answers: dict[str, bytes], images: list[str], k: int = 1
) -> tuple[list[dict[str, object]], BatchSummary]:
    store = MemoryStore(objects={output_key(OUTPUT, image): body for image, body in answers.items()})
    writer = store.open_writer("predictions.jsonl", "application/x-ndjson")
    summary = write_predictions(
        model_info(task),
        images,
        PREFIX,
        OUTPUT,
        lambda key: store.read_bytes(key, 1 << 20),
        writer,
        k=k,
        threshold=0.5,
    )
    lines = [json.loads(line) for line in store.objects["predictions.jsonl"].splitlines()]
    return lines, summary


def test_image_classification_answers_become_the_top_labels_as_the_api_answers_them() -> None:
    lines, summary = predictions(
        "image-classification",
        {"a.jpg": b"[0.1, 0.7, 0.2]", "b.jpg": b'{"prediction": [0.8, 0.1, 0.1]}'},
        ["a.jpg", "b.jpg"],
    )

    assert lines == [
        {"image": PREFIX + "a.jpg", "predictions": [{"label": "rose", "score": 0.7}]},
        {"image": PREFIX + "b.jpg", "predictions": [{"label": "daisy", "score": 0.8}]},
    ]
    assert summary.label_counts == {"daisy": 1, "rose": 1}


def test_object_detection_answers_become_boxes_over_the_threshold() -> None:
    answer = {
        "prediction": [[2.0, 0.9, 0.1, 0.2, 0.5, 0.6], [0.0, 0.3, 0, 0, 1, 1], [-1.0, 0.99, 0, 0, 1, 1]]
    }

    lines, summary = predictions("object-detection", {"a.jpg": json.dumps(answer).encode()}, ["a.jpg"])

    assert lines == [
        {
            "image": PREFIX + "a.jpg",
            "predictions": [
                {"label": "tulip", "score": 0.9, "xmin": 0.1, "ymin": 0.2, "xmax": 0.5, "ymax": 0.6}
            ],
        }
    ]
    assert summary.label_counts == {"tulip": 1}


def test_images_without_a_readable_answer_are_counted_as_failed_with_the_reason() -> None:
    lines, summary = predictions(
        "image-classification",
        {"a.jpg": b"[0.1, 0.7, 0.2]", "b.jpg": b"not json"},
        ["a.jpg", "b.jpg", "c.jpg"],
    )

    assert [line["image"] for line in lines] == [PREFIX + "a.jpg"]
    assert (summary.images, summary.scored, summary.failed) == (3, 1, 2)
    reasons = {failed.image: failed.reason for failed in summary.failed_images}
    assert "not JSON" in reasons[PREFIX + "b.jpg"]
    assert "no answer" in reasons[PREFIX + "c.jpg"]
