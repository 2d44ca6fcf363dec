"""POST /models/{model}/rollback: which model goes back, how the endpoint is updated, what is refused."""

from datetime import UTC, datetime

import pytest

from sagechain.api_errors import ModelNotFoundError, StateConflictError
from sagechain.deployment.bookkeeping import endpoint_config_name_for
from sagechain.deployment.rollback import RollbackService
from sagechain.events import ModelRolledBack
from sagechain.layout import deploying_key, model_key
from sagechain.observers.track_run import track_run
from sagechain.ports import EndpointConfig, Variant
from sagechain.records import ModelInfo
from sagechain.run_history import RunStatus, Stage
from tests.aws import sample_event
from tests.deploy_fakes import ENDPOINT, FakeAutoscaler, FakeSageMaker, live_model, plan, store_with_run
from tests.fakes import FakeSageMaker as FakeLookup
from tests.fakes import MemoryDeploymentStore, MemoryStore, RecordingPublisher, RecordingRunStore
from tests.runs import STACK_ID, STACK_NAME

AT = datetime(2026, 11, 1, tzinfo=UTC)
CURRENT = "sagechain-newer-run-train"


def given(
    status: str = "InService", with_previous: bool = True
) -> tuple[RollbackService, FakeSageMaker, RecordingPublisher, MemoryDeploymentStore]:
    older = plan()
    store = store_with_run(older)
    previous = live_model().model_copy(update={"run_id": older.run_id})
    current = live_model(CURRENT).model_copy(
        update={"run_id": "newer-run", "deployed_at": AT, "previous": previous if with_previous else None}
    )
    store.objects[f"runs/{older.run_id}/model.json"] = previous.model_dump_json().encode()
    store.objects[model_key(ENDPOINT)] = current.model_dump_json().encode()
    host = FakeSageMaker()
    # The previous model still exists (cleanup keeps the live and previous deployments), and
    # SageMaker refuses a configuration for a model that does not.
    host.models[previous.model_name] = {"image": "image", "model_data_url": "s3://b/model.tar.gz", "tags": {}}
    original = endpoint_config_name_for(previous.training_job_name, "sagechain")
    host.configs[original] = EndpointConfig(
        original, f"arn:{original}", [Variant("AllTraffic", previous.model_name, "ml.m5.large")]
    )
    host.put_endpoint(
        status,
        EndpointConfig("current-config", "arn:current", [Variant("AllTraffic", CURRENT, "ml.m5.large")]),
    )
    publisher = RecordingPublisher()
    service = RollbackService(store, host, FakeAutoscaler(), publisher, "sagechain", STACK_NAME)
    return service, host, publisher, store


def test_rolling_back_updates_the_endpoint_to_a_copy_of_the_previous_models_configuration() -> None:
    service, host, publisher, store = given()

    started = service.rollback(ENDPOINT, "arn:aws:iam::123456789012:user/alice")

    [(endpoint, config_name, retained)] = host.updates
    assert (endpoint, retained) == (ENDPOINT, True)
    assert host.configs[config_name].variants == [
        Variant("AllTraffic", "sagechain-older-run-train", "ml.m5.large")
    ]
    assert host.resource_tags[host.configs[config_name].arn]["sagechain:run-id"] == started.run_id
    in_flight = ModelInfo.model_validate_json(store.objects[deploying_key(ENDPOINT)])
    assert in_flight.model_name == "sagechain-older-run-train"
    [event] = publisher.events
    assert isinstance(event, ModelRolledBack)
    assert (event.model_name, event.replaced_model_name) == ("sagechain-older-run-train", CURRENT)


def test_a_second_rollback_of_the_same_live_model_is_a_conflict() -> None:
    service, host, _, _ = given()
    service.rollback(ENDPOINT)
    host.finish()

    with pytest.raises(StateConflictError) as raised:
        service.rollback(ENDPOINT)

    assert (
        "deployment in flight" in raised.value.message or "already being rolled back" in raised.value.message
    )
    assert len(host.updates) == 1


