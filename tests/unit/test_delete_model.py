"""DELETE /models/{model}: what is deleted and in which order, what is refused, what predict then says."""

from datetime import UTC, datetime, timedelta

import pytest
from local.template import parsed_template

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
from sagechain.run_control.delete_model import (
    DELETION_LEASE,
    DeleteModelService,
    DeletionClaim,
    deletion_claim_key,
)
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
from tests.runs import STACK_ID, STACK_NAME, bus_event

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
        self.models = {MODEL, "sagechain-newer-train"}
        self.deleted: list[str] = []
        # A request that dies here (Lambda's timeout) before deleting: the operation's name.
        self.crash_at: str | None = None

    def _crash(self, operation: str) -> None:
        if self.crash_at == operation:
            self.crash_at = None
            raise TimeoutError(f"the function timed out before {operation}")

    def endpoint(self, name: str) -> EndpointState | None:
        return self.endpoints.get(name)

    def endpoint_config(self, name: str) -> EndpointConfig:
        if name not in self.configs:
            raise ResourceMissingError("endpoint configuration", name)
        return self.configs[name]

    def delete_endpoint(self, name: str) -> None:
        self._crash("DeleteEndpoint")
        self.deleted.append(f"endpoint {name}")
        self.endpoints.pop(name, None)

    def delete_endpoint_config(self, name: str) -> None:
        self._crash("DeleteEndpointConfig")
        self.deleted.append(f"config {name}")
        self.configs.pop(name, None)

    def model_exists(self, name: str) -> bool:
        return name in self.models

    def delete_model(self, name: str) -> None:
        self._crash("DeleteModel")
        self.deleted.append(f"model {name}")
        self.models.discard(name)


class Schedules:
    """ExpirySchedules in memory: the endpoint's pending expiry, by name; DeleteSchedule of a name
    that is gone is a no-op, as the adapter makes ResourceNotFoundException."""

    def __init__(self, *names: str) -> None:
        self.pending = set(names)
        self.removed: list[str] = []

    def put(self, name: str, at: datetime, payload: str) -> None:
        self.pending.add(name)

    def remove(self, name: str) -> None:
        self.removed.append(name)
        self.pending.discard(name)


class Clock:
    """The service's clock; a test moves it."""

    def __init__(self) -> None:
        self.at = AT

    def __call__(self) -> datetime:
        return self.at


