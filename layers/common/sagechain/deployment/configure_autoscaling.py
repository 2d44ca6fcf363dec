"""Stage 5: an endpoint in service gets autoscaling, and its model becomes the live one.

Triggered by "SageMaker Endpoint State Change". The event spells statuses its own way
(IN_SERVICE, FAILED, UPDATE_ROLLBACK_FAILED): they are compared without case or
underscores. Events may come twice or late, so the endpoint is described first and an
event about a configuration the endpoint no longer runs is ignored.

In service: RegisterScalableTarget and a target-tracking policy for every variant, then
the run's model.json is promoted to models/<model>/model.json and "Model Live" emitted,
once per deployment (models/<model>/deploying.json marks the deployment in flight; an
endpoint that returns to service without it, e.g. after SageMaker's own maintenance,
only has its autoscaling confirmed). An endpoint back in service with another model than
the one in flight means the update did not take: "Deployment Failed" for that run.
Failed or UpdateRollbackFailed: "Deployment Failed" with DescribeEndpoint's reason.
"""

from dataclasses import dataclass

from sagechain.console import console_url
from sagechain.deployment.bookkeeping import (
    Outcome,
    live_key,
    read_model_info,
    read_run,
    run_model_key,
)
from sagechain.event_sources.sagemaker import StateChange, normalized_status
from sagechain.events import DeploymentFailed, ModelLive
from sagechain.layout import deploying_key
from sagechain.names import owned_run_id
from sagechain.ports import (
    Autoscaler,
    DeploymentStore,
    EndpointConfig,
    EventPublisher,
    ModelHost,
    SageMakerJobs,
)
from sagechain.records import ModelInfo, write_record

IN_SERVICE = "inservice"
FAILED = {"failed", "updaterollbackfailed"}


@dataclass(frozen=True)
class AutoscalingConfig:
    """What configure_autoscaling takes from its settings."""

    name_prefix: str
    predict_url_template: str
    stack_name: str

    @property
    def policy_name(self) -> str:
        """The target-tracking policy's name (one per variant; PutScalingPolicy updates it)."""
        return f"{self.name_prefix}-invocations-per-instance"

    def predict_url(self, model: str) -> str:
        """The REST API's predict URL for a model."""
        return self.predict_url_template.replace("{model}", model)


def configure_autoscaling(
    change: StateChange,
    jobs: SageMakerJobs,
    host: ModelHost,
    autoscaler: Autoscaler,
    store: DeploymentStore,
    publisher: EventPublisher,
    config: AutoscalingConfig,
) -> Outcome:
    """Act on one endpoint state change: autoscaling and Model Live, Deployment Failed, or nothing."""
    status = normalized_status(change.status)
    stage = _Stage(jobs, host, autoscaler, store, publisher, config)
    if status in FAILED | {IN_SERVICE} and not stage.owns(change):
        return Outcome("ignored", f"endpoint {change.name} was not created by this stack")
    if status == IN_SERVICE:
        return stage.in_service(change)
    if status in FAILED:
        return stage.failed(change)
    return Outcome("ignored", f"endpoint {change.name} is {change.status}")


