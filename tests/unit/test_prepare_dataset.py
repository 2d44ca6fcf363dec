"""prepare_dataset against in-memory fakes: what a person uploading a dataset would see."""

import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import DatasetPrepared, DatasetRejected
from sagechain.guardrails import Guardrails
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import DatasetUpload, dataset_upload
from sagechain.settings import SpecDefaults
from tests.fakes import MemoryStore, RecordingPublisher

BUCKET = "data"
IMAGE = b"\x89PNG\r\n\x1a\nnot-really-a-png"
DEFAULTS = SpecDefaults.from_env(
    {
        "DEFAULT_WORKTEAM_ARN": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
        "DEFAULT_MAX_LABELING_COST_USD": "100",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    }
)
LIMITS = ZipLimits.from_env({})
# The template's defaults (tests/conftest.py), except that the public workforce is allowed:
# its pricing is what several tests here are about.
GUARDRAILS = Guardrails.from_env().model_copy(update={"allow_public_workforce": True})
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PUBLIC_CROWD = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"


def spec(**fields: Any) -> bytes:
    document: dict[str, Any] = {"task": "image-classification", "labels": ["cat", "dog"]}
    document.update(fields)
    return json.dumps(document).encode()


def run(store: MemoryStore, key: str = "datasets/pets/dataset.json", version: str = "v1") -> Any:
    upload = dataset_upload(ObjectRef(bucket=store.bucket, key=key, version_id=version))
    assert upload is not None
    publisher = RecordingPublisher()
    event = prepare_dataset(upload, store, publisher, DEFAULTS, LIMITS, GUARDRAILS, now=lambda: NOW)
    assert publisher.events == [event]
    return event


def manifest_lines(store: MemoryStore, event: DatasetPrepared) -> list[dict[str, Any]]:
    key = event.manifest_uri.removeprefix(f"s3://{store.bucket}/")
    return [json.loads(line) for line in store.objects[key].splitlines()]


def test_folder_dataset_writes_input_manifest_spec_and_prepared_event() -> None:
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/a.jpg": IMAGE,
            "datasets/pets/images/b.png": IMAGE,
            "datasets/pets/dataset.json": spec(),
        },
    )

    event = run(store)

    assert isinstance(event, DatasetPrepared)
    assert event.objects == 2
    assert event.manifest_uri == f"s3://data/runs/{event.run_id}/input.manifest"
    assert manifest_lines(store, event) == [
        {"source-ref": "s3://data/datasets/pets/images/a.jpg"},
        {"source-ref": "s3://data/datasets/pets/images/b.png"},
    ]
    accepted = json.loads(store.objects[f"runs/{event.run_id}/spec.json"])
    assert accepted["labeling"]["workteam_arn"] == DEFAULTS.workteam_arn
    assert accepted["training"]["instance_type"] == "ml.p3.2xlarge"
    assert accepted["deployment"]["instance_type"] == "ml.m5.large"
    assert event.cost_estimate is not None
    assert event.cost_estimate.total_usd == Decimal("0.16")
    info = json.loads(store.objects[f"runs/{event.run_id}/run.json"])
    assert info["dataset"] == "pets"
    assert info["objects"] == 2


def test_mixed_files_are_skipped_and_counted_and_image_suffixes_ignore_case() -> None:
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/UPPER.JPG": IMAGE,
            "datasets/pets/images/Mixed.PnG": IMAGE,
            "datasets/pets/images/x.JPEG": IMAGE,
            "datasets/pets/images/notes.txt": b"hello",
            "datasets/pets/images/.DS_Store": b"junk",
            "datasets/pets/images/empty.jpg": b"",
            "datasets/pets/images/sub/": b"",
            "datasets/pets/images/model.gif": IMAGE,
            "datasets/pets/dataset.json": spec(),
        },
    )

    event = run(store)

    assert isinstance(event, DatasetPrepared)
    assert event.objects == 3
    assert event.skipped == {"not_an_image": 2, "hidden_file": 1, "empty_file": 1, "folder_marker": 1}


