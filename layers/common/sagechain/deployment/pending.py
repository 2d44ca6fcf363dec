"""Deployments that wait for a busy endpoint, and the autoscaling-aware UpdateEndpoint that ends the wait.

    models/<endpoint>/pending/<arrived>-<run_id>.json   a deployment waiting for its endpoint

SageMaker updates only an endpoint that is InService (UpdateEndpoint answers "Cannot update
in-progress endpoint" otherwise). A deployment that finds its endpoint Creating, Updating,
SystemUpdating or RollingBack creates its model and endpoint configuration at once, records
itself here and returns; configure_autoscaling, which receives the endpoint's next state change,
carries the waiting deployments out in arrival order (the key starts with the arrival time).
Nothing polls.
"""

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from sagechain.deployment.alarms import AlarmThresholds, arm_rollback_alarms
from sagechain.deployment.bookkeeping import JSON
from sagechain.deployment.rollout import PlannedUpdate, plan_update
from sagechain.events import ModelChoice
from sagechain.layout import pending_prefix
from sagechain.ports import Autoscaler, DeploymentStore, EndpointState, ModelHost, RollbackAlarms, Variant
from sagechain.records import ModelInfo, RolloutRecord, read_record
from sagechain.spec import DeploymentSpec, RolloutSpec


class PendingDeployment(BaseModel):
    """A deployment that arrived while its endpoint was busy: everything needed to carry it out."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    info: ModelInfo
    endpoint_config_name: str
    instance_type: str
    metric_name: str | None = None
    metric_value: float | None = None
    arrived_at: datetime
    endpoint_status: str
    # The run attempt deploying (attempts.py): the Deployment Started it becomes says it.
    attempt: int = 1
    # How its job was chosen (final metrics, comparison): the Deployment Started it becomes carries it.
    choice: ModelChoice | None = None


def _pending_key(pending: PendingDeployment) -> str:
    arrived = pending.arrived_at.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{pending_prefix(pending.info.endpoint_name)}{arrived}-{pending.info.run_id}.json"


def waiting_deployments(store: DeploymentStore, endpoint: str) -> list[tuple[str, PendingDeployment]]:
    """The deployments waiting for the endpoint, in arrival order, with their keys."""
    found: list[tuple[str, PendingDeployment]] = []
    for stored in store.iter_objects(pending_prefix(endpoint)):
        pending = read_record(store, stored.key, PendingDeployment)
        if pending is not None:
            found.append((stored.key, pending))
    return found


def record_pending(store: DeploymentStore, pending: PendingDeployment) -> int:
    """Queue the deployment (once per run attempt); how many deployments arrived before it."""
    waiting = waiting_deployments(store, pending.info.endpoint_name)
    for position, (_key, earlier) in enumerate(waiting):
        if (earlier.info.run_id, earlier.attempt) == (pending.info.run_id, pending.attempt):
            return position  # a repeated event: already waiting
    store.put_bytes(_pending_key(pending), pending.model_dump_json().encode(), JSON)
    return len(waiting)


@dataclass(frozen=True)
class UpdateSafety:
    """What makes an update safe: the spec's traffic shifting and the alarms it rolls back on."""

    rollout: RolloutSpec
    alarms: tuple[str, ...] = ()


def update_safety(
    alarms: RollbackAlarms | None,
    endpoint: str,
    variant: str,
    deployment: DeploymentSpec,
    thresholds: AlarmThresholds,
    tags: dict[str, str],
) -> UpdateSafety:
    """The spec's traffic shifting, with the endpoint's rollback alarms put for this update (none
    without a CloudWatch port: the update still shifts and bakes, nothing rolls it back)."""
    # A spec.json from before deployment.rollout gets SageMaker's default update: nothing to watch.
    if alarms is None or deployment.rollout.strategy is None:
        return UpdateSafety(deployment.rollout)
    names = arm_rollback_alarms(alarms, endpoint, variant, deployment, thresholds, tags)
    return UpdateSafety(deployment.rollout, names)


def fleet_size(deployment: DeploymentSpec, endpoint: EndpointState | None) -> int:
    """The new configuration's instance count: the endpoint's current count within the spec's range, so
    an update (an instance type change too) never starts the new fleet below what serves now."""
    current = endpoint.instance_count if endpoint is not None else None
    if current is None:
        return deployment.min_instances
    return max(deployment.min_instances, min(current, deployment.max_instances))


def update_endpoint(
    host: ModelHost,
    autoscaler: Autoscaler,
    endpoint: EndpointState,
    config_name: str,
    variant: Variant,
    safety: UpdateSafety | None = None,
) -> RolloutRecord:
    """An UpdateEndpoint that Application Auto Scaling will accept, blue/green with the spec's
    traffic shifting and rollback alarms (safety; None: SageMaker's default); how traffic moves.

    Application Auto Scaling refuses an update that changes a registered variant's instance
    type or removes the variant; changing only the model is allowed. (SageMaker guide:
    https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html) The new
    configuration was created with at least the endpoint's current instance count, so the green
    fleet is never smaller than the blue one it replaces; configure_autoscaling registers the
    variant again once the endpoint is back in service.
    """
    current = host.endpoint_config(endpoint.config_name)
    forbidden = [
        v.name
        for v in current.variants
        if (v.name != variant.name or v.instance_type != variant.instance_type)
        and autoscaler.registered(endpoint.name, v.name) is not None
    ]
    for name in forbidden:
        autoscaler.deregister(endpoint.name, name)
    # Retaining variant properties keeps the instance count autoscaling reached; after a
    # deregistration the new configuration's count applies and autoscaling registers again.
    if safety is None:
        plan = PlannedUpdate(None, "all at once")
    else:
        fleet = max(endpoint.instance_count or 1, 1)
        plan = plan_update(safety.rollout, current, variant, fleet, safety.alarms)
    host.update_endpoint(
        endpoint.name, config_name, retain_variant_properties=not forbidden, blue_green=plan.blue_green
    )
    return RolloutRecord(
        traffic=plan.traffic,
        alarms=list(plan.blue_green.alarms) if plan.blue_green is not None else [],
        instances_before=endpoint.instance_count,
        instance_type_before=current.variants[0].instance_type if current.variants else None,
    )
