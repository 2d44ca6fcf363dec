"""start_batch: an upload of batch.json becomes one validated transform job, or a rejection."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from sagechain.batch.spec import BatchBounds
from sagechain.batch.start_batch import BatchConfig, start_batch
from sagechain.errors import RequestRefusedError
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import BatchFailed, BatchRejected, BatchStarted
from sagechain.records import BatchRecord, ModelInfo
from tests.fakes import MemoryStore, RecordingPublisher
from tests.unit.test_expiry import RecordingSchedules

MODEL = "sagechain-flowers"
KEY = f"batches/{MODEL}/tonight/batch.json"
IMAGES = f"batches/{MODEL}/tonight/images/"
NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)
CONFIG = BatchConfig(
    name_prefix="sagechain",
    stack_name="sagechain",
    bounds=BatchBounds(allowed_instance_types=("ml.m5.large", "ml.c5.xlarge"), max_instances=2, max_hours=4),
    price_overrides={},
)
_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


class FakeTransformJobs:
    """CreateTransformJob validated against botocore's model; names taken once."""

    region = "us-east-1"

    def __init__(self, models: set[str] | None = None, refuse: RequestRefusedError | None = None) -> None:
        self.models = {"sagechain-flowers-1-model"} if models is None else models
        self.jobs: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.refuse = refuse

    def model_exists(self, name: str) -> bool:
        return name in self.models

    def create_transform_job(self, request: dict[str, Any]) -> bool:
        validate_parameters(request, _SAGEMAKER.operation_model("CreateTransformJob").input_shape)
        self.creates += 1
        if self.refuse is not None:
            raise self.refuse
        if request["TransformJobName"] in self.jobs:
            return False
        self.jobs[request["TransformJobName"]] = request
        return True

    def console_url(self, name: str) -> str:
        return f"https://console/transform-jobs/{name}"


def live_model(task: str = "image-classification", **overrides: object) -> bytes:
    info = ModelInfo.model_validate(
        {
            "model": MODEL,
            "endpoint_name": MODEL,
            "task": task,
            "labels": ["daisy", "rose"],
            "algorithm": "builtin",
            "model_name": "sagechain-flowers-1-model",
            "training_job_name": "sagechain-flowers-1-train",
            "run_id": "flowers-8b39944c64ac",
            "dataset": "flowers",
            "deployed_at": NOW,
            **overrides,
        }
    )
    return info.model_dump_json().encode()


def upload(
    batch_json: bytes = b"{}", images: dict[str, bytes] | None = None, model: bytes | None = None
) -> MemoryStore:
    objects = {
        KEY: batch_json,
        **{IMAGES + k: v for k, v in (images or {"a.jpg": b"x", "b.png": b"x"}).items()},
    }
    objects[f"models/{MODEL}/model.json"] = live_model() if model is None else model
    return MemoryStore("sagechain-data", objects)


def run(
    store: MemoryStore,
    sagemaker: FakeTransformJobs | None = None,
    etag: str = "e1",
    deadlines: RecordingSchedules | None = None,
) -> tuple[Any, RecordingPublisher, FakeTransformJobs]:
    sagemaker = sagemaker or FakeTransformJobs()
    publisher = RecordingPublisher()
    ref = ObjectRef(bucket=store.bucket, key=KEY, etag=etag)
    event = start_batch(ref, store, sagemaker, publisher, CONFIG, NOW, deadlines or RecordingSchedules())
    return event, publisher, sagemaker


def test_batch_json_starts_one_tagged_transform_job_over_a_manifest_of_the_images() -> None:
    store = upload(images={"a.jpg": b"x", "b.png": b"x", "notes.txt": b"x"})

    event, publisher, sagemaker = run(store)

    assert isinstance(event, BatchStarted)
    [request] = sagemaker.jobs.values()
    assert request["TransformJobName"] == event.transform_job_name
    assert request["TransformJobName"].startswith("sagechain-batch-tonight-")
    assert request["ModelName"] == "sagechain-flowers-1-model"
    assert (request["BatchStrategy"], request["TransformInput"]["SplitType"]) == ("SingleRecord", "None")
    assert request["TransformInput"]["ContentType"] == "application/x-image"
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    assert source["S3DataType"] == "ManifestFile"
    manifest = json.loads(store.objects[source["S3Uri"].removeprefix("s3://sagechain-data/")])
    assert manifest == [{"prefix": f"s3://sagechain-data/{IMAGES}"}, "a.jpg", "b.png"]
    assert request["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags == {
        "sagechain:run-id": "flowers-8b39944c64ac",
        "sagechain:stack": "sagechain",
        "sagechain:batch": f"{MODEL}/tonight",
    }
    assert event.skipped == {"not an image (.jpg, .jpeg, .png)": 1}
    assert event.cost_estimate is not None
    assert event.cost_estimate.max_usd == Decimal("0.12")
    assert publisher.events == [event]
    record = BatchRecord.model_validate_json(store.objects[f"models/{MODEL}/batches/tonight.json"])
    assert (record.status, record.images, record.scored_by.labels) == ("InProgress", 2, ["daisy", "rose"])