def test_keys_with_spaces_plus_percent_and_unicode_are_written_exactly_as_stored() -> None:
    keys = [
        "datasets/pets/images/my cat.jpg",
        "datasets/pets/images/a+b.jpg",
        "datasets/pets/images/100%25 real.png",
        "datasets/pets/images/chat_été_猫.jpeg",
    ]
    store = MemoryStore(BUCKET, {**dict.fromkeys(keys, IMAGE), "datasets/pets/dataset.json": spec()})

    event = run(store)

    refs = {line["source-ref"] for line in manifest_lines(store, event)}
    assert refs == {f"s3://data/{k}" for k in keys}


def test_empty_dataset_is_rejected_with_what_was_found_and_nothing_is_written() -> None:
    objects = {"datasets/pets/images/readme.txt": b"x", "datasets/pets/dataset.json": spec()}
    store = MemoryStore(BUCKET, objects)

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert "No images" in event.reason
    assert "1 not_an_image" in event.reason
    assert store.objects == objects


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (spec(task="segmentation"), "task: Input should be 'image-classification'"),
        (json.dumps({"task": "object-detection"}).encode(), "labels: Field required"),
        (spec(labels=[]), "labels: List should have at least 1 item"),
        (b'{"task": "image-classification", "labels": ["a", "b"],}', "is not valid JSON"),
        (spec(labels=["cat"]), "image-classification needs at least 2 labels"),
        (spec(labelling={"mode": "provided"}), "labelling: Extra inputs are not permitted"),
        (spec(labels=["cat", "cat"]), "labels appear more than once: cat"),
    ],
)
def test_bad_spec_is_rejected_with_the_reason_and_the_dataset_kept(document: bytes, expected: str) -> None:
    objects = {"datasets/pets/images/a.jpg": IMAGE, "datasets/pets/dataset.json": document}
    store = MemoryStore(BUCKET, objects)

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert expected in event.reason
    assert event.dataset_uri == "s3://data/datasets/pets/"
    assert store.objects == objects


def test_ground_truth_without_a_workteam_is_rejected_before_listing() -> None:
    store = MemoryStore(BUCKET, {"datasets/pets/images/a.jpg": IMAGE, "datasets/pets/dataset.json": spec()})
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/pets/dataset.json", version_id="v1"))
    assert upload is not None
    no_team = DEFAULTS.model_copy(update={"workteam_arn": None})

    event = prepare_dataset(
        upload,
        store,
        RecordingPublisher(),
        no_team,
        LIMITS,
        GUARDRAILS.model_copy(update={"default_workteam_arn": None}),
    )

    assert isinstance(event, DatasetRejected)
    assert "needs a workteam" in event.reason


def test_labeling_cost_above_the_limit_rejects_the_run_with_the_estimate() -> None:
    images = {f"datasets/pets/images/{i:05}.jpg": IMAGE for i in range(2_000)}
    labeling = {
        "workteam_arn": PUBLIC_CROWD,
        "workers_per_object": 3,
        "price_per_task_usd": "0.036",
        "max_cost_usd": "90",
    }
    store = MemoryStore(BUCKET, {**images, "datasets/pets/dataset.json": spec(labeling=labeling)})

    event = run(store)

    assert isinstance(event, DatasetRejected)
    # 2,000 x $0.08 Ground Truth fee + 2,000 x 3 workers x $0.036
    assert event.cost_estimate is not None
    assert event.cost_estimate.total_usd == Decimal("376.00")
    assert "$376.00" in event.reason
    assert "max_cost_usd $90" in event.reason
    assert not any(key.startswith("runs/") for key in store.objects)


def test_public_workforce_without_a_listed_price_is_rejected() -> None:
    labeling = {"workteam_arn": PUBLIC_CROWD, "price_per_task_usd": "0.05"}
    store = MemoryStore(
        BUCKET, {"datasets/pets/images/a.jpg": IMAGE, "datasets/pets/dataset.json": spec(labeling=labeling)}
    )

    event = run(store)

    assert isinstance(event, DatasetRejected)
    assert "0.012, 0.024" in event.reason