def given(
    hosting: Hosting | None = None,
    info: ModelInfo | None = None,
    clock: Clock | None = None,
    schedules: Schedules | None = None,
) -> tuple[DeleteModelService, MemoryDeploymentStore, Hosting, FakeAutoscaler, RecordingPublisher]:
    store = MemoryDeploymentStore()
    store.objects[model_key(ENDPOINT)] = (info or live_model()).model_dump_json().encode()
    host = hosting or Hosting()
    autoscaler = FakeAutoscaler(targets={(ENDPOINT, "AllTraffic"): ScalableTarget(1, 4)})
    publisher = RecordingPublisher()
    return (
        DeleteModelService(store, host, autoscaler, publisher, clock or (lambda: AT), schedules=schedules),
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


def test_deleting_a_model_due_to_expire_deletes_its_expiry_schedule_and_says_so() -> None:
    # Given a live model whose endpoint expires tomorrow (deployment.ttl_hours)
    schedules = Schedules(ENDPOINT)
    due = live_model().model_copy(update={"expires_at": AT + timedelta(days=1)})
    service, _, _, _, publisher = given(info=due, schedules=schedules)

    deleted = service.delete_model(ENDPOINT)

    # Then the schedule will not fire for a deleted model, and the answer and the event name it
    assert (schedules.pending, deleted.deleted_expiry_schedule) == (set(), ENDPOINT)
    [event] = publisher.events
    assert isinstance(event, ModelDeleted)
    assert event.deleted_expiry_schedule == ENDPOINT
    # And so do the run's history and the Model deleted email
    args = (FakeSageMaker(), MemoryStore(), "sagechain", STACK_NAME, STACK_ID)
    change = track_run(bus_event(event), args[0], args[1], RecordingRunStore(), *args[2:])
    assert change is not None
    assert change.summary.endswith(f", and its expiry schedule {ENDPOINT}")
    email = compose_email(bus_event(event), *args)
    assert email is not None
    assert f"  Expiry schedule deleted:         {ENDPOINT}" in email.body.splitlines()


def test_a_model_with_no_expiry_names_no_schedule_though_delete_schedule_is_still_asked() -> None:
    # Given a model with no expiry: DeleteSchedule is still asked (a no-op), and nothing is named
    schedules = Schedules()
    service, *_ = given(schedules=schedules)

    deleted = service.delete_model(ENDPOINT)

    assert (schedules.removed, deleted.deleted_expiry_schedule) == ([ENDPOINT], None)


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
    # The other request got there first, a moment ago, and is still deleting
    other = DeletionClaim(
        state="deleting",
        deleted_at=AT,
        claimed_at=AT,
        live=live_model(),
        endpoint_configs=[CONFIG],
        models=[MODEL],
        deregistered_variants=["AllTraffic"],
    )
    store.objects[deletion_claim_key(ENDPOINT, MODEL)] = other.model_dump_json().encode()

    with pytest.raises(StateConflictError) as raised:
        service.delete_model(ENDPOINT)

    assert "already being deleted by another request" in raised.value.message
    assert f"DELETE again after {(AT + DELETION_LEASE).isoformat()}" in raised.value.message
    assert (host.deleted, publisher.events) == ([], [])


@pytest.mark.parametrize("dies_before", ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"])
def test_a_deletion_that_died_half_way_is_finished_once_by_a_retry_after_the_lease(dies_before: str) -> None:
    # Given a DELETE that claimed the model, marked it deleted and died before one of its deletions
    clock = Clock()
    host = Hosting()
    host.crash_at = dies_before
    service, store, host, autoscaler, publisher = given(host, clock=clock)
    with pytest.raises(TimeoutError):
        service.delete_model(ENDPOINT, "arn:aws:iam::123456789012:user/alice")
    assert read_model_info(store, model_key(ENDPOINT)) is None  # predict answers 404 already

    # When it is retried at once, it is told to wait for the lease; after it, the retry finishes
    with pytest.raises(StateConflictError) as early:
        service.delete_model(ENDPOINT)
    clock.at = AT + DELETION_LEASE + timedelta(seconds=1)
    finished = service.delete_model(ENDPOINT)

    # Then everything is deleted once, the answer is the first request's, and Model Deleted is published once
    assert "If that request failed, DELETE again after" in early.value.message
    assert sorted(host.deleted) == sorted([f"endpoint {ENDPOINT}", f"config {CONFIG}", f"model {MODEL}"])
    assert autoscaler.targets == {}
    assert (finished.deleted_at, finished.model_name, finished.deleted_models) == (AT, MODEL, [MODEL])
    assert finished.deregistered_variants == ["AllTraffic"]
    [event] = publisher.events
    assert isinstance(event, ModelDeleted)
    assert event.requested_by == "arn:aws:iam::123456789012:user/alice"
    claim = DeletionClaim.model_validate_json(store.objects[deletion_claim_key(ENDPOINT, MODEL)])
    assert (claim.state, claim.attempt) == ("deleted", 2)
    # And a third DELETE is the usual conflict
    with pytest.raises(StateConflictError) as again:
        service.delete_model(ENDPOINT)
    assert "was deleted at 2026-11-02T09:00:00+00:00" in again.value.message
    assert len(publisher.events) == 1


def test_a_request_that_died_after_claiming_but_before_marking_model_json_is_resumed() -> None:
    # Given a claim of the live model whose request died at once (model.json still live)
    clock = Clock()
    service, store, host, _, publisher = given(clock=clock)
    host.crash_at = "DeleteEndpoint"
    with pytest.raises(TimeoutError):
        service.delete_model(ENDPOINT)
    store.objects[model_key(ENDPOINT)] = live_model().model_dump_json().encode()

    clock.at = AT + DELETION_LEASE + timedelta(seconds=1)
    finished = service.delete_model(ENDPOINT)

    assert finished.deleted_at == AT
    assert f"endpoint {ENDPOINT}" in host.deleted
    assert read_model_info(store, model_key(ENDPOINT)) is None
    assert len(publisher.events) == 1


def test_of_two_retries_racing_to_resume_a_deletion_one_resumes() -> None:
    clock = Clock()
    host = Hosting()
    host.crash_at = "DeleteEndpoint"
    service, store, host, _, publisher = given(host, clock=clock)
    with pytest.raises(TimeoutError):
        service.delete_model(ENDPOINT)
    clock.at = AT + DELETION_LEASE + timedelta(seconds=1)
    store.objects[f"models/{ENDPOINT}/deletions/{MODEL}.2.json"] = b"{}"  # the other retry's attempt

    with pytest.raises(StateConflictError) as raised:
        service.delete_model(ENDPOINT)

    assert "already being deleted by another request" in raised.value.message
    assert (host.deleted, publisher.events) == ([], [])


def test_the_lease_outlasts_the_run_control_functions_timeout() -> None:
    template = parsed_template()
    timeout = template["Resources"]["RunControlFunction"]["Properties"]["Timeout"]

    assert DELETION_LEASE.total_seconds() > timeout


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