def test_a_duplicate_delivery_is_one_transform_job_and_one_event() -> None:
    store = upload()
    _, first, sagemaker = run(store)

    again, second, _ = run(store, sagemaker)

    assert again is None
    assert (len(sagemaker.jobs), len(first.events), len(second.events)) == (1, 1, 0)


def test_a_crash_before_the_record_is_written_finds_its_job_already_created() -> None:
    store = upload()
    sagemaker = FakeTransformJobs()
    run(store, sagemaker)
    del store.objects[f"models/{MODEL}/batches/tonight.json"]

    event, _, _ = run(store, sagemaker)

    assert isinstance(event, BatchStarted)
    assert (len(sagemaker.jobs), sagemaker.creates) == (1, 2)


@pytest.mark.parametrize(
    ("store", "says"),
    [
        (upload(b'{"instance_count": 5}'), "MaxEndpointInstances"),
        (upload(b"{oops"), "not JSON"),
        (upload(images={"readme.md": b"x"}), "no images"),
        (upload(model=live_model(deleted_at=NOW.isoformat())), "was deleted"),
        (upload(model=live_model(algorithm="custom")), "custom container"),
        (upload(b'{"training_job_name": "someone-else"}'), "neither the live model's"),
        (upload(model=live_model("object-detection")), "two batches"),
    ],
)
def test_bad_input_is_rejected_nothing_is_started_and_the_upload_is_kept(
    store: MemoryStore, says: str
) -> None:
    before = dict(store.objects)

    event, publisher, sagemaker = run(store)

    assert isinstance(event, BatchRejected)
    assert says in event.reason
    assert publisher.events == [event]
    assert sagemaker.creates == 0
    assert dict(store.objects) == before


def test_a_batch_for_an_unknown_model_is_rejected_under_its_own_id() -> None:
    store = upload()
    del store.objects[f"models/{MODEL}/model.json"]

    event, _, _ = run(store)

    assert isinstance(event, BatchRejected)
    assert event.run_id == event.batch_id
    assert event.dataset == MODEL
    assert "no models/sagechain-flowers/model.json" in event.reason


def test_a_model_that_no_longer_exists_in_sagemaker_is_rejected() -> None:
    event, _, _ = run(upload(), FakeTransformJobs(models=set()))

    assert isinstance(event, BatchRejected)
    assert "no longer exists" in event.reason


def test_a_refused_transform_job_fails_the_batch_with_the_cause_and_fix() -> None:
    refusal = RequestRefusedError("CreateTransformJob", "ResourceLimitExceeded", "quota for ml.m5.large is 0")

    event, _, _ = run(upload(), FakeTransformJobs(refuse=refusal))

    assert isinstance(event, BatchFailed)
    assert event.status == "Refused"
    assert "quota" in event.reason


def test_keys_that_seal_no_batch_are_ignored() -> None:
    store = upload()
    ref = ObjectRef(bucket=store.bucket, key=f"batches/{MODEL}/tonight/images/batch.json", etag="e")

    assert (
        start_batch(ref, store, FakeTransformJobs(), RecordingPublisher(), CONFIG, NOW, RecordingSchedules())
        is None
    )


def test_the_max_runtime_is_a_one_time_schedule_that_sends_the_job_to_collect_batch() -> None:
    from sagechain.batch.start_batch import batch_deadline_of  # noqa: PLC0415

    store = upload(b'{"max_runtime_minutes": 90}')
    deadlines = RecordingSchedules()

    event, _, sagemaker = run(store, deadlines=deadlines)

    [(name, (at, payload))] = deadlines.schedules.items()
    [job] = sagemaker.jobs
    assert name == job == event.transform_job_name
    assert at == NOW + timedelta(minutes=90)
    deadline = batch_deadline_of(json.loads(payload))
    assert deadline is not None
    assert (deadline.transform_job_name, deadline.max_runtime_minutes) == (job, 90)
    record = BatchRecord.model_validate_json(store.objects[f"models/{MODEL}/batches/tonight.json"])
    assert record.deadline_at == at


def test_a_rejected_batch_schedules_no_deadline() -> None:
    deadlines = RecordingSchedules()

    run(upload(b"not json"), deadlines=deadlines)

    assert deadlines.schedules == {}
