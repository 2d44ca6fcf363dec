"""deployment.rollout, max_latency_p99_ms, disable_scale_in: stack defaults, bounds checked at upload."""

import json
from typing import Any

import pytest

from sagechain.errors import DatasetRejectedError
from sagechain.events import DatasetRejected
from sagechain.guardrails import Guardrails, spec_violations
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec, RolloutStrategy, parse_spec
from tests.unit.test_guardrails import flowers, store_with_images, upload

DEFAULTS = SpecDefaults.from_env(
    {
        "DEFAULT_MAX_LABELING_COST_USD": "100",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
        "DEFAULT_ENDPOINT_TTL_HOURS": "0",
        "DEFAULT_ROLLOUT_STRATEGY": "canary",
        "DEFAULT_ROLLOUT_BAKING_MINUTES": "15",
        "MAX_MODEL_LATENCY_MS": "800",
    }
)
BOUNDS = Guardrails.from_env()


def violations(deployment: dict[str, Any], **bounds: Any) -> list[str]:
    spec = DatasetSpec.model_validate(flowers(deployment=deployment)).with_defaults(DEFAULTS)
    return spec_violations(spec, BOUNDS.model_copy(update=bounds))


def test_a_spec_without_rollout_gets_the_stacks_strategy_baking_and_latency() -> None:
    spec = DatasetSpec.model_validate(flowers()).with_defaults(DEFAULTS)

    rollout = spec.deployment.rollout
    assert (rollout.strategy, rollout.baking_minutes, rollout.step_size()) == (RolloutStrategy.CANARY, 15, 10)
    assert spec.deployment.max_latency_p99_ms == 800
    assert spec.deployment.disable_scale_in is False


def test_a_spec_may_lower_the_latency_threshold_and_choose_linear() -> None:
    document = flowers(
        deployment={
            "max_latency_p99_ms": 300,
            "rollout": {"strategy": "linear", "size": 25, "wait_minutes": 5},
        }
    )
    spec = DatasetSpec.model_validate(document).with_defaults(DEFAULTS)

    assert spec.deployment.max_latency_p99_ms == 300
    assert spec.deployment.rollout.total_minutes(fleet=1) == 4 * 5 + 15
    assert spec_violations(spec, BOUNDS) == []


def test_baking_longer_than_the_stack_allows_names_max_rollout_baking_minutes() -> None:
    found = violations({"rollout": {"baking_minutes": 45}}, max_rollout_baking_minutes=30)

    assert found == [
        "deployment.rollout.baking_minutes is 45 minutes; this stack allows at most 30 minutes "
        "(stack parameter MaxRolloutBakingMinutes)"
    ]


def test_a_linear_step_that_cannot_reach_100_percent_in_time_names_max_rollout_minutes() -> None:
    found = violations({"rollout": {"strategy": "linear", "size": 10, "wait_minutes": 60}})

    assert len(found) == 1
    assert "a linear step of 10% every 60 minutes reaches 100 % only after 10 steps" in found[0]
    assert "at most 240 minutes (stack parameter MaxRolloutMinutes)" in found[0]


def test_a_latency_threshold_above_the_stacks_names_max_model_latency_ms() -> None:
    found = violations({"max_latency_p99_ms": 9_000})

    assert found == [
        "deployment.max_latency_p99_ms is 9000 ms; this stack allows at most 5000 ms "
        "(stack parameter MaxModelLatencyMs)"
    ]


@pytest.mark.parametrize(
    ("deployment", "words"),
    [
        ({"max_latency_p99_ms": 0}, "deployment.max_latency_p99_ms: Input should be greater than 0"),
        ({"rollout": {"strategy": "canary", "size": 60}}, "a canary is at most 50 % of the new fleet"),
        ({"rollout": {"strategy": "linear", "size": 5}}, "a linear step is 10-50 % of the new fleet"),
        (
            {"min_instances": 2, "rollout": {"strategy": "canary", "size_unit": "instances", "size": 2}},
            "a canary or linear step is at most half of the new fleet",
        ),
    ],
    ids=["zero latency", "canary over half", "linear step under 10 %", "canary of the whole fleet"],
)
def test_rollouts_sagemaker_cannot_run_are_rejected(deployment: dict[str, Any], words: str) -> None:
    with pytest.raises(DatasetRejectedError, match=words):
        parse_spec(_json(flowers(deployment=deployment)), "datasets/flowers/dataset.json")


def test_a_default_canary_too_large_is_rejected_once_the_stack_default_applies() -> None:
    # The size is checked against the strategy only after DefaultRolloutStrategy filled it in.
    assert "a canary is at most 50 % of the new fleet" in " ".join(violations({"rollout": {"size": 60}}))


def test_an_upload_with_a_rollout_beyond_the_bounds_is_rejected_and_starts_nothing() -> None:
    store = store_with_images()

    event = upload(
        store, flowers(deployment={"rollout": {"strategy": "linear", "size": 10, "wait_minutes": 60}})
    )

    assert isinstance(event, DatasetRejected)
    assert "stack parameter MaxRolloutMinutes" in event.reason
    assert not [key for key in store.objects if key.startswith("runs/")]


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()
