"""The unit fakes refuse what AWS refuses, and raise exactly what the adapters raise for it.

Each refusal is answered once by the fake and once by AWS's error (tests/refusals.py) stubbed
into the real adapter: a test passes only when both raise the same exception with the same text.
"""

from collections.abc import Callable
from typing import Any

import pytest

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.errors import EndpointBusyError, ObjectNotFoundError, RequestRefusedError, SagechainError
from sagechain.ports import EndpointConfig, Variant
from tests.deploy_fakes import ARN, ENDPOINT, FakeSageMaker
from tests.fakes import MemoryStore
from tests.refusals import (
    IN_PROGRESS,
    Refusal,
    autoscaled_variant_changed,
    endpoint_in_progress,
    missing_endpoint,
    missing_endpoint_config,
    missing_model,
    no_scalable_target,
)
from tests.stubs import refuse, stubbed

LIVE = EndpointConfig(
    "live-config", f"{ARN}:endpoint-config/live-config", [Variant("AllTraffic", "m1", "ml.m5.large")]
)


def adapter_raises(service: str, refusal: Refusal, call: Callable[[Any], object]) -> SagechainError:
    """What the real adapter over a client answering refusal raises from call(adapter)."""
    with stubbed(service) as (client, stubber):
        refuse(stubber, refusal)
        adapter = SageMakerHosting(client) if service == "sagemaker" else ApplicationAutoScaling({}, client)
        with pytest.raises(SagechainError) as raised:
            call(adapter)
    return raised.value


def fake_raises(call: Callable[[], object]) -> SagechainError:
    with pytest.raises(SagechainError) as raised:
        call()
    return raised.value


def same(fake: SagechainError, adapter: SagechainError) -> bool:
    return type(fake) is type(adapter) and str(fake) == str(adapter)


@pytest.mark.parametrize("status", sorted(IN_PROGRESS))
def test_update_of_an_endpoint_in_progress_is_refused_as_busy(status: str) -> None:
    # Given an endpoint that is still creating or updating
    sagemaker = FakeSageMaker()
    sagemaker.put_endpoint(status, LIVE)
    sagemaker.configs["next-config"] = LIVE._replace(name="next-config")
    # When it is updated, Then the fake refuses it as SageMaker does, through the adapter
    fake = fake_raises(lambda: sagemaker.update_endpoint(ENDPOINT, "next-config", True))
    adapter = adapter_raises(
        "sagemaker",
        endpoint_in_progress(ENDPOINT),
        lambda host: host.update_endpoint(ENDPOINT, "next-config", True),
    )

    assert isinstance(fake, EndpointBusyError)
    assert same(fake, adapter)
    assert sagemaker.endpoints[ENDPOINT].status == status
    assert sagemaker.updates == []


def test_update_to_a_configuration_that_does_not_exist_is_refused() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.put_endpoint("InService", LIVE)

    fake = fake_raises(lambda: sagemaker.update_endpoint(ENDPOINT, "never-created", True))
    adapter = adapter_raises(
        "sagemaker",
        missing_endpoint_config("UpdateEndpoint", "never-created"),
        lambda host: host.update_endpoint(ENDPOINT, "never-created", True),
    )

    assert isinstance(fake, RequestRefusedError)
    assert fake.code == "ValidationException"
    assert same(fake, adapter)
    assert sagemaker.endpoints[ENDPOINT].status == "InService"


def test_update_of_an_endpoint_that_does_not_exist_is_refused() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.configs[LIVE.name] = LIVE

    fake = fake_raises(lambda: sagemaker.update_endpoint(ENDPOINT, LIVE.name, True))
    adapter = adapter_raises(
        "sagemaker",
        missing_endpoint("UpdateEndpoint", ENDPOINT),
        lambda host: host.update_endpoint(ENDPOINT, LIVE.name, True),
    )

    assert same(fake, adapter)
    assert 'Could not find endpoint "' in str(fake)


def test_configuration_of_a_model_that_does_not_exist_is_refused() -> None:
    sagemaker = FakeSageMaker()
    variant = Variant("AllTraffic", "never-created", "ml.m5.large")

    fake = fake_raises(lambda: sagemaker.create_endpoint_config("c", variant, 1, {}))
    adapter = adapter_raises(
        "sagemaker",
        missing_model("CreateEndpointConfig", "never-created"),
        lambda host: host.create_endpoint_config("c", variant, 1, {}),
    )

    assert same(fake, adapter)
    assert sagemaker.configs == {}


