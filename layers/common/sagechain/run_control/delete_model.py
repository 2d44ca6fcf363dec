"""DELETE /models/{model}: delete a live model's endpoint, autoscaling, configurations and models.

The order keeps every step safe to repeat and every reader consistent:
1. claim the deletion: models/<model>/deletions/<model name>.json, written only if absent, so
   of two requests racing for one model exactly one deletes (the other is answered 409);
2. mark models/<model>/model.json deleted (`deleted_at`): predict answers 404 at once, and
   deploy_model and configure_autoscaling no longer see a live model there;
3. deregister the variants' scalable targets (which deletes their scaling policies and the
   target-tracking alarms), then DeleteEndpoint, DeleteEndpointConfig of the current and any
   pending configuration, DeleteModel of their models;
4. put "Model Deleted" on the bus: track_run ends the live run "deleted", notify emails it.

Only an endpoint at rest is deleted (InService, Failed, OutOfService, UpdateRollbackFailed): one
being created or updated carries a deployment whose own events would follow, so the answer is
409 until it settles.
"""

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import ModelNotFoundError, StateConflictError
from sagechain.errors import ResourceMissingError
from sagechain.events import ModelDeleted
from sagechain.layout import model_key
from sagechain.ports import Autoscaler, DeploymentStore, EventPublisher, HostingRemover
from sagechain.records import ModelInfo, read_record, write_record

_AT_REST = frozenset({"InService", "Failed", "OutOfService", "UpdateRollbackFailed"})
JSON = "application/json"


class ModelDeletion(BaseModel):
    """200: what DELETE /models/{model} deleted."""

    model_config = ConfigDict(frozen=True)

    model: str
    status: str = Field(default="deleted", description='Always "deleted".')
    deleted_at: datetime
    model_name: str = Field(description="The model that was live.")
    deleted_endpoint_configs: list[str]
    deleted_models: list[str]
    deregistered_variants: list[str]


def deletion_claim_key(model: str, model_name: str) -> str:
    """models/<model>/deletions/<model name>.json: who deleted that live model, and when."""
    return f"models/{model}/deletions/{model_name}.json"


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
    ) -> None:
        self._store = store
        self._host = host
        self._autoscaler = autoscaler
        self._publisher = publisher
        self._now = now

    def _live(self, model: str) -> ModelInfo:
        info = read_record(self._store, model_key(model), ModelInfo)
        if info is None:
            raise ModelNotFoundError(
                f"No model is named {model!r}. Model names are in the Model live emails."
            )
        if info.deleted_at is not None:
            raise StateConflictError(
                f"Model {model!r} was deleted at {info.deleted_at.isoformat()}: nothing is left to delete. "
                f"Uploading dataset {info.dataset}'s dataset.json again deploys a new model."
            )
        return info

    def delete_model(self, model: str, requested_by: str | None = None) -> ModelDeletion:
        """Delete the model; ModelNotFoundError when unknown, StateConflictError when it cannot be now."""
        info = self._live(model)
        endpoint = self._host.endpoint(info.endpoint_name)
        if endpoint is not None and endpoint.status not in _AT_REST:
            raise StateConflictError(
                f"Model {model!r} cannot be deleted while its endpoint is {endpoint.status}: a deployment "
                "is under way. Delete it once the endpoint is in service (the Model live or Deployment "
                "failed email says when)."
            )
        at = self._now()
        claim = info.model_copy(update={"deleted_at": at, "deleted_by": requested_by})
        if not self._store.put_bytes_if_absent(
            deletion_claim_key(model, info.model_name), claim.model_dump_json().encode(), JSON
        ):
            raise StateConflictError(f"Model {model!r} is already being deleted by another request.")
        write_record(self._store, model_key(model), claim)

        configs = (
            [] if endpoint is None else _unique([endpoint.config_name, endpoint.pending_config_name or ""])
        )
        variants = []
        for name in configs:
            with suppress(ResourceMissingError):  # deleted already: nothing of it to deregister
                variants.extend(self._host.endpoint_config(name).variants)
        deregistered = []
        for variant in _unique([v.name for v in variants]):
            if self._autoscaler.registered(info.endpoint_name, variant) is not None:
                self._autoscaler.deregister(info.endpoint_name, variant)
                deregistered.append(variant)
        if endpoint is not None:
            self._host.delete_endpoint(info.endpoint_name)
        for name in configs:
            self._host.delete_endpoint_config(name)
        models = _unique([*(v.model_name for v in variants), info.model_name])
        for name in models:
            self._host.delete_model(name)

        self._publisher.publish(
            ModelDeleted(
                run_id=info.run_id,
                dataset=info.dataset,
                attempt=info.attempt,
                endpoint_name=info.endpoint_name,
                model_name=info.model_name,
                deleted_endpoint_configs=configs,
                deleted_models=models,
                deregistered_variants=deregistered,
                requested_by=requested_by,
            )
        )
        return ModelDeletion(
            model=model,
            deleted_at=at,
            model_name=info.model_name,
            deleted_endpoint_configs=configs,
            deleted_models=models,
            deregistered_variants=deregistered,
        )
