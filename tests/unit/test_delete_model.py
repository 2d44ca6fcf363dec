"""DELETE /models/{model}: what is deleted and in which order, what is refused, what predict then says."""

from datetime import UTC, datetime

import pytest

from sagechain.api_errors import ModelNotFoundError, StateConflictError
from sagechain.deployment.bookkeeping import read_model_info
from sagechain.errors import ResourceMissingError
from sagechain.events import ModelDeleted
from sagechain.inference.predict import ModelDirectory
from sagechain.layout import model_key
from sagechain.observers.notify import compose_email
from sagechain.observers.track_run import track_run
from sagechain.ports import EndpointConfig, EndpointState, ScalableTarget, Variant
from sagechain.records import ModelInfo
from sagechain.run_control.delete_model import DeleteModelService, deletion_claim_key
from sagechain.run_history import RunStatus, Stage
from tests.aws import sample_event
from tests.deploy_fakes import ENDPOINT, FakeAutoscaler, live_model
from tests.fakes import (
    FakeSageMaker,
    MemoryDeploymentStore,
    MemoryStore,
    RecordingPublisher,
    RecordingRunStore,
)
from tests.runs import STACK_ID, STACK_NAME

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
MODEL = "sagechain-older-run-train"
CONFIG = "sagechain-older-run-config"


class Hosting:
    """HostingRemover over dicts; records the deletions in order."""

    def __init__(self, status: str = "InService", pending: str | None = None) -> None:
        self.endpoints = {ENDPOINT: EndpointState(ENDPOINT, status, CONFIG, pending, None)}
        self.configs = {
            CONFIG: EndpointConfig(CONFIG, f"arn:{CONFIG}", [Variant("AllTraffic", MODEL, "ml.m5.large")]),
            "sagechain-newer-config": EndpointConfig(
                "sagechain-newer-config", "arn:newer", [Variant("AllTraffic", "sagechain-newer-train", None)]
            ),
        }
        self.deleted: list[str] = []

    def endpoint(self, name: str) -> EndpointState | None:
        return self.endpoints.get(name)

    def endpoint_config(self, name: str) -> EndpointConfig:
        if name not in self.configs:
            raise ResourceMissingError("endpoint configuration", name)
        return self.configs[name]

    def delete_endpoint(self, name: str) -> None:
        self.deleted.append(f"endpoint {name}")
        self.endpoints.pop(name, None)

    def delete_endpoint_config(self, name: str) -> None:
        self.deleted.append(f"config {name}")

    def delete_model(self, name: str) -> None:
        self.deleted.append(f"model {name}")


def given(
    hosting: Hosting | None = None, info: ModelInfo | None = None
) -> tuple[DeleteModelService, MemoryDeploymentStore, Hosting, FakeAutoscaler, RecordingPublisher]:
    store = MemoryDeploymentStore()
    store.objects[model_key(ENDPOINT)] = (info or live_model()).model_dump_json().encode()
    host = hosting or Hosting()
    autoscaler = FakeAutoscaler(targets={(ENDPOINT, "AllTraffic"): ScalableTarget(1, 4)})
    publisher = RecordingPublisher()
    return (
        DeleteModelService(store, host, autoscaler, publisher, lambda: AT),
        store,
        host,
        autoscaler,
        publisher,
    )


def test_deleting_a_live_model_deregisters_autoscaling_then_deletes_endpoint_configs_and_models() -> None:
    service, store, host, autoscaler, publisher = given()

    deleted = service.delete_model(ENDPOINT, "arn:aws:iam::123456789012:user/alice")

    assert autoscaler.targets == {}
    assert host.deleted == [f"endpoint {ENDPOINT}", f"config {CONFIG}", f"model {MODEL}"]
    assert (deleted.deleted_at, deleted.deregistered_variants) == (AT, ["AllTraffic"])
    marked = ModelInfo.model_validate_json(store.objects[model_key(ENDPOINT)])
    assert (marked.deleted_at, marked.deleted_by) == (AT, "arn:aws:iam::123456789012:user/alice")
    [event] = publisher.events
    assert isinstance(event, ModelDeleted)
    assert (event.run_id, event.model_name, event.deleted_models) == ("older-run", MODEL, [MODEL])


def test_a_pending_configuration_and_its_model_are_deleted_too() -> None:
    service, *_ = given(Hosting(status="Failed", pending="sagechain-newer-config"))

    deleted = service.delete_model(ENDPOINT)

    assert deleted.deleted_endpoint_configs == [CONFIG, "sagechain-newer-config"]
    assert deleted.deleted_models == [MODEL, "sagechain-newer-train"]


def test_a_deleted_model_is_no_live_model_for_the_deploy_stages_and_predict_answers_404() -> None:
    service, store, _, _, _ = given()
    service.delete_model(ENDPOINT)

    assert read_model_info(store, model_key(ENDPOINT)) is None
    with pytest.raises(ModelNotFoundError) as raised:
        ModelDirectory(store, ttl_seconds=60).get(ENDPOINT)
    assert raised.value.code == "model_deleted"
    assert "was deleted at 2026-11-02T09:00:00+00:00" in raised.value.message


def test_deleting_twice_is_a_conflict_that_says_when_and_deletes_nothing_more() -> None:
    service, _, host, _, publisher = given()
    service.delete_model(ENDPOINT)
    host.deleted.clear()

    with pytest.raises(StateConflictError) as raised:
        service.delete_model(ENDPOINT)

    assert "was deleted at 2026-11-02T09:00:00+00:00" in raised.value.message
    assert (host.deleted, len(publisher.events)) == ([], 1)


def test_of_two_racing_deletions_only_the_one_that_claims_it_deletes() -> None:
    service, store, host, _, publisher = given()
    store.objects[deletion_claim_key(ENDPOINT, MODEL)] = b"{}"  # the other request got there first

    with pytest.raises(StateConflictError) as raised:
        service.delete_model(ENDPOINT)

    assert "already being deleted" in raised.value.message
    assert (host.deleted, publisher.events) == ([], [])


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_an_endpoint_that_is_changing_is_a_conflict_naming_its_status(status: str) -> None:
    service, _, host, _, _ = given(Hosting(status=status))

    with pytest.raises(StateConflictError) as raised:
        service.delete_model(ENDPOINT)

    assert f"while its endpoint is {status}" in raised.value.message
    assert host.deleted == []


def test_an_unknown_model_is_not_found() -> None:
    service = DeleteModelService(
        MemoryDeploymentStore(), Hosting(), FakeAutoscaler(), RecordingPublisher(), lambda: AT
    )

    with pytest.raises(ModelNotFoundError):
        service.delete_model("sagechain-nosuch")


def test_track_run_ends_the_live_run_deleted_and_notify_emails_it() -> None:
    event = sample_event("track_run", "model_deleted")

    change = track_run(
        event, FakeSageMaker(), MemoryStore(), RecordingRunStore(), "sagechain", STACK_NAME, STACK_ID
    )
    email = compose_email(
        sample_event("notify", "model_deleted"),
        FakeSageMaker(),
        MemoryStore(),
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    assert change is not None
    assert (change.stage, change.status) == (Stage.LIVE, RunStatus.DELETED)
    assert [(j.state.name, j.state.status) for j in change.jobs] == [("sagechain-flowers", "Deleting")]
    assert email is not None
    assert email.subject == "[sagechain] flowers: Model deleted (run flowers-8b39944c64ac)"
    assert "POST /models/sagechain-flowers/predict answers 404" in email.body
