"""Deployments that wait for a busy endpoint, and the autoscaling-aware UpdateEndpoint that ends the wait.

    models/<endpoint>/pending/<arrived>-<run_id>.json   a deployment waiting for its endpoint

SageMaker updates only an endpoint that is InService (UpdateEndpoint answers "Cannot update
in-progress endpoint" otherwise). A deployment that finds its endpoint Creating, Updating,
SystemUpdating or RollingBack creates its model and endpoint configuration at once, records
itself here and returns; configure_autoscaling, which receives the endpoint's next state change,
carries the waiting deployments out in arrival order (the key starts with the arrival time).
Nothing polls.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from sagechain.deployment.bookkeeping import JSON
from sagechain.layout import pending_prefix
from sagechain.ports import Autoscaler, DeploymentStore, EndpointState, ModelHost, Variant
from sagechain.records import ModelInfo, read_record


class PendingDeployment(BaseModel):
    """A deployment that arrived while its endpoint was busy: everything needed to carry it out."""

    model_config = ConfigDict(frozen=True)

    info: ModelInfo
    endpoint_config_name: str
    instance_type: str
    metric_name: str | None = None
    metric_value: float | None = None
    arrived_at: datetime
    endpoint_status: str
    # The run attempt deploying (attempts.py): the Deployment Started it becomes says it.
    attempt: int = 1


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


def update_endpoint(
    host: ModelHost, autoscaler: Autoscaler, endpoint: EndpointState, config_name: str, variant: Variant
) -> None:
    """An UpdateEndpoint that Application Auto Scaling will accept.

    Application Auto Scaling refuses an update that changes a registered variant's instance
    type or removes the variant; changing only the model is allowed. (SageMaker guide:
    https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html)
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
    host.update_endpoint(endpoint.name, config_name, retain_variant_properties=not forbidden)
