"""GET /models/{model}/batches/{name} of a running batch: elapsed time, deadline, cost so far, answers."""

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from sagechain.observers.status_api import ANSWERS_COUNTED_MAX, StatusService
from sagechain.records import BatchRecord
from tests.fakes import MemoryStore
from tests.unit.test_collect_batch import RECORD, started
from tests.unit.test_start_batch import MODEL, NOW


def service(store: MemoryStore, minutes: int) -> StatusService:
    nobody = cast(Any, None)  # get_batch reads the bucket only
    return StatusService(
        nobody, store, nobody, nobody, "sagechain", nobody, lambda: NOW + timedelta(minutes=minutes)
    )


def with_answers(count: int) -> MemoryStore:
    store, _, _ = started("image-classification", {f"{n:05d}.jpg": b"x" for n in range(10)})
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    output = f"batches/{MODEL}/tonight/{record.batch_id}/output/"
    for n in range(count):
        store.objects[f"{output}{n:05d}.jpg.out"] = b"[0.5, 0.5]"
    return store


def test_a_running_batch_shows_minutes_deadline_cost_so_far_and_images_answered() -> None:
    store = with_answers(4)
    record = BatchRecord.model_validate_json(store.objects[RECORD])

    view = service(store, minutes=30).get_batch(MODEL, "tonight")

    progress = view.progress
    assert progress is not None
    assert progress.elapsed_minutes == 30
    assert progress.deadline_at == record.deadline_at == NOW + timedelta(minutes=record.max_runtime_minutes)
    assert record.cost_estimate is not None
    hourly = record.cost_estimate.usd_per_instance_hour * record.instance_count
    assert progress.cost_so_far_usd == (hourly / 2).quantize(Decimal("0.01"))
    assert progress.cost_estimate_usd == record.cost_estimate.max_usd
    assert (progress.images_answered, progress.images_answered_at_least) == (4, False)
    assert progress.answered == "4 of 10 images answered"


def test_answers_beyond_the_counting_bound_read_as_at_least() -> None:
    store = with_answers(ANSWERS_COUNTED_MAX + 5)

    progress = service(store, minutes=1).get_batch(MODEL, "tonight").progress

    assert progress is not None
    assert progress.images_answered_at_least is True
    assert progress.answered.startswith(f"at least {ANSWERS_COUNTED_MAX:,} of")


def test_cost_so_far_never_exceeds_the_estimate() -> None:
    store = with_answers(0)

    progress = service(store, minutes=100_000).get_batch(MODEL, "tonight").progress

    assert progress is not None
    assert progress.cost_so_far_usd == progress.cost_estimate_usd


def test_an_ended_batch_has_no_progress() -> None:
    store = with_answers(1)
    record = BatchRecord.model_validate_json(store.objects[RECORD])
    store.objects[RECORD] = record.model_copy(update={"status": "Completed"}).model_dump_json().encode()

    assert service(store, minutes=5).get_batch(MODEL, "tonight").progress is None
