"""Hostile specs: whoever writes dataset.json gets only what the stack's parameters allow.

Each spec below asks for more than the template's default guardrails (tests/conftest.py) and
must be rejected at upload, with a reason that names the stack parameter to change, and
nothing written under runs/ (so no later stage can start anything).
"""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import DatasetPrepared, DatasetRejected
from sagechain.guardrails import Guardrails, spec_violations
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import dataset_upload
from sagechain.pricing import PRICES_AS_OF
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec
from tests.fakes import MemoryStore, RecordingPublisher

BUCKET = "data"
IMAGE = b"\x89PNG\r\n\x1a\nnot-really-a-png"
DEFAULTS = SpecDefaults.from_env()
GUARDRAILS = Guardrails.from_env()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OUR_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
PUBLIC_CROWD = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
OTHER_TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/someone-else"
RANGES = [{"name": "learning_rate", "type": "continuous", "min": 0.001, "max": 0.1}]


def upload(store: MemoryStore, document: dict[str, Any], bounds: Guardrails = GUARDRAILS) -> Any:
    store.objects["datasets/flowers/dataset.json"] = json.dumps(document).encode()
    ref = ObjectRef(bucket=store.bucket, key="datasets/flowers/dataset.json", version_id="v1")
    found = dataset_upload(ref)
    assert found is not None
    publisher = RecordingPublisher()
    event = prepare_dataset(
        found, store, publisher, DEFAULTS, ZipLimits.from_env({}), bounds, now=lambda: NOW
    )
    assert publisher.events == [event]
    return event


def flowers(**sections: Any) -> dict[str, Any]:
    return {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        **sections,
        # Ground Truth's bounds are what these specs test, unless one names another mode.
        "labeling": {"mode": "ground-truth", **sections.get("labeling", {})},
    }


def store_with_images(count: int = 2) -> MemoryStore:
    return MemoryStore(BUCKET, {f"datasets/flowers/images/{i}.png": IMAGE for i in range(count)})


def live_model_of(dataset: str, endpoint: str) -> bytes:
    return json.dumps(
        {
            "model": endpoint,
            "endpoint_name": endpoint,
            "task": "image-classification",
            "labels": ["a", "b"],
            "labeling": {"mode": "ground-truth"},
            "algorithm": "builtin",
            "model_name": f"{endpoint}-model",
            "training_job_name": f"{endpoint}-train",
            "run_id": f"{dataset}-0123456789ab",
            "dataset": dataset,
            "deployed_at": "2026-11-30T12:00:00Z",
        }
    ).encode()


HOSTILE = {
    "foreign account image": (
        flowers(training={"algorithm": "999999999999.dkr.ecr.us-east-1.amazonaws.com/miner:latest"}),
        "AllowedTrainingImageRepositories",
    ),
    "own account, repository without the prefix": (
        flowers(training={"algorithm": f"{OUR_REGISTRY}/other-team:1"}),
        "AllowedTrainingImageRepositories",
    ),
    "100 training instances": (flowers(training={"instance_count": 100}), "MaxTrainingInstances"),
    "16 TiB volumes": (flowers(training={"volume_size_gb": 16_384}), "MaxTrainingVolumeGb"),
    "28 days of runtime": (flowers(training={"max_runtime_seconds": 2_419_200}), "MaxTrainingHours"),
    "spot waiting 28 days": (
        flowers(training={"spot": True, "max_wait_seconds": 2_419_200}),
        "MaxSpotWaitHours",
    ),
    "10 hyperparameter sets": (
        flowers(training={"hyperparameters": [{"epochs": str(i)} for i in range(1, 11)]}),
        "MaxHyperparameterSets",
    ),
    "500 tuning jobs": (
        flowers(
            training={
                "tuning": {"objective_metric": "validation:accuracy", "max_jobs": 500, "ranges": RANGES}
            }
        ),
        "MaxTuningJobs",
    ),
    "100 parallel tuning jobs": (
        flowers(
            training={
                "tuning": {
                    "objective_metric": "validation:accuracy",
                    "max_jobs": 20,
                    "max_parallel_jobs": 100,
                    "ranges": RANGES,
                }
            }
        ),
        "MaxParallelTuningJobs",
    ),
    "100 endpoint instances": (flowers(deployment={"max_instances": 100}), "MaxEndpointInstances"),
    "a labeling ceiling above the stack's": (
        flowers(labeling={"max_cost_usd": 10_000}),
        "MaxLabelingCostUsd",
    ),
    "the public workforce": (
        flowers(labeling={"workteam_arn": PUBLIC_CROWD, "price_per_task_usd": "0.012"}),
        "AllowPublicWorkforce",
    ),
    "a work team not allowed": (flowers(labeling={"workteam_arn": OTHER_TEAM}), "AllowedWorkteamArns"),
    "allow_worse_model in the spec": (flowers(deployment={"allow_worse_model": True}), "AllowWorseModel"),
    "a training instance type typo": (
        flowers(training={"instance_type": "ml.p3.2xlarg"}),
        "AllowedTrainingInstanceTypes",
    ),
    "an endpoint instance type typo": (
        flowers(deployment={"instance_type": "ml.m5.larg"}),
        "AllowedEndpointInstanceTypes",
    ),
}


