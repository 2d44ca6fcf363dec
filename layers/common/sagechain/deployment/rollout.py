"""How an update of a live endpoint moves traffic: SageMaker's deployment guardrails, from the spec.

Every UpdateEndpoint is a blue/green deployment: SageMaker provisions the new (green) fleet,
shifts traffic from the old (blue) one all at once, as a canary, or in linear steps, bakes for
TerminationWaitInSeconds while the AutoRollbackConfiguration alarms watch, then terminates blue.
An alarm in ALARM during any baking period rolls all traffic back to blue.
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeploymentConfig.html)

The exclusions (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html):
the new configuration must keep the old one's variant name, and endpoints on Inf1 (Inferentia)
instances fall back to blue/green all at once with no final baking. Such an update is sent
without a DeploymentConfig and says so in plain words, rather than promising a canary.
"""

from dataclasses import dataclass
from typing import Literal

from sagechain.ports import BlueGreenUpdate, EndpointConfig, TrafficShift, Variant
from sagechain.spec import RolloutSpec, RolloutStrategy

MINUTE = 60
# MaximumExecutionTimeoutInSeconds: 600-28,800 (BlueGreenUpdatePolicy, API reference), and larger
# than the waits and the baking together; the rest is left for provisioning the green fleet.
MIN_EXECUTION_SECONDS = 600
MAX_EXECUTION_SECONDS = 28_800
PROVISIONING_SECONDS = 3_600
# Inf1 (Inferentia) endpoints do not support deployment guardrails (exclusions page).
_NO_GUARDRAILS_FAMILIES = ("ml.inf1.",)


@dataclass(frozen=True)
class PlannedUpdate:
    """The DeploymentConfig to send (None: SageMaker's default) and how traffic moves, in words."""

    blue_green: BlueGreenUpdate | None
    traffic: str


def _size_text(rollout: RolloutSpec) -> str:
    size = rollout.step_size()
    return f"{size} %" if rollout.size_unit == "percent" else f"{size} instance{'s' if size != 1 else ''}"


def _traffic_text(rollout: RolloutSpec, baking_minutes: int) -> str:
    baking = f"; {baking_minutes} min of baking before the old fleet is terminated" if baking_minutes else ""
    match rollout.strategy:
        case RolloutStrategy.CANARY:
            return f"canary {_size_text(rollout)} for {rollout.wait_minutes} min, then 100 %{baking}"
        case RolloutStrategy.LINEAR:
            return (
                f"linear steps of {_size_text(rollout)} every {rollout.wait_minutes} min up to 100 %{baking}"
            )
    return f"all at once{baking}"


def _rollout_all_at_once(rollout: RolloutSpec) -> RolloutSpec:
    return rollout.model_copy(update={"strategy": RolloutStrategy.ALL_AT_ONCE, "size": None})


def plan_update(
    rollout: RolloutSpec, current: EndpointConfig, new: Variant, fleet: int, alarms: tuple[str, ...]
) -> PlannedUpdate:
    """The blue/green update from the live configuration to the new variant (fleet: its instances)."""
    names = sorted({v.name for v in current.variants})
    if names != [new.name]:
        return PlannedUpdate(
            None,
            f"all at once: the new variant {new.name} is not the live {', '.join(names)}, and SageMaker's "
            "deployment guardrails need the same variant name",
        )
    types = {v.instance_type or "" for v in current.variants} | {new.instance_type or ""}
    excluded = sorted(t for t in types if t.startswith(_NO_GUARDRAILS_FAMILIES))
    if excluded:
        return PlannedUpdate(
            None,
            f"all at once, no baking: {', '.join(excluded)} instances do not support SageMaker's deployment "
            "guardrails",
        )
    strategy, baking = rollout.strategy, rollout.baking_minutes or 0
    if strategy is None or (strategy == RolloutStrategy.ALL_AT_ONCE and not baking and not alarms):
        # A spec.json from before deployment.rollout, or nothing to watch: SageMaker's default.
        return PlannedUpdate(None, "all at once")
    if strategy != RolloutStrategy.ALL_AT_ONCE and fleet < 2:
        # A canary or a step of one instance would be the whole fleet (at most half, the canary and
        # linear pages say): the update bakes all at once instead, watched by the same alarms.
        fallback = _rollout_all_at_once(rollout)
        planned = plan_update(fallback, current, new, fleet, alarms)
        return PlannedUpdate(
            planned.blue_green, f"{planned.traffic} ({strategy} needs a fleet of at least 2 instances)"
        )
    wait = rollout.wait_minutes * MINUTE if strategy != RolloutStrategy.ALL_AT_ONCE else 0
    unit: Literal["CAPACITY_PERCENT", "INSTANCE_COUNT"] = (
        "CAPACITY_PERCENT" if rollout.size_unit == "percent" else "INSTANCE_COUNT"
    )
    match strategy:
        case RolloutStrategy.CANARY:
            traffic = TrafficShift("CANARY", wait, unit, rollout.step_size())
        case RolloutStrategy.LINEAR:
            traffic = TrafficShift("LINEAR", wait, unit, rollout.step_size())
        case _:
            traffic = TrafficShift("ALL_AT_ONCE", 0)
    waiting = rollout.shifts(fleet) * wait + baking * MINUTE
    timeout = min(MAX_EXECUTION_SECONDS, max(MIN_EXECUTION_SECONDS, waiting + PROVISIONING_SECONDS))
    shown = rollout.model_copy(update={"strategy": strategy})
    return PlannedUpdate(
        BlueGreenUpdate(traffic, baking * MINUTE, timeout, alarms), _traffic_text(shown, baking)
    )
