"""POST /models/{model}/rollback: put the previous live model back on its endpoint, without retraining.

The previous live model is the one models/<model>/model.json names as `previous`:
configure_autoscaling records it there each time a model goes live, and keeps its model and
endpoint configuration (cleanup deletes only older ones). So one read finds it, however many
runs the stack has had. Rolling back is a deployment like any other: a new endpoint
configuration, a copy of the previous model's own (same model, variant and instance type, the
instances serving now within the run's range), tagged with the previous run, so that its state
changes are new to configure_autoscaling
(whose idempotency key names endpoint, configuration and status); models/<model>/deploying.json
names the model in flight; and the update is the autoscaling-aware UpdateEndpoint of
pending.py. When the endpoint is back in service, configure_autoscaling registers
autoscaling for it, makes it the live model and announces Model Live. So rolling back twice
puts the model rolled away from back. A claim, models/<model>/rollbacks/<live model>-<deployed
at>.json written only if absent, makes of two racing requests one rollback.
"""

from pydantic import BaseModel, ConfigDict

from sagechain import names
from sagechain.api_errors import ModelNotFoundError, StateConflictError
from sagechain.deployment.bookkeeping import (
    JSON,
    endpoint_config_name_for,
    live_key,
    read_model_info,
    read_run,
)
from sagechain.deployment.pending import fleet_size, update_endpoint
from sagechain.errors import ResourceMissingError
from sagechain.events import ModelRolledBack
from sagechain.layout import deploying_key
from sagechain.ports import Autoscaler, DeploymentStore, EventPublisher, ModelHost
from sagechain.records import ModelInfo, read_record


class ModelRollback(BaseModel):
    """202: the endpoint is being updated to the previous model."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    status: str = "rolling_back"
    model_name: str
    run_id: str
    endpoint_config_name: str
    replaced_model_name: str
    replaced_run_id: str


class RollbackService:
    """Finds the previous live model of an endpoint and deploys it again."""

    def __init__(
        self,
        store: DeploymentStore,
        host: ModelHost,
        autoscaler: Autoscaler,
        publisher: EventPublisher,
        name_prefix: str,
        stack_name: str,
    ) -> None:
        self._store = store
        self._host = host
        self._autoscaler = autoscaler
        self._publisher = publisher
        self._prefix = name_prefix
        self._stack_name = stack_name

    def _live(self, model: str) -> ModelInfo:
        info = read_record(self._store, live_key(model), ModelInfo)
        if info is None:
            raise ModelNotFoundError(
                f"No model is named {model!r}. Model names are in the Model live emails."
            )
        if info.deleted_at is not None:
            raise StateConflictError(
                f"Model {model!r} was deleted at {info.deleted_at.isoformat()}: there is no endpoint to roll "
                f"back. Uploading dataset {info.dataset}'s dataset.json again deploys a new model."
            )
        return info

    def previous(self, live: ModelInfo) -> ModelInfo | None:
        """The model live on the endpoint before this one, as model.json records it."""
        previous = live.previous
        if previous is None or previous.model_name == live.model_name:
            return None
        return previous

    def rollback(self, model: str, requested_by: str | None = None) -> ModelRollback:
        """Deploy the previous model again; ModelNotFoundError, or StateConflictError with the state."""
        live = self._live(model)
        endpoint = self._host.endpoint(live.endpoint_name)
        if endpoint is None or endpoint.status != "InService":
            state = "gone" if endpoint is None else endpoint.status
            raise StateConflictError(
                f"Model {model!r} cannot be rolled back while its endpoint is {state}: only an endpoint in "
                "service is updated. Roll back once the Model live or Deployment failed email arrives."
            )
        if read_model_info(self._store, deploying_key(model)) is not None:
            raise StateConflictError(
                f"Model {model!r} has a deployment in flight: roll back once the Model live email arrives."
            )
        previous = self.previous(live)
        if previous is None:
            raise StateConflictError(
                f"Model {model!r} has no previous model to roll back to: {live.model_name} "
                f"(run {live.run_id}) is the only model that went live on its endpoint."
            )
        # The configuration it last ran on: after a rollback that is the rollback's copy (cleanup may
        # have deleted the one its deployment made).
        original = previous.endpoint_config_name or endpoint_config_name_for(
            previous.training_job_name, self._prefix
        )
        loaded = read_run(self._store, previous.run_id)
        try:
            config = self._host.endpoint_config(original)
        except ResourceMissingError:
            config = None
        if config is None or loaded is None:
            raise StateConflictError(
                f"Model {model!r} cannot be rolled back: the endpoint configuration {original} or the run "
                f"{previous.run_id} of the previous model {previous.model_name} is gone. Upload its "
                "dataset again to retrain."
            )
        replaced = f"{live.model_name}-{live.deployed_at:%Y%m%dT%H%M%S%fZ}"
        claim = f"models/{model}/rollbacks/{replaced}.json"
        if not self._store.put_bytes_if_absent(claim, previous.model_dump_json().encode(), JSON):
            raise StateConflictError(f"Model {model!r} is already being rolled back by another request.")
        # One configuration per rollback of a given live model: a repeated request reuses it.
        config_name = names.sagemaker_name(previous.model_name, "rollback", replaced)
        variant = config.variants[0]
        tags = names.resource_tags(previous.run_id, self._stack_name, previous.attempt)
        # At least the instances serving now (within the previous run's range): no capacity drop.
        count = fleet_size(loaded[1].deployment, endpoint)
        self._host.create_endpoint_config(config_name, variant, count, tags)
        self._store.put_bytes(deploying_key(model), previous.model_dump_json(indent=2).encode(), JSON)
        update_endpoint(self._host, self._autoscaler, endpoint, config_name, variant)
        self._publisher.publish(
            ModelRolledBack(
                run_id=previous.run_id,
                dataset=previous.dataset,
                attempt=previous.attempt,
                endpoint_name=live.endpoint_name,
                model_name=previous.model_name,
                endpoint_config_name=config_name,
                replaced_model_name=live.model_name,
                replaced_run_id=live.run_id,
                requested_by=requested_by,
            )
        )
        return ModelRollback(
            model=model,
            model_name=previous.model_name,
            run_id=previous.run_id,
            endpoint_config_name=config_name,
            replaced_model_name=live.model_name,
            replaced_run_id=live.run_id,
        )
