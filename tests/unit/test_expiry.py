"""Endpoint expiry (deployment.ttl_hours): the schedule put at go-live, and the deletion it fires."""

import json
from datetime import UTC, datetime, timedelta

from sagechain.deployment.configure_autoscaling import configure_autoscaling
from sagechain.deployment.expiry import ExpiryDue, expire_endpoint
from sagechain.errors import RequestRefusedError
from sagechain.events import ModelExpired, ModelLive
from sagechain.ports import NamedResource
from sagechain.records import ModelInfo
from tests.deploy_fakes import (
    ENDPOINT,
    JOB,
    RUN,
    FakeAutoscaler,
    endpoint_change,
    live_model,
    run_model,
    spec,
    store_with_run,
)
from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.unit.test_configure_autoscaling import CONFIG, Stage

DUE = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


class RecordingSchedules:
    """ExpirySchedules in memory: name -> (at, payload)."""

    def __init__(self) -> None:
        self.schedules: dict[str, tuple[datetime, str]] = {}

    def put(self, name: str, at: datetime, payload: str) -> None:
        self.schedules[name] = (at, payload)

    def remove(self, name: str) -> None:
        self.schedules.pop(name, None)


class RecordingHosting:
    """StackSageMaker's deletions, recorded; `refuse` names what AWS refuses to delete."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.deleted: list[str] = []
        self.refuse = refuse

    def _delete(self, name: str) -> None:
        if name in self.refuse:
            raise RequestRefusedError("Delete", "AccessDeniedException", "not allowed")
        self.deleted.append(name)

    def endpoints(self, name_contains: str) -> list[NamedResource]:
        return []

    def endpoint_configs(self, name_contains: str) -> list[NamedResource]:
        return []

    def models(self, name_contains: str) -> list[NamedResource]:
        return []

    def tags(self, arn: str) -> dict[str, str]:
        return {}

    delete_endpoint = delete_endpoint_config = delete_model = _delete


def go_live(ttl_hours: int, schedules: RecordingSchedules) -> Stage:
    stage = Stage(store_with_run(dataset_spec=spec(ttl_hours=ttl_hours)))
    configure_autoscaling(
        endpoint_change("IN_SERVICE"),
        stage.sagemaker,
        stage.sagemaker,
        stage.autoscaler,
        stage.store,
        stage.publisher,
        CONFIG,
        schedules=schedules,
    )
    return stage


def test_a_model_going_live_with_a_ttl_puts_the_endpoints_one_time_schedule() -> None:
    schedules = RecordingSchedules()
    before = datetime.now(UTC).replace(microsecond=0)

    stage = go_live(2, schedules)

    [(at, payload)] = [schedules.schedules[ENDPOINT]]
    assert before + timedelta(hours=2) <= at <= datetime.now(UTC) + timedelta(hours=2)
    assert ExpiryDue.model_validate_json(payload) == ExpiryDue(
        endpoint_name=ENDPOINT, model_name=JOB, run_id=RUN, expires_at=at
    )
    assert stage.live is not None
    assert stage.live.expires_at == at
    [event] = stage.publisher.events
    assert isinstance(event, ModelLive)
    assert event.expires_at == at


def test_a_model_going_live_without_a_ttl_removes_an_earlier_schedule() -> None:
    schedules = RecordingSchedules()
    schedules.put(ENDPOINT, DUE, "{}")

    stage = go_live(0, schedules)

    assert schedules.schedules == {}
    assert stage.live is not None
    assert stage.live.expires_at is None


def expiring_store(expires_at: datetime = DUE) -> MemoryDeploymentStore:
    previous = live_model().model_copy(update={"endpoint_config_name": "sagechain-older-run-train-config"})
    live = run_model().model_copy(
        update={"endpoint_config_name": f"{JOB}-config", "previous": previous, "expires_at": expires_at}
    )
    store = MemoryDeploymentStore("data")
    store.objects[f"models/{ENDPOINT}/model.json"] = live.model_dump_json().encode()
    return store


def expire(
    store: MemoryDeploymentStore, hosting: RecordingHosting, now: datetime = DUE
) -> tuple[object, ...]:
    autoscaler, publisher = FakeAutoscaler(), RecordingPublisher()
    autoscaler.register(ENDPOINT, "AllTraffic", 1, 2)
    due = ExpiryDue(endpoint_name=ENDPOINT, model_name=JOB, run_id=RUN, expires_at=DUE)
    outcome = expire_endpoint(due, hosting, autoscaler, store, publisher, "us-east-1", now)
    return outcome, autoscaler, publisher


def test_a_due_schedule_deletes_the_endpoint_its_configurations_and_models_and_marks_it_expired() -> None:
    store, hosting = expiring_store(), RecordingHosting()

    outcome, autoscaler, publisher = expire(store, hosting, DUE + timedelta(seconds=5))

    assert hosting.deleted == [
        ENDPOINT,
        f"{JOB}-config",
        "sagechain-older-run-train-config",
        JOB,
        "sagechain-older-run-train",
    ]
    assert autoscaler.targets == {}  # type: ignore[attr-defined]
    live = ModelInfo.model_validate_json(store.objects[f"models/{ENDPOINT}/model.json"])
    assert live.expired_at == DUE + timedelta(seconds=5)
    [event] = publisher.events  # type: ignore[attr-defined]
    assert isinstance(event, ModelExpired)
    assert (event.run_id, event.endpoint_name, event.not_deleted) == (RUN, ENDPOINT, [])
    assert outcome.outcome == "Model Expired"  # type: ignore[attr-defined]


def test_a_refused_deletion_is_named_in_model_expired() -> None:
    store, hosting = expiring_store(), RecordingHosting(refuse=frozenset({JOB}))

    _, _, publisher = expire(store, hosting)

    [event] = publisher.events  # type: ignore[attr-defined]
    assert event.not_deleted == [f"model {JOB} (AccessDeniedException: not allowed)"]


def test_a_schedule_for_a_model_replaced_meanwhile_does_nothing() -> None:
    store, hosting = expiring_store(expires_at=DUE + timedelta(hours=1)), RecordingHosting()

    outcome, _, publisher = expire(store, hosting)

    assert hosting.deleted == []
    assert publisher.events == []  # type: ignore[attr-defined]
    assert outcome.outcome == "ignored"  # type: ignore[attr-defined]


def test_a_repeated_firing_deletes_nothing_more() -> None:
    store = expiring_store()
    expire(store, RecordingHosting())
    hosting = RecordingHosting()

    _outcome, _, publisher = expire(store, hosting)

    assert (hosting.deleted, publisher.events) == ([], [])  # type: ignore[attr-defined]
    assert json.loads(store.objects[f"models/{ENDPOINT}/model.json"])["expired_at"] is not None
