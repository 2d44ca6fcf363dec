"""prepare_dataset against in-memory fakes: what a person uploading a dataset would see."""

import io
import json
import os
import re
import stat
import struct
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
from sagechain.manifest import source_ref_line, source_ref_lines
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
        "DEFAULT_ENDPOINT_TTL_HOURS": "0",
    }
)
LIMITS = ZipLimits.from_env({})
# The template's defaults (tests/conftest.py), except that the public workforce is allowed:
# its pricing is what several tests here are about.
GUARDRAILS = Guardrails.from_env().model_copy(update={"allow_public_workforce": True})
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PUBLIC_CROWD = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"


def spec(**fields: Any) -> bytes:
    document: dict[str, Any] = {
        "task": "image-classification",
        "labels": ["cat", "dog"],
    }
    document.update(fields)
    # These runs are about Ground Truth unless a test names another mode.
    document["labeling"] = {"mode": "ground-truth", **fields.get("labeling", {})}
    return json.dumps(document).encode()


def run(
    store: MemoryStore,
    key: str = "datasets/pets/dataset.json",
    version: str = "v1",
    uploaded_by: str | None = None,
) -> Any:
    ref = ObjectRef(bucket=store.bucket, key=key, version_id=version, uploaded_by=uploaded_by)
    upload = dataset_upload(ref)
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


def test_a_pages_lines_are_each_keys_own_line_whatever_the_key_holds() -> None:
    keys = [
        'images/say "hi", "bye".jpg',
        'images/ends with a backslash\\", "x.jpg',
        "images/tab\tnew\nline\u2028.jpg",
        "images/日本語 🐱.png",
        "images/<&>'.jpg",
    ]

    lines = source_ref_lines("data", keys)

    assert lines == b"".join(source_ref_line(f"s3://data/{key}") for key in keys)
    assert [json.loads(line)["source-ref"] for line in lines.splitlines()] == [f"s3://data/{k}" for k in keys]
    assert source_ref_lines("data", []) == b""


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
        ("\\evil.jpg", "an absolute path"),
        ("images\\..\\..\\evil.jpg", "a '..' path"),
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


def test_the_uploader_is_recorded_in_the_run_and_its_event_and_in_a_rejection() -> None:
    store = MemoryStore(BUCKET, {"datasets/pets/images/a.jpg": IMAGE, "datasets/pets/dataset.json": spec()})

    prepared = run(store, uploaded_by="AWS:AIDAEXAMPLE")

    assert isinstance(prepared, DatasetPrepared)
    assert prepared.uploaded_by == "AWS:AIDAEXAMPLE"
    info = json.loads(store.objects[f"runs/{prepared.run_id}/run.json"])
    assert info["uploaded_by"] == "AWS:AIDAEXAMPLE"
    store.objects["datasets/pets/dataset.json"] = b"{not json"
    rejected = run(store, version="v2", uploaded_by="AWS:AIDAOTHER")
    assert isinstance(rejected, DatasetRejected)
    assert rejected.uploaded_by == "AWS:AIDAOTHER"


def end_record_at(archive: bytes) -> int:
    return archive.rindex(b"PK\x05\x06")


def declaring_entries(archive: bytes, entries: int) -> bytes:
    """The archive with its end record's entry counts (16-bit) replaced."""
    at = end_record_at(archive)
    return archive[: at + 8] + struct.pack("<2H", entries, entries) + archive[at + 12 :]


def with_zip64_end(archive: bytes, entries: int) -> bytes:
    """The archive with ZIP64 end records that declare `entries`, as zip tools write past 65,535."""
    at = end_record_at(archive)
    size, offset = struct.unpack_from("<2L", archive, at + 12)
    zip64_end = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return archive[:at] + zip64_end + locator + end