def test_endpoint_on_a_configuration_that_does_not_exist_is_refused() -> None:
    sagemaker = FakeSageMaker()

    fake = fake_raises(lambda: sagemaker.create_endpoint(ENDPOINT, "never-created", {}))
    adapter = adapter_raises(
        "sagemaker",
        missing_endpoint_config("CreateEndpoint", "never-created"),
        lambda host: host.create_endpoint(ENDPOINT, "never-created", {}),
    )

    assert same(fake, adapter)
    assert sagemaker.endpoints == {}


@pytest.mark.parametrize(
    "variants",
    [
        [Variant("AllTraffic", "m2", "ml.c5.xlarge")],  # another instance type
        [Variant("Other", "m2", "ml.m5.large")],  # the registered variant removed
    ],
)
def test_update_changing_an_autoscaled_variant_is_refused_until_it_is_deregistered(
    variants: list[Variant],
) -> None:
    # Given an InService endpoint whose variant is a registered scalable target
    sagemaker = FakeSageMaker()
    sagemaker.put_endpoint("InService", LIVE)
    sagemaker.configs["next-config"] = EndpointConfig("next-config", "arn", variants)
    sagemaker.scaling.register(ENDPOINT, "AllTraffic", 1, 4)
    # When the update changes that variant, Then it is refused
    fake = fake_raises(lambda: sagemaker.update_endpoint(ENDPOINT, "next-config", False))
    adapter = adapter_raises(
        "sagemaker",
        autoscaled_variant_changed(ENDPOINT, "AllTraffic"),
        lambda host: host.update_endpoint(ENDPOINT, "next-config", False),
    )
    assert same(fake, adapter)
    assert sagemaker.endpoints[ENDPOINT].status == "InService"
    # And once the target is deregistered, the same update is accepted
    sagemaker.scaling.deregister(ENDPOINT, "AllTraffic")
    sagemaker.update_endpoint(ENDPOINT, "next-config", False)
    assert sagemaker.endpoints[ENDPOINT].status == "Updating"


def test_update_changing_only_the_model_of_an_autoscaled_variant_is_accepted() -> None:
    sagemaker = FakeSageMaker()
    sagemaker.put_endpoint("InService", LIVE)
    sagemaker.configs["next-config"] = EndpointConfig(
        "next-config", "arn", [Variant("AllTraffic", "m2", "ml.m5.large")]
    )
    sagemaker.scaling.register(ENDPOINT, "AllTraffic", 1, 4)

    sagemaker.update_endpoint(ENDPOINT, "next-config", True)

    assert sagemaker.endpoints[ENDPOINT].pending_config_name == "next-config"


def test_scaling_policy_without_a_registered_target_is_refused() -> None:
    scaling = FakeSageMaker().scaling

    fake = fake_raises(lambda: scaling.track_invocations(ENDPOINT, "AllTraffic", "p", 70.0, 300, 60))
    adapter = adapter_raises(
        "application-autoscaling",
        no_scalable_target(ENDPOINT, "AllTraffic"),
        lambda autoscaler: autoscaler.track_invocations(ENDPOINT, "AllTraffic", "p", 70.0, 300, 60),
    )

    assert isinstance(fake, RequestRefusedError)
    assert fake.code == "ObjectNotFoundException"
    assert same(fake, adapter)
    assert scaling.policies == {}


def test_a_read_naming_a_version_gets_that_version_and_an_unknown_one_is_not_found() -> None:
    # Given a key written twice
    store = MemoryStore("bucket", {"datasets/pets/dataset.json": b"first"})
    store.put_bytes("datasets/pets/dataset.json", b"second", "application/json")
    # Then each version reads as written, the latest without a version, and no other exists
    assert store.read_bytes("datasets/pets/dataset.json", 100, "v1") == b"first"
    assert store.open_random_access("datasets/pets/dataset.json", "v2").read() == b"second"
    assert store.read_bytes("datasets/pets/dataset.json", 100) == b"second"
    with pytest.raises(ObjectNotFoundError):
        store.read_bytes("datasets/pets/dataset.json", 100, "v3")
