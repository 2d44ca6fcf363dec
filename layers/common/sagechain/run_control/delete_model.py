"""DELETE /models/{model}: delete a live model's endpoint, autoscaling, configurations and models.

The order keeps every step safe to repeat and every reader consistent:
1. claim the deletion: models/<model>/deletions/<model name>.json (a DeletionClaim), written only
   if absent, so of two requests racing for one model exactly one deletes. The claim is in state
   "deleting" and records what is to be deleted (configurations, models, autoscaled variants), as
   read before anything was deleted;
2. mark models/<model>/model.json deleted (`deleted_at`): predict answers 404 at once, and
   deploy_model and configure_autoscaling no longer see a live model there; then delete the
   endpoint's expiry schedule (deployment.ttl_hours), so that nothing fires for it later (one
   already gone, or never made, is fine);
3. deregister the variants' scalable targets (which deletes their scaling policies and the
   target-tracking alarms), then DeleteEndpoint, DeleteEndpointConfig of the current and any
   pending configuration, DeleteModel of their models (each a no-op when already gone);
4. put "Model Deleted" on the bus: track_run ends the live run "deleted", notify emails it;
5. the claim's state becomes "deleted".

A request that dies half-way (a timeout, a throttled call retried past the function's time) leaves
the claim "deleting": DELETE again resumes it from the claim's record and finishes the same
deletion (200, the same answer). Only once the claim's lease has passed, though: until then the
request that holds it may still be running, and a duplicate is answered 409 saying when to try
again. A resumed attempt claims its own key (models/<model>/deletions/<model name>.<attempt>.json,
only if absent), so of two racing retries one resumes. Should a request die between steps 4 and
5, its retry publishes Model Deleted again; track_run and notify keep one of each per run.

Only an endpoint at rest is deleted (InService, Failed, OutOfService, UpdateRollbackFailed): one
being created or updated carries a deployment whose own events would follow, so the answer is
409 until it settles.
"""

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import ModelNotFoundError, StateConflictError
from sagechain.errors import ResourceMissingError
from sagechain.events import ModelDeleted
from sagechain.layout import model_key
from sagechain.names import expiry_schedule_name, rollback_alarm_names
from sagechain.ports import (
    Autoscaler,
    DeploymentStore,
    EventPublisher,
    ExpirySchedules,
    HostingRemover,
    RollbackAlarms,
)
from sagechain.records import ModelInfo, read_record, write_record

_AT_REST = frozenset({"InService", "Failed", "OutOfService", "UpdateRollbackFailed"})
JSON = "application/json"
# How long a claim is the claiming request's: longer than RunControlFunction's Timeout (20 s), so a
# request still running is never resumed under it (tests/unit/test_delete_model.py checks).
DELETION_LEASE = timedelta(seconds=60)


class ModelDeletion(BaseModel):
    """200: what DELETE /models/{model} deleted."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    status: str = Field(default="deleted", description='Always "deleted".')
    deleted_at: datetime
    model_name: str = Field(description="The model that was live.")
    deleted_endpoint_configs: list[str]
    deleted_models: list[str]
    deregistered_variants: list[str]
    deleted_expiry_schedule: str | None = Field(
        default=None,
        description="The endpoint's expiry schedule (deployment.ttl_hours), deleted with it: it will "
        "not fire. None when the model was not due to expire.",
    )


class DeletionClaim(BaseModel):
    """models/<model>/deletions/<model name>.json: one deletion of one live model, and how far it got."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    state: Literal["deleting", "deleted"]
    deleted_at: datetime = Field(description="When the deletion was first asked for.")
    requested_by: str | None = None
    # The request doing the work since claimed_at; a resumed one takes the next attempt.
    attempt: int = 1
    claimed_at: datetime
    live: ModelInfo = Field(description="The model that was live, as model.json had it.")
    endpoint_configs: list[str]
    models: list[str]
    deregistered_variants: list[str] = Field(description="The variants that were under autoscaling.")