@dataclass
class _Stage:
    jobs: SageMakerJobs
    host: ModelHost
    autoscaler: Autoscaler
    store: DeploymentStore
    publisher: EventPublisher
    config: AutoscalingConfig

    def owns(self, change: StateChange) -> bool:
        """Whether this stack created the endpoint: its tags (the event's, else ListTags) name it."""
        return owned_run_id(change.tags or self.jobs.tags(change.arn), self.config.stack_name) is not None

    def _run_model(self, endpoint_config: EndpointConfig) -> ModelInfo | None:
        """The model.json of the run that made the configuration (its sagechain:run-id tag), if this
        stack made it (its sagechain:stack tag)."""
        run_id = owned_run_id(self.jobs.tags(endpoint_config.arn), self.config.stack_name)
        return None if run_id is None else read_model_info(self.store, run_model_key(run_id))

    def in_service(self, change: StateChange) -> Outcome:
        name = change.name
        endpoint = self.host.endpoint(name)
        if (
            endpoint is None
            or normalized_status(endpoint.status) != IN_SERVICE
            or endpoint.config_name != change.config_name
        ):
            now = "gone" if endpoint is None else f"{endpoint.status} with {endpoint.config_name}"
            return Outcome("ignored", f"stale event: {name} is now {now}")
        endpoint_config = self.host.endpoint_config(endpoint.config_name)
        info = self._run_model(endpoint_config)
        if info is None or info.endpoint_name != name:
            return Outcome("ignored", f"{endpoint.config_name} was not deployed by sagechain")
        loaded = read_run(self.store, info.run_id)
        if loaded is None:
            return Outcome("ignored", f"run {info.run_id} has no training.json or spec.json")
        deployment = loaded[1].deployment
        for variant in endpoint_config.variants:
            self.autoscaler.register(name, variant.name, deployment.min_instances, deployment.max_instances)
            self.autoscaler.track_invocations(
                name,
                variant.name,
                self.config.policy_name,
                target_per_instance=deployment.target_invocations_per_instance,
                scale_in_cooldown=deployment.scale_in_cooldown_seconds,
                scale_out_cooldown=deployment.scale_out_cooldown_seconds,
            )

        in_flight = read_model_info(self.store, deploying_key(name))
        if in_flight is not None and in_flight.model_name != info.model_name:
            self._fail(
                in_flight,
                name,
                f"endpoint {name} returned to service with {info.model_name} instead of "
                f"{in_flight.model_name}{': ' + endpoint.failure_reason if endpoint.failure_reason else ''}.",
            )
            in_flight = None
        live = read_model_info(self.store, live_key(name))
        if in_flight is None and live is not None and live.model_name == info.model_name:
            return Outcome("autoscaling confirmed", f"{info.model_name} was already live on {name}")

        write_record(self.store, live_key(name), info)
        variant = endpoint_config.variants[0]
        event = ModelLive(
            run_id=info.run_id,
            dataset=info.dataset,
            endpoint_name=name,
            model_name=info.model_name,
            instance_type=variant.instance_type or "serverless",
            min_instances=deployment.min_instances,
            max_instances=deployment.max_instances,
            predict_url=self.config.predict_url(info.model),
            console_url=console_url(self.host.region, "endpoints", name),
        )
        self.publisher.publish(event)
        # Last: a retry after a failure above finds the deployment still in flight and announces it.
        if in_flight is not None:
            self.store.delete(deploying_key(name))
        return Outcome(event.DETAIL_TYPE, None, event)

    def failed(self, change: StateChange) -> Outcome:
        name = change.name
        endpoint = self.host.endpoint(name)
        target = read_model_info(self.store, deploying_key(name))
        if target is None and change.config_name is not None:
            target = self._run_model(self.host.endpoint_config(change.config_name))
        if target is None:
            return Outcome("ignored", f"{change.config_name} was not deployed by sagechain")
        why = endpoint.failure_reason if endpoint is not None and endpoint.failure_reason else None
        reason = (
            f"endpoint {name} is {change.status}{': ' + why if why else ' (SageMaker gave no reason)'}. "
            f"Fix the cause, delete the endpoint (aws sagemaker delete-endpoint --endpoint-name {name}) "
            "and the next run creates it again."
        )
        event = self._fail(target, name, reason)
        return Outcome(event.DETAIL_TYPE, reason, event)

    def _fail(self, target: ModelInfo, endpoint_name: str, reason: str) -> DeploymentFailed:
        event = DeploymentFailed(
            run_id=target.run_id,
            dataset=target.dataset,
            endpoint_name=endpoint_name,
            reason=reason,
            console_url=console_url(self.host.region, "endpoints", endpoint_name),
        )
        self.publisher.publish(event)
        self.store.delete(deploying_key(endpoint_name))
        return event