def test_with_no_previous_live_model_it_is_a_conflict() -> None:
    service, host, _, _ = given(with_previous=False)

    with pytest.raises(StateConflictError) as raised:
        service.rollback(ENDPOINT)

    assert "no previous model to roll back to" in raised.value.message
    assert host.updates == []


def test_the_previous_model_comes_from_model_json_however_many_runs_the_stack_has_had() -> None:
    # Given model.json naming the previous model (the runs table, with its thousands of runs, is
    # not read: the old scan gave up after 1000)
    service, host, _, _ = given()

    started = service.rollback(ENDPOINT)

    assert (started.model_name, started.replaced_model_name) == ("sagechain-older-run-train", CURRENT)
    assert len(host.updates) == 1


def test_a_previous_model_that_ran_on_a_rollback_copy_is_rolled_back_from_that_copy() -> None:
    # Given the previous model last ran on a rollback's configuration, and cleanup deleted the
    # configuration its own deployment made
    service, host, _, store = given()
    live = ModelInfo.model_validate_json(store.objects[model_key(ENDPOINT)])
    assert live.previous is not None
    copy = "sagechain-older-run-train-rollback-0123"
    original = endpoint_config_name_for(live.previous.training_job_name, "sagechain")
    host.configs[copy] = host.configs.pop(original)._replace(name=copy, arn=f"arn:{copy}")
    previous = live.previous.model_copy(update={"endpoint_config_name": copy})
    updated = live.model_copy(update={"previous": previous})
    store.objects[model_key(ENDPOINT)] = updated.model_dump_json().encode()

    started = service.rollback(ENDPOINT)

    [(_, config_name, _)] = host.updates
    assert started.model_name == "sagechain-older-run-train"
    assert host.configs[config_name].variants == host.configs[copy].variants


@pytest.mark.parametrize("status", ["Updating", "Creating", "Failed"])
def test_an_endpoint_not_in_service_is_a_conflict_naming_its_status(status: str) -> None:
    service, host, _, _ = given(status=status)

    with pytest.raises(StateConflictError) as raised:
        service.rollback(ENDPOINT)

    assert f"while its endpoint is {status}" in raised.value.message
    assert host.updates == []


def test_an_unknown_model_is_not_found() -> None:
    service, *_ = given()

    with pytest.raises(ModelNotFoundError):
        service.rollback("sagechain-nosuch")


def test_track_run_keeps_the_run_live_with_the_rollback_in_its_history() -> None:
    service, _, publisher, _ = given()
    service.rollback(ENDPOINT)
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "Model Rolled Back",
        "source": "sagechain",
        "account": "123456789012",
        "time": "2026-11-02T09:00:00Z",
        "region": "us-east-1",
        "resources": [STACK_ID],
        "detail": publisher.events[0].model_dump(mode="json"),
    }

    change = track_run(
        event, FakeLookup(), MemoryStore(), RecordingRunStore(), "sagechain", STACK_NAME, STACK_ID
    )

    assert change is not None
    assert (change.stage, change.status) == (Stage.LIVE, RunStatus.LIVE)
    assert change.summary.startswith(
        f"Model rolled back: endpoint {ENDPOINT} goes back to sagechain-older-run-train"
    )


def test_the_rollback_email_names_both_models() -> None:
    from sagechain.observers.notify import compose_email  # noqa: PLC0415

    email = compose_email(
        sample_event("notify", "model_rolled_back"),
        FakeLookup(),
        MemoryStore(),
        "sagechain",
        STACK_NAME,
        STACK_ID,
    )

    assert email is not None
    assert email.subject == "[sagechain] flowers: Model rolled back (run flowers-8b39944c64ac)"
    assert "model sagechain-flowers-8b39944c64ac-train-1 (run flowers-8b39944c64ac) replaces" in email.body