def run_zip(archive: bytes, limits: ZipLimits = LIMITS) -> tuple[Any, MemoryStore]:
    store = MemoryStore(BUCKET, {"datasets/pets.zip": archive})
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/pets.zip", version_id="v1"))
    assert upload is not None
    event = prepare_dataset(
        upload, store, RecordingPublisher(), DEFAULTS, limits, GUARDRAILS, now=lambda: NOW
    )
    return event, store


def test_zip_whose_end_record_declares_too_many_entries_is_rejected_before_its_directory_is_read() -> None:
    # Given an archive of three entries whose end record declares 65,535 (the directory is not parsed,
    # so only the declared count can reject it)
    archive = declaring_entries(
        make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE, "images/b.jpg": IMAGE}), 0xFFFF
    )
    # When it is prepared with a limit of 1,000 entries
    event, store = run_zip(archive, ZipLimits.from_env({"ZIP_MAX_ENTRIES": "1000"}))
    # Then it is rejected for its entry count and nothing is written
    assert isinstance(event, DatasetRejected)
    assert "has 65535 entries; at most 1000 are unpacked" in event.reason
    assert "as a folder" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_whose_zip64_end_record_declares_too_many_entries_is_rejected() -> None:
    # Given an archive whose ZIP64 end record declares 1,000,000 entries
    archive = with_zip64_end(make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE}), 1_000_000)
    # When it is prepared with the default limit (200,000)
    event, store = run_zip(archive)
    # Then the ZIP64 count is the one checked
    assert isinstance(event, DatasetRejected)
    assert "has 1000000 entries; at most 200000 are unpacked" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip64_end_records_within_the_limits_are_read_like_zipfile_reads_them() -> None:
    # Given a valid archive with ZIP64 end records
    archive = with_zip64_end(make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE}), 2)
    # When it is prepared
    event, store = run_zip(archive)
    # Then it is unpacked
    assert isinstance(event, DatasetPrepared)
    assert store.objects["datasets/pets/images/a.jpg"] == IMAGE


def test_zip_with_more_directory_records_than_declared_is_counted_before_zipfile_parses_them() -> None:
    # Given ten entries whose end record declares one, and whose records after the sixth are
    # corrupt (zipfile, were it to parse the directory, would fail on them instead)
    entries = {"dataset.json": spec()} | {f"images/{i}.jpg": IMAGE for i in range(9)}
    archive = bytearray(declaring_entries(make_zip(entries), 1))
    records = [m.start() for m in re.finditer(b"PK\x01\x02", archive)]
    for at in records[6:]:
        archive[at : at + 2] = b"XX"
    # When it is prepared with a limit of five entries
    event, store = run_zip(bytes(archive), ZipLimits.from_env({"ZIP_MAX_ENTRIES": "5"}))
    # Then the walk over the directory's records rejects it
    assert isinstance(event, DatasetRejected)
    assert "has more than 5 entries" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_whose_directory_is_larger_than_its_entry_limit_allows_is_rejected() -> None:
    # Given three entries with 1,000-character paths (a directory of about 3 KB)
    long = "images/" + "x" * 990 + ".jpg"
    archive = make_zip({"dataset.json": spec(), long: IMAGE, long.replace("x", "y"): IMAGE})
    # When it is prepared with a limit of five entries (1,600 bytes of directory)
    event, store = run_zip(archive, ZipLimits.from_env({"ZIP_MAX_ENTRIES": "5"}))
    # Then the directory's size rejects it before it is read
    assert isinstance(event, DatasetRejected)
    assert "(its central directory) is" in event.reason
    assert "at most 1600 are read" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