@pytest.mark.parametrize(("document", "parameter"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_spec_beyond_the_stack_bounds_is_rejected_naming_the_parameter(
    document: dict[str, Any], parameter: str
) -> None:
    store = store_with_images()

    event = upload(store, document)

    assert isinstance(event, DatasetRejected)
    assert (
        f"stack parameter {parameter}" in event.reason
        or f"parameters DefaultWorkteamArn and {parameter}" in (event.reason)
    )
    assert not [key for key in store.objects if key.startswith("runs/")]


def test_the_reason_names_field_value_bound_and_parameter() -> None:
    event = upload(store_with_images(), flowers(training={"instance_count": 100}))

    assert isinstance(event, DatasetRejected)
    assert (
        "training.instance_count is 100; this stack allows at most 2 (stack parameter MaxTrainingInstances)"
        in (event.reason)
    )


def test_every_excess_is_named_at_once() -> None:
    spec = DatasetSpec.model_validate(
        flowers(
            training={"instance_count": 100, "max_runtime_seconds": 2_419_200},
            deployment={"max_instances": 100},
        )
    ).with_defaults(DEFAULTS)

    found = spec_violations(spec, GUARDRAILS)

    assert [reason.split(" is ")[0] for reason in found] == [
        "training.instance_count",
        "training.max_runtime_seconds",
        "deployment.max_instances",
    ]


def test_another_datasets_endpoint_is_refused_at_upload() -> None:
    store = store_with_images()
    store.objects["models/sagechain-roses/model.json"] = live_model_of("roses", "sagechain-roses")

    event = upload(store, flowers(deployment={"endpoint_name": "roses"}))

    assert isinstance(event, DatasetRejected)
    assert "endpoint of dataset 'roses'" in event.reason
    assert not [key for key in store.objects if key.startswith("runs/")]


def test_a_dataset_may_deploy_again_onto_its_own_endpoint() -> None:
    store = store_with_images()
    store.objects["models/sagechain-flowers/model.json"] = live_model_of("flowers", "sagechain-flowers")

    event = upload(store, flowers(deployment={"endpoint_name": "sagechain-flowers"}))

    assert isinstance(event, DatasetPrepared)


def test_images_from_this_accounts_prefixed_repositories_are_allowed_by_default() -> None:
    event = upload(store_with_images(), flowers(training={"algorithm": f"{OUR_REGISTRY}/sagechain-resnet:3"}))

    assert isinstance(event, DatasetPrepared)


def test_the_operator_can_allow_another_registry() -> None:
    shared = "999999999999.dkr.ecr.us-east-1.amazonaws.com/shared/"
    bounds = GUARDRAILS.model_copy(update={"allowed_training_image_repositories": (shared,)})

    event = upload(store_with_images(), flowers(training={"algorithm": f"{shared}resnet:3"}), bounds)

    assert isinstance(event, DatasetPrepared)


def test_a_spec_may_lower_the_labeling_ceiling() -> None:
    event = upload(store_with_images(), flowers(labeling={"max_cost_usd": 1}))

    assert isinstance(event, DatasetPrepared)


def test_a_valid_spec_carries_its_worst_case_cost() -> None:
    event = upload(store_with_images(), flowers())

    assert isinstance(event, DatasetPrepared)
    cost = event.worst_case
    assert cost is not None
    # 2 images x $0.08 + 1 job x 1 x ml.p3.2xlarge x 24 h x $3.825 + 2 x ml.m5.large x 24 h x $0.115
    assert (cost.labeling_usd, cost.training_usd, cost.endpoint_per_day_max_usd) == (
        Decimal("0.16"),
        Decimal("91.80"),
        Decimal("5.52"),
    )
    assert cost.endpoint_per_day_min_usd == Decimal("2.76")
    assert cost.total_usd == Decimal("97.48")
    assert cost.prices_as_of == PRICES_AS_OF


def test_tuning_is_priced_as_every_job_it_may_run() -> None:
    tuning = {"objective_metric": "validation:accuracy", "max_jobs": 4, "ranges": RANGES}

    event = upload(store_with_images(), flowers(training={"tuning": tuning, "max_runtime_seconds": 3600}))

    assert isinstance(event, DatasetPrepared)
    assert event.worst_case is not None
    assert (event.worst_case.training_jobs, event.worst_case.training_usd) == (4, Decimal("15.30"))


def test_a_worst_case_above_the_run_ceiling_is_rejected_with_the_figures() -> None:
    store = store_with_images()
    # 3 sets x 2 instances x 24 h x $3.825 = $550.80 on its own.
    sets = [{"epochs": "10"}, {"epochs": "20"}, {"epochs": "30"}]

    event = upload(store, flowers(training={"instance_count": 2, "hyperparameters": sets}))

    assert isinstance(event, DatasetRejected)
    assert "stack parameter MaxRunCostUsd" in event.reason
    assert "training $550.80" in event.reason
    assert event.worst_case is not None
    assert event.worst_case.total_usd == Decimal("556.48")
    assert not [key for key in store.objects if key.startswith("runs/")]


def test_an_instance_type_without_a_price_is_rejected_asking_for_an_override() -> None:
    bounds = GUARDRAILS.model_copy(update={"region": "eu-west-3"})

    event = upload(store_with_images(), flowers(), bounds)

    assert isinstance(event, DatasetRejected)
    assert "InstancePriceOverrides" in event.reason
    assert "ml.p3.2xlarge" in event.reason


def test_price_overrides_replace_the_table() -> None:
    env = {**dict(GUARDRAILS.model_dump(by_alias=True)), "AWS_DEFAULT_REGION": "eu-west-3"}
    env.update(
        {
            "ALLOWED_TRAINING_IMAGE_REPOSITORIES": "",
            "ALLOWED_TRAINING_INSTANCE_TYPES": "ml.p3.2xlarge",
            "ALLOWED_ENDPOINT_INSTANCE_TYPES": "ml.m5.large",
            "ALLOWED_WORKTEAM_ARNS": "",
            "INSTANCE_PRICE_OVERRIDES": "ml.p3.2xlarge=4.00, ml.m5.large=0.125",
        }
    )
    bounds = Guardrails.from_env({key: str(value) for key, value in env.items() if value is not None})

    event = upload(store_with_images(), flowers(), bounds)

    assert isinstance(event, DatasetPrepared)
    assert event.worst_case is not None
    assert (event.worst_case.training_usd, event.worst_case.endpoint_per_day_max_usd) == (
        Decimal("96.00"),
        Decimal("6.00"),
    )
    assert event.worst_case.prices_as_of == "override"


def test_an_endpoint_asked_to_outlive_the_stack_maximum_is_rejected_naming_the_bound() -> None:
    bounds = GUARDRAILS.model_copy(update={"max_endpoint_ttl_hours": 24})

    event = upload(store_with_images(), flowers(deployment={"ttl_hours": 48}), bounds)

    assert isinstance(event, DatasetRejected)
    assert (
        "deployment.ttl_hours is 48 hours; this stack deletes endpoints after at most 24 hours "
        "(stack parameter MaxEndpointTtlHours)" in event.reason
    )


def test_an_endpoint_that_never_expires_is_rejected_when_the_stack_has_a_maximum() -> None:
    bounds = GUARDRAILS.model_copy(update={"max_endpoint_ttl_hours": 24})

    event = upload(store_with_images(), flowers(), bounds)

    assert isinstance(event, DatasetRejected)
    assert "deployment.ttl_hours is 0 (never expires" in event.reason


@pytest.mark.parametrize("ttl_hours", [None, 0, 1, 8_760])
def test_without_a_maximum_any_ttl_is_accepted(ttl_hours: int | None) -> None:
    deployment = {} if ttl_hours is None else {"ttl_hours": ttl_hours}

    event = upload(store_with_images(), flowers(deployment=deployment))

    assert isinstance(event, DatasetPrepared)


OWN_CONTAINER = {
    "algorithm": f"{OUR_REGISTRY}/sagechain-histogram:1",
    "channels": {"train": {"source": "files"}, "validation": {"source": "files"}},
}


def test_a_serving_image_outside_the_allowed_repositories_is_rejected_and_the_dataset_kept() -> None:
    store = store_with_images()
    document = flowers(training=OWN_CONTAINER, deployment={"image": f"{OUR_REGISTRY}/other-team-serving:1"})

    event = upload(store, document)

    assert isinstance(event, DatasetRejected)
    assert f"deployment.image is {OUR_REGISTRY}/other-team-serving:1" in event.reason
    assert "AllowedTrainingImageRepositories" in event.reason
    assert "datasets/flowers/images/0.png" in store.objects


def test_a_serving_image_from_the_allowed_repositories_is_accepted() -> None:
    document = flowers(training=OWN_CONTAINER, deployment={"image": f"{OUR_REGISTRY}/sagechain-serving:1"})

    assert isinstance(upload(store_with_images(), document), DatasetPrepared)


def test_a_channel_reading_another_datasets_folder_is_rejected_at_upload() -> None:
    channels = {**OWN_CONTAINER["channels"], "config": {"source": "datasets/someone-else/config/"}}  # type: ignore[dict-item]

    event = upload(store_with_images(), flowers(training={**OWN_CONTAINER, "channels": channels}))

    assert isinstance(event, DatasetRejected)
    assert (
        "training.channels.config.source datasets/someone-else/config/ is not a folder of this dataset"
        in (event.reason)
    )