def deletion_claim_key(model: str, model_name: str) -> str:
    """models/<model>/deletions/<model name>.json: who deleted that live model, when, and how far."""
    return f"models/{model}/deletions/{model_name}.json"


def attempt_claim_key(model: str, model_name: str, attempt: int) -> str:
    """models/<model>/deletions/<model name>.<attempt>.json: the request that resumed a deletion."""
    return f"models/{model}/deletions/{model_name}.{attempt}.json"


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(name for name in names if name))


class DeleteModelService:
    """Deletes what serves a model, once, and says so on the bus."""

    def __init__(
        self,
        store: DeploymentStore,
        host: HostingRemover,
        autoscaler: Autoscaler,
        publisher: EventPublisher,
        now: Callable[[], datetime],
        alarms: RollbackAlarms | None = None,
        schedules: ExpirySchedules | None = None,
    ) -> None:
        self._store = store
        self._host = host
        self._autoscaler = autoscaler
        self._publisher = publisher
        self._now = now
        self._alarms = alarms
        self._schedules = schedules

    def delete_model(self, model: str, requested_by: str | None = None) -> ModelDeletion:
        """Delete the model, or finish its deletion; ModelNotFoundError when unknown, StateConflictError
        when it cannot be now."""
        info = read_record(self._store, model_key(model), ModelInfo)
        if info is None:
            raise ModelNotFoundError(
                f"No model is named {model!r}. Model names are in the Model live emails."
            )
        if info.deleted_at is None:
            claim = self._claim(model, info, requested_by)
        else:
            claim = self._resume(model, info, info.deleted_at)
        return self._finish(model, claim)

    def _claim(self, model: str, info: ModelInfo, requested_by: str | None) -> DeletionClaim:
        """Record what is to be deleted and claim it, or take over a claim whose request died."""
        endpoint = self._host.endpoint(info.endpoint_name)
        if endpoint is not None and endpoint.status not in _AT_REST:
            raise StateConflictError(
                f"Model {model!r} cannot be deleted while its endpoint is {endpoint.status}: a deployment "
                "is under way. Delete it once the endpoint is in service (the Model live or Deployment "
                "failed email says when)."
            )
        configs = (
            [] if endpoint is None else _unique([endpoint.config_name, endpoint.pending_config_name or ""])
        )
        variants = []
        for name in configs:
            with suppress(ResourceMissingError):  # deleted already: nothing of it to deregister
                variants.extend(self._host.endpoint_config(name).variants)
        at = self._now()
        claim = DeletionClaim(
            state="deleting",
            deleted_at=at,
            requested_by=requested_by,
            claimed_at=at,
            live=info,
            endpoint_configs=configs,
            models=_unique([*(v.model_name for v in variants), info.model_name]),
            deregistered_variants=[
                variant
                for variant in _unique([v.name for v in variants])
                if self._autoscaler.registered(info.endpoint_name, variant) is not None
            ],
        )
        key = deletion_claim_key(model, info.model_name)
        if self._store.put_bytes_if_absent(key, claim.model_dump_json().encode(), JSON):
            return claim
        # Claimed before, by a request that may have died before it marked model.json.
        existing = read_record(self._store, key, DeletionClaim)
        if existing is None:  # claimed and gone again: nothing to take over
            raise StateConflictError(f"Model {model!r} is already being deleted by another request.")
        return self._take_over(model, existing)

    def _resume(self, model: str, info: ModelInfo, deleted_at: datetime) -> DeletionClaim:
        """The claim of a model marked deleted: finished (409), or left half-way (taken over)."""
        claim = read_record(self._store, deletion_claim_key(model, info.model_name), DeletionClaim)
        if claim is None or claim.state == "deleted":
            raise StateConflictError(
                f"Model {model!r} was deleted at {deleted_at.isoformat()}: nothing is left to delete. "
                f"Uploading dataset {info.dataset}'s dataset.json again deploys a new model."
            )
        return self._take_over(model, claim)

    def _take_over(self, model: str, claim: DeletionClaim) -> DeletionClaim:
        """The next attempt of a deletion whose request died (its lease passed); else a 409 saying when."""
        if claim.state == "deleted":
            raise StateConflictError(
                f"Model {model!r} was deleted at {claim.deleted_at.isoformat()}: nothing is left to delete."
            )
        now = self._now()
        lease_ends = claim.claimed_at + DELETION_LEASE
        taken = claim.model_copy(update={"attempt": claim.attempt + 1, "claimed_at": now})
        if now < lease_ends or not self._store.put_bytes_if_absent(
            attempt_claim_key(model, claim.live.model_name, taken.attempt),
            taken.model_dump_json().encode(),
            JSON,
        ):
            raise StateConflictError(
                f"Model {model!r} is already being deleted by another request (since "
                f"{claim.claimed_at.isoformat()}). If that request failed, DELETE again after "
                f"{lease_ends.isoformat()} to finish the deletion."
            )
        write_record(self._store, deletion_claim_key(model, claim.live.model_name), taken)
        return taken

    def _finish(self, model: str, claim: DeletionClaim) -> ModelDeletion:
        """Steps 2 to 5 for a claim this request holds; each is safe to repeat."""
        info = claim.live
        marked = info.model_copy(update={"deleted_at": claim.deleted_at, "deleted_by": claim.requested_by})
        write_record(self._store, model_key(model), marked)
        schedule = self._delete_expiry_schedule(info)
        # What an earlier attempt deleted is skipped, not deleted again: IAM allows a Delete* only on
        # what carries this stack's tag, and what is gone has no tags (AccessDenied, not "not found").
        self._delete_endpoint_dependents(info.endpoint_name, claim.deregistered_variants)
        endpoint = self._host.endpoint(info.endpoint_name)
        if endpoint is not None and endpoint.status != "Deleting":
            self._host.delete_endpoint(info.endpoint_name)
        for name in claim.endpoint_configs:
            if self._config_exists(name):
                self._host.delete_endpoint_config(name)
        for name in claim.models:
            if self._host.model_exists(name):
                self._host.delete_model(name)
        self._publisher.publish(
            ModelDeleted(
                run_id=info.run_id,
                dataset=info.dataset,
                attempt=info.attempt,
                endpoint_name=info.endpoint_name,
                model_name=info.model_name,
                deleted_endpoint_configs=claim.endpoint_configs,
                deleted_models=claim.models,
                deregistered_variants=claim.deregistered_variants,
                deleted_expiry_schedule=schedule,
                requested_by=claim.requested_by,
            )
        )
        write_record(
            self._store,
            deletion_claim_key(model, info.model_name),
            claim.model_copy(update={"state": "deleted"}),
        )
        return ModelDeletion(
            model=model,
            deleted_at=claim.deleted_at,
            model_name=info.model_name,
            deleted_endpoint_configs=claim.endpoint_configs,
            deleted_models=claim.models,
            deregistered_variants=claim.deregistered_variants,
            deleted_expiry_schedule=schedule,
        )

    def _delete_expiry_schedule(self, info: ModelInfo) -> str | None:
        """DeleteSchedule of the endpoint's expiry schedule, always (a no-op when it is gone, as after
        an earlier attempt or for a model with no expiry); its name when the model was due to expire."""
        name = expiry_schedule_name(info.endpoint_name)
        if self._schedules is not None:
            self._schedules.remove(name)
        return name if info.expires_at is not None else None

    def _delete_endpoint_dependents(self, endpoint: str, scaled_variants: list[str]) -> None:
        """What hangs off the endpoint and goes before it: its variants' autoscaling (policies and
        target-tracking alarms go with it) and its rollback alarms (deleting a name that is gone is
        no error), as teardown.service.endpoint_dependents does for the stack's deletion."""
        for variant in scaled_variants:
            if self._autoscaler.registered(endpoint, variant) is not None:
                self._autoscaler.deregister(endpoint, variant)
        if self._alarms is not None:
            self._alarms.delete(rollback_alarm_names(endpoint))

    def _config_exists(self, name: str) -> bool:
        try:
            self._host.endpoint_config(name)
        except ResourceMissingError:
            return False
        return True
