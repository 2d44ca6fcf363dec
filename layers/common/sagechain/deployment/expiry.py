"""Endpoint expiry: deployment.ttl_hours after its newest model went live, the endpoint goes.

configure_autoscaling, as a model goes live, puts one EventBridge Scheduler one-time schedule per
endpoint (named after it, so a later go-live replaces it and the count starts again; a spec with
ttl_hours 0 removes it). When it fires, expire_endpoint deregisters the endpoint's autoscaling,
deletes the endpoint, the configurations and models model.json names (the live one and the one kept
for a rollback), marks models/<endpoint>/model.json expired (predict then answers 404) and emits
"Model Expired". A schedule that fires for a model no longer due (replaced meanwhile) does nothing.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from pydantic import BaseModel, ConfigDict

from sagechain.console import console_url
from sagechain.deployment.alarms import delete_rollback_alarms
from sagechain.deployment.bookkeeping import Outcome, live_key, read_model_info
from sagechain.errors import RequestRefusedError
from sagechain.events import ModelExpired
from sagechain.names import expiry_schedule_name
from sagechain.observability import logger
from sagechain.ports import (
    Autoscaler,
    DeploymentStore,
    EventPublisher,
    ExpirySchedules,
    RollbackAlarms,
    StackSageMaker,
)
from sagechain.records import ModelInfo, write_record


class ExpiryDue(BaseModel):
    """The schedule's input, the expiry function's event: which endpoint, for which model, when."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    endpoint_name: str
    model_name: str
    run_id: str
    expires_at: datetime


def schedule_expiry(
    schedules: ExpirySchedules, info: ModelInfo, ttl_hours: int, now: datetime
) -> datetime | None:
    """Put (or replace) the endpoint's expiry schedule; with ttl_hours 0 remove it. When it expires."""
    name = expiry_schedule_name(info.endpoint_name)
    if ttl_hours == 0:
        schedules.remove(name)
        return None
    expires_at = now.replace(microsecond=0) + timedelta(hours=ttl_hours)
    due = ExpiryDue(
        endpoint_name=info.endpoint_name,
        model_name=info.model_name,
        run_id=info.run_id,
        expires_at=expires_at,
    )
    schedules.put(name, expires_at, due.model_dump_json())
    return expires_at


def _delete_alarms(alarms: RollbackAlarms, endpoint: str) -> None:
    delete_rollback_alarms(alarms, endpoint)


def expire_endpoint(
    due: ExpiryDue,
    sagemaker: StackSageMaker,
    autoscaler: Autoscaler,
    store: DeploymentStore,
    publisher: EventPublisher,
    region: str,
    now: datetime,
    alarms: RollbackAlarms | None = None,
) -> Outcome:
    """Delete the endpoint, its configurations and models (and its rollback alarms, given alarms) once
    its TTL has passed; Model Expired."""
    name = due.endpoint_name
    live = read_model_info(store, live_key(name))
    if live is None:
        return Outcome("ignored", f"endpoint {name} has no live model")
    if live.expired_at is not None:
        return Outcome("ignored", f"endpoint {name} expired already at {live.expired_at.isoformat()}")
    if live.expires_at is None or live.expires_at > now:
        when = "never" if live.expires_at is None else live.expires_at.isoformat()
        return Outcome("ignored", f"endpoint {name} is not due: {live.model_name} expires {when}")
    deleted: list[str] = []
    refused: list[str] = []

    def attempt(what: str, delete: Callable[[], None]) -> None:
        try:
            delete()
        except RequestRefusedError as err:
            refused.append(f"{what} ({err.code}: {err.message})")
            logger.warning("not deleted", extra={"resource": what, "error": str(err)})
        else:
            deleted.append(what)

    kept = [info for info in (live, live.previous) if info is not None]
    if autoscaler.registered(name, live.variant_name) is not None:
        attempt(
            f"autoscaling of {name}/{live.variant_name}",
            lambda: autoscaler.deregister(name, live.variant_name),
        )
    attempt(f"endpoint {name}", lambda: sagemaker.delete_endpoint(name))
    if alarms is not None:
        attempt(f"rollback alarms of {name}", partial(_delete_alarms, alarms, name))
    for config in dict.fromkeys(info.endpoint_config_name for info in kept if info.endpoint_config_name):
        attempt(f"endpoint configuration {config}", partial(sagemaker.delete_endpoint_config, config))
    for model in dict.fromkeys(info.model_name for info in kept):
        attempt(f"model {model}", partial(sagemaker.delete_model, model))
    write_record(store, live_key(name), live.model_copy(update={"expired_at": now}))
    event = ModelExpired(
        run_id=live.run_id,
        dataset=live.dataset,
        attempt=live.attempt,
        endpoint_name=name,
        model_name=live.model_name,
        expires_at=live.expires_at,
        expired_at=now,
        deleted=deleted,
        not_deleted=refused,
        console_url=console_url(region, "endpoints", name),
    )
    publisher.publish(event)
    return Outcome(event.DETAIL_TYPE, None, event)