@pytest.mark.parametrize("name", ["dataset.json", "images/a.jpg"])
def test_zip_holding_a_name_twice_is_rejected_and_nothing_is_unpacked(name: str) -> None:
    # Given an archive holding `name` twice (zipfile would read the last copy)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dataset.json", spec())
        archive.writestr("images/a.jpg", IMAGE)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr(name, spec(labels=["fox", "owl"]) if name == "dataset.json" else IMAGE + b"2")
    # When it is prepared
    event, store = run_zip(buffer.getvalue())
    # Then it is rejected naming the duplicate, and nothing is written
    assert isinstance(event, DatasetRejected)
    assert f"holds {name!r} more than once" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def directory_records(archive: bytes) -> tuple[bytes, list[bytes]]:
    """The bytes before the central directory, and its records (for archives without comments)."""
    at = end_record_at(archive)
    size, offset = struct.unpack_from("<2L", archive, at + 12)
    starts = [m.start() + offset for m in re.finditer(b"PK\x01\x02", archive[offset : offset + size])]
    return archive[:offset], [archive[a:b] for a, b in zip(starts, [*starts[1:], offset + size], strict=True)]


def with_directory(body: bytes, records: list[bytes]) -> bytes:
    directory = b"".join(records)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(records), len(records), len(directory), len(body), 0
    )
    return body + directory + end


def test_zip_with_overlapping_entries_is_rejected_before_any_entry_is_written() -> None:
    # Given images/a.jpg whose stored data is images/b.jpg's whole local entry, and a directory
    # listing b (inside a's bytes) before a: zipfile would write b, then fail on a
    inner_body, (inner_record,) = directory_records(make_zip({"images/b.jpg": IMAGE}))
    body, (spec_record, a_record) = directory_records(
        make_zip({"dataset.json": spec(), "images/a.jpg": inner_body})
    )
    a_offset = struct.unpack_from("<L", a_record, 42)[0]
    b_record = bytearray(inner_record)
    struct.pack_into("<L", b_record, 42, a_offset + 30 + len("images/a.jpg"))
    archive = with_directory(body, [spec_record, bytes(b_record), a_record])
    # When it is prepared
    event, store = run_zip(archive)
    # Then the overlap rejects it before b is written
    assert list(store.objects) == ["datasets/pets.zip"]
    assert isinstance(event, DatasetRejected)
    assert "'images/a.jpg' shares bytes with 'images/b.jpg'" in event.reason


def test_zip_entry_running_into_the_directory_is_rejected() -> None:
    # Given an entry whose declared compressed size runs past the start of the directory
    body, (spec_record, a_record) = directory_records(
        make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE})
    )
    longer = bytearray(a_record)
    struct.pack_into("<2L", longer, 20, len(IMAGE) + 100, len(IMAGE) + 100)
    # When it is prepared
    event, store = run_zip(with_directory(body, [spec_record, bytes(longer)]))
    # Then it is rejected as overlapping the directory
    assert isinstance(event, DatasetRejected)
    assert "shares bytes with the archive's directory" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024], ids=["the 64 KiB floor", "exactly 1 MiB"])
def test_zip_entry_from_the_ratio_floor_up_that_expands_too_much_is_rejected(size: int) -> None:
    # Given an entry of zeros (hundreds of times smaller deflated) beside 2 MiB of
    # incompressible images, so the archive as a whole expands under 2x
    archive = make_zip(
        {
            "dataset.json": spec(),
            "images/bomb.png": b"\0" * size,
            "images/a.png": os.urandom(2 << 20),
        },
        zipfile.ZIP_DEFLATED,
    )
    # When it is prepared
    event, store = run_zip(archive)
    # Then the entry's own ratio rejects it
    assert isinstance(event, DatasetRejected)
    assert "entry 'images/bomb.png' expands" in event.reason
    assert "(limit 100x)" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_of_many_small_entries_that_expand_too_much_in_all_is_rejected() -> None:
    # Given 200 entries of 60 KiB of zeros: each is under the per-entry floor
    archive = make_zip(
        {"dataset.json": spec()} | {f"images/{i}.png": b"\0" * (60 * 1024) for i in range(200)},
        zipfile.ZIP_DEFLATED,
    )
    # When it is prepared
    event, store = run_zip(archive)
    # Then the archive's overall ratio rejects it
    assert isinstance(event, DatasetRejected)
    assert "x in all (12288" in event.reason
    assert "zip bomb" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_with_small_very_compressible_files_is_not_taken_for_a_bomb() -> None:
    # Given a 40 KiB repetitive labels file (over 100x on its own) beside an incompressible image
    labels = b'{"source-ref": "s3://data/datasets/pets/images/a.png", "label": 0}\n' * 600
    archive = make_zip(
        {"dataset.json": spec(), "labels.txt": labels, "images/a.png": os.urandom(64 * 1024)},
        zipfile.ZIP_DEFLATED,
    )
    # When it is prepared
    event, _ = run_zip(archive)
    # Then it is unpacked
    assert isinstance(event, DatasetPrepared)