def test_same_upload_gets_the_same_run_id_and_a_new_version_a_new_one() -> None:
    ref = ObjectRef(bucket=BUCKET, key="datasets/pets/dataset.json", version_id="v1")

    first, again = dataset_upload(ref), dataset_upload(ref)
    newer = dataset_upload(ref.model_copy(update={"version_id": "v2"}))

    assert first is not None
    assert again is not None
    assert newer is not None
    assert first.run_id == again.run_id
    assert newer.run_id != first.run_id
    assert first.run_id.startswith("pets-")


@pytest.mark.parametrize(
    "key",
    [
        "datasets/pets/images/dataset.json",
        "datasets/pets/nested/dataset.json",
        "datasets/pets/images/archive.zip",
        "datasets/.zip",
        "runs/abc/input.manifest",
    ],
)
def test_keys_that_only_look_like_uploads_start_nothing(key: str) -> None:
    assert dataset_upload(ObjectRef(bucket=BUCKET, key=key)) is None


def test_zip_upload_parses_as_a_zip_dataset() -> None:
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/pets.zip", etag="e1"))

    assert isinstance(upload, DatasetUpload)
    assert (upload.dataset, upload.kind) == ("pets", "zip")


def make_zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_dataset_is_unpacked_into_the_folder_then_listed() -> None:
    archive = make_zip(
        {
            "pets/dataset.json": spec(),
            "pets/images/a.jpg": IMAGE,
            "pets/images/sub/b.png": IMAGE,
            "pets/README.md": b"notes",
        }
    )
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})

    event = run(store, key="datasets/pets.zip")

    assert isinstance(event, DatasetPrepared)
    assert store.objects["datasets/pets/images/a.jpg"] == IMAGE
    assert store.objects["datasets/pets/images/sub/b.png"] == IMAGE
    assert "datasets/pets/dataset.json" not in store.objects  # it would start a second run
    assert event.objects == 2
    assert event.skipped == {"outside_images_folder": 1}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../evil.jpg", "a '..' path"),
        ("images/../../../runs/x/input.manifest", "a '..' path"),
        ("/etc/passwd", "an absolute path"),
        ("C:/windows/evil.jpg", "an absolute path"),
    ],
)
def test_zip_with_an_unsafe_path_is_rejected_and_nothing_is_unpacked(name: str, expected: str) -> None:
    archive = make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE, name: IMAGE})
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})

    event = run(store, key="datasets/pets.zip")

    assert isinstance(event, DatasetRejected)
    assert expected in event.reason
    assert repr(name) in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_bomb_by_compression_ratio_is_rejected_before_unpacking() -> None:
    bomb = b"\0" * (20 * 1024 * 1024)
    archive = make_zip({"dataset.json": spec(), "images/bomb.png": bomb}, zipfile.ZIP_DEFLATED)
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})

    event = run(store, key="datasets/pets.zip")

    assert isinstance(event, DatasetRejected)
    assert "zip bomb" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_over_the_total_size_limit_is_rejected() -> None:
    archive = make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE * 100})
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/pets.zip", etag="e"))
    assert upload is not None
    small = ZipLimits.from_env({"ZIP_MAX_TOTAL_BYTES": "1000"})

    event = prepare_dataset(upload, store, RecordingPublisher(), DEFAULTS, small, GUARDRAILS)

    assert isinstance(event, DatasetRejected)
    assert "(limit 1000)" in event.reason


def test_zip_without_a_spec_or_not_a_zip_is_rejected() -> None:
    store = MemoryStore(
        BUCKET, {"datasets/a.zip": make_zip({"images/a.jpg": IMAGE}), "datasets/b.zip": b"not a zip"}
    )

    no_spec = run(store, key="datasets/a.zip")
    not_zip = run(store, key="datasets/b.zip")

    assert "has no dataset.json" in no_spec.reason
    assert "not a readable zip archive" in not_zip.reason