def test_zip_images_folder_holding_a_spec_an_archive_or_other_files_unpacks_only_its_images() -> None:
    # Given an images folder that also holds a dataset.json, a zip, a hidden file and notes
    archive = make_zip(
        {
            "dataset.json": spec(),
            "images/a.jpg": IMAGE,
            "images/x/dataset.json": spec(),
            "images/nested.zip": make_zip({"dataset.json": spec()}),
            "images/.DS_Store": b"\0\0\0\1Bud1",
            "images/notes.txt": b"taken in May",
        }
    )
    # When it is prepared
    event, store = run_zip(archive)
    # Then only the image is written (the others would trip this function's own deny and
    # trigger), and the rest are counted as skipped
    assert isinstance(event, DatasetPrepared)
    assert [key for key in store.objects if key.startswith("datasets/pets/")] == [
        "datasets/pets/images/a.jpg"
    ]
    assert event.objects == 1
    assert event.skipped == {"not_an_image": 3, "hidden_file": 1}


def test_zip_symbolic_link_entry_is_rejected_and_nothing_is_unpacked() -> None:
    # Given an archive whose images/ holds a symbolic link (S_IFLNK in the entry's Unix mode)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dataset.json", spec())
        link = zipfile.ZipInfo("images/link.jpg")
        link.create_system = 3  # Unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../../../etc/passwd")
    # When it is prepared
    event, store = run_zip(buffer.getvalue())
    # Then the link rejects it
    assert isinstance(event, DatasetRejected)
    assert "entry 'images/link.jpg' is a symbolic link" in event.reason
    assert list(store.objects) == ["datasets/pets.zip"]


def test_zip_is_read_at_the_version_the_event_names_not_the_latest() -> None:
    # Given datasets/pets.zip uploaded as v1, then overwritten with another archive
    uploaded = make_zip({"dataset.json": spec(), "images/uploaded.jpg": IMAGE})
    latest = make_zip({"dataset.json": spec(), "images/latest.jpg": IMAGE})
    store = MemoryStore(BUCKET, {"datasets/pets.zip": uploaded})
    store.objects["datasets/pets.zip"] = latest
    # When v1's event is prepared
    event = run(store, key="datasets/pets.zip", version="v1")
    # Then v1's images are the ones unpacked
    assert isinstance(event, DatasetPrepared)
    assert "datasets/pets/images/uploaded.jpg" in store.objects
    assert "datasets/pets/images/latest.jpg" not in store.objects


def test_zip_entry_in_a_compression_zipfile_cannot_read_is_rejected_before_anything_is_unpacked() -> None:
    # Given an archive whose image entry claims compression method 99 (AES, which zipfile cannot read)
    archive = bytearray(make_zip({"dataset.json": spec(), "images/a.jpg": IMAGE}))
    directory = archive.rindex(b"PK\x01\x02")
    archive[directory + 10 : directory + 12] = (99).to_bytes(2, "little")
    # When it is prepared
    event, store = run_zip(bytes(archive))
    # Then it is rejected with the method named, and nothing is unpacked
    assert isinstance(event, DatasetRejected)
    assert "compression method 99" in event.reason
    assert not [key for key in store.objects if key.startswith("datasets/pets/")]
