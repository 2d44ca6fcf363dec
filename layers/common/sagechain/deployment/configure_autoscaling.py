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
Failed or UpdateRollbackFailed: "Deployment Failed" with DescribeEndpoint's reason; an event
about a configuration that was deleted meanwhile is dropped (emailed to its run, if one is known).

Every state change then ends the wait of deployments that found the endpoint busy (pending.py):
in service, the oldest waiting one is carried out (UpdateEndpoint); broken, each waiting one fails.
A request AWS refuses for good is a "Deployment Failed" with the code, meaning and fix.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sagechain.console import console_url
from sagechain.deployment.alarms import AlarmThresholds, fired_alarms
from sagechain.deployment.bookkeeping import (
    Outcome,
    endpoint_config_name_for,
    live_key,
    read_model_info,
    read_run,
    run_model_key,
)
from sagechain.deployment.expiry import schedule_expiry
from sagechain.deployment.failures import refused_deployment
from sagechain.deployment.pending import (
    PendingDeployment,
    UpdateSafety,
    update_endpoint,
    update_safety,
    waiting_deployments,
)
from sagechain.errors import EndpointBusyError, RequestRefusedError, ResourceMissingError
from sagechain.event_sources.sagemaker import StateChange, normalized_status
from sagechain.events import (
    DeploymentFailed,
    DeploymentRolledBack,
    DeploymentStarted,
    FiredAlarmDetail,
    ModelChoice,
    ModelLive,
    SagechainEvent,
)
from sagechain.layout import deploying_key
from sagechain.names import owned_run_id, resource_tags
from sagechain.observability import logger
from sagechain.ports import (
    Autoscaler,
    DeploymentStore,
    EndpointConfig,
    EndpointState,
    EventPublisher,
    ExpirySchedules,
    ModelHost,
    RollbackAlarms,
    SageMakerJobs,
    Variant,
)
from sagechain.pricing import endpoint_hourly_cost
from sagechain.records import ModelInfo, RolloutRecord, write_record

IN_SERVICE = "inservice"
FAILED = {"failed", "updaterollbackfailed"}
# An endpoint in these statuses takes no update (DescribeEndpoint's EndpointStatus).
BROKEN = FAILED | {"outofservice"}


@dataclass(frozen=True)
class AutoscalingConfig:
    """What configure_autoscaling takes from its settings."""

    name_prefix: str
    predict_url_template: str
    stack_name: str
    # Stack parameter InstancePriceOverrides, for the Model Live email's hourly cost.
    price_overrides: Mapping[str, Decimal] = field(default_factory=dict)
    # The rollback alarms of a waiting deployment carried out here (as deploy_model puts them).
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)

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
    schedules: ExpirySchedules | None = None,
    alarms: RollbackAlarms | None = None,
) -> Outcome:
    """Act on one endpoint state change: autoscaling and Model Live, Deployment Rolled Back or Failed,
    or nothing. A model going live with deployment.ttl_hours gets its endpoint's expiry schedule
    (schedules); alarms: the rollback alarms updates name (read after a rollback, put for a waiting one)."""
    status = normalized_status(change.status)
    if status == IN_SERVICE:
        # Only this stage's rule hears an endpoint come into service: every event published for
        # it carries the change, which the run's history records with it (track_run).
        publisher = _Answering(publisher, change)
    stage = _Stage(jobs, host, autoscaler, store, publisher, config, schedules, alarms)
    if status in FAILED | {IN_SERVICE} and not stage.owns(change):
        return Outcome("ignored", f"endpoint {change.name} was not created by this stack")
    if status == IN_SERVICE:
        outcome = stage.in_service(change)
    elif status in FAILED:
        outcome = stage.failed(change)
    else:
        return Outcome("ignored", f"endpoint {change.name} is {change.status}")
    started = stage.end_waits(change.name)
    return started if started is not None and outcome.event is None else outcome


@dataclass(frozen=True)
class _Answering:
    """A publisher whose events carry the SageMaker state change they answer."""

    publisher: EventPublisher
    change: StateChange

    def publish(self, event: SagechainEvent) -> None:
        """Publish the event with the change it answers."""
        self.publisher.publish(event.model_copy(update={"sagemaker_change": self.change}))


@dataclass
class _Stage:
    jobs: SageMakerJobs
    host: ModelHost
    autoscaler: Autoscaler
    store: DeploymentStore
    publisher: EventPublisher
    config: AutoscalingConfig
    schedules: ExpirySchedules | None = None
    alarms: RollbackAlarms | None = None

    def owns(self, change: StateChange) -> bool:
        """Whether this stack created the endpoint: its tags (the event's, else ListTags) name it."""
        return owned_run_id(change.tags or self.jobs.tags(change.arn), self.config.stack_name) is not None

    def _run_model(self, endpoint_config: EndpointConfig) -> ModelInfo | None:
        """The model.json of the run that made the configuration (its sagechain:run-id tag), if this
        stack made it (its sagechain:stack tag)."""
        run_id = owned_run_id(self.jobs.tags(endpoint_config.arn), self.config.stack_name)
        return None if run_id is None else read_model_info(self.store, run_model_key(run_id))

    def in_service(self, change: StateChange) -> Outcome:  # noqa: PLR0911 - one per case ignored
        name = change.name
        endpoint = self.host.endpoint(name)
        if (
            endpoint is None
            or normalized_status(endpoint.status) != IN_SERVICE
            or endpoint.config_name != change.config_name
        ):
            now = "gone" if endpoint is None else f"{endpoint.status} with {endpoint.config_name}"
            return Outcome("ignored", f"stale event: {name} is now {now}")
        try:
            endpoint_config = self.host.endpoint_config(endpoint.config_name)
        except ResourceMissingError:
            return Outcome("dropped", f"{endpoint.config_name} no longer exists")
        info = self._run_model(endpoint_config)
        if info is None or info.endpoint_name != name:
            return Outcome("ignored", f"{endpoint.config_name} was not deployed by sagechain")
        loaded = read_run(self.store, info.run_id)
        if loaded is None:
            return Outcome("ignored", f"run {info.run_id} has no training.json or spec.json")
        deployment = loaded[1].deployment
        try:
            for variant in endpoint_config.variants:
                self.autoscaler.register(
                    name, variant.name, deployment.min_instances, deployment.max_instances
                )
                self.autoscaler.track_invocations(
                    name,
                    variant.name,
                    self.config.policy_name,
                    target_per_instance=deployment.target_invocations_per_instance,
                    scale_in_cooldown=deployment.scale_in_cooldown_seconds,
                    scale_out_cooldown=deployment.scale_out_cooldown_seconds,
                    disable_scale_in=deployment.disable_scale_in,
                )
        except RequestRefusedError as err:
            failed = self._refused(info, name, err)
            return Outcome(failed.DETAIL_TYPE, failed.reason, failed)

        in_flight = read_model_info(self.store, deploying_key(name))
        if in_flight is not None and in_flight.model_name != info.model_name:
            if not self._rolled_back(in_flight, info, endpoint):
                why = f": {endpoint.failure_reason}" if endpoint.failure_reason else ""
                self._fail(
                    in_flight,
                    name,
                    f"endpoint {name} returned to service with {info.model_name} instead of "
                    f"{in_flight.model_name}{why}.",
                )
            else:
                self.store.delete(deploying_key(name))
            in_flight = None
        live = read_model_info(self.store, live_key(name))
        if in_flight is None and live is not None and live.model_name == info.model_name:
            return Outcome("autoscaling confirmed", f"{info.model_name} was already live on {name}")

        variant = endpoint_config.variants[0]
        instance_type = variant.instance_type or "serverless"
        cost = endpoint_hourly_cost(
            self.host.region,
            instance_type,
            deployment.min_instances,
            deployment.max_instances,
            self.config.price_overrides,
        )
        # Before the record and the event: a refused schedule is retried, then parked and emailed,
        # rather than leaving an endpoint live that was meant to expire.
        expires_at = self._schedule_expiry(info, deployment.ttl_hours or 0)
        rollout = in_flight.rollout if in_flight is not None else None
        record = info.model_copy(
            update={
                "hourly_cost": cost,
                "endpoint_config_name": endpoint.config_name,
                "previous": _previous(live, info),
                "expires_at": expires_at,
                "rollout": rollout,
            }
        )
        # Before the record: a retry after a failed deletion finds the same superseded model again.
        if live is not None and live.model_name != info.model_name and live.previous is not None:
            self._delete_superseded(live.previous, keep=endpoint, record=record)
        write_record(self.store, live_key(name), record)
        event = ModelLive(
            run_id=info.run_id,
            dataset=info.dataset,
            attempt=info.attempt,
            endpoint_name=name,
            model_name=info.model_name,
            instance_type=instance_type,
            min_instances=deployment.min_instances,
            max_instances=deployment.max_instances,
            predict_url=self.config.predict_url(info.model),
            console_url=console_url(self.host.region, "endpoints", name),
            endpoint_config_name=endpoint.config_name,
            hourly_cost=cost,
            expires_at=expires_at,
            traffic=_traffic(rollout),
            instances_before=rollout.instances_before if rollout is not None else None,
            instances_after=endpoint.instance_count,
            final_metrics=info.final_metrics,
            chosen_because=info.chosen_because,
        )
        self.publisher.publish(event)
        # Last: a retry after a failure above finds the deployment still in flight and announces it.
        if in_flight is not None:
            self.store.delete(deploying_key(name))
        return Outcome(event.DETAIL_TYPE, None, event)

    def _rolled_back(self, in_flight: ModelInfo, live: ModelInfo, endpoint: EndpointState) -> bool:
        """Whether SageMaker rolled the update to in_flight back on its alarms (then announced): the
        endpoint is back on the live model's configuration and an alarm the update named is in ALARM, or
        the endpoint's FailureReason names the rollback (the alarm may be back to OK by now)."""
        rollout = in_flight.rollout
        if rollout is None or not rollout.alarms:
            return False
        fired = fired_alarms(self.alarms, rollout.alarms) if self.alarms is not None else []
        why = endpoint.failure_reason or ""
        if not fired and "alarm" not in why.lower():
            return False
        named = "; ".join(
            f"alarm {a.name} ({a.metric}) fired: {a.reason}"
            if a.reason
            else f"alarm {a.name} ({a.metric}) fired"
            for a in fired
        )
        reason = (
            f"SageMaker rolled the update of endpoint {endpoint.name} back: {named or why}. "
            f"{live.model_name} (run {live.run_id}) stays live; {in_flight.model_name} was not promoted."
        )
        self.publisher.publish(
            DeploymentRolledBack(
                run_id=in_flight.run_id,
                dataset=in_flight.dataset,
                attempt=in_flight.attempt,
                endpoint_name=endpoint.name,
                model_name=in_flight.model_name,
                live_model_name=live.model_name,
                live_run_id=live.run_id,
                alarms=[
                    FiredAlarmDetail(
                        alarm_name=a.name,
                        metric=a.metric,
                        reason=a.reason,
                        values=list(a.values),
                        threshold=a.threshold,
                    )
                    for a in fired
                ],
                traffic=rollout.traffic,
                reason=reason,
                console_url=console_url(self.host.region, "endpoints", endpoint.name),
            )
        )
        return True

    def _schedule_expiry(self, info: ModelInfo, ttl_hours: int) -> datetime | None:
        if self.schedules is None:
            if ttl_hours:
                raise ValueError("deployment.ttl_hours is set but configure_autoscaling has no schedules")
            return None
        return schedule_expiry(self.schedules, info, ttl_hours, datetime.now(UTC))

    def _delete_superseded(self, superseded: ModelInfo, keep: EndpointState, record: ModelInfo) -> None:
        """Delete the configuration and model of the live model two deployments back (the previous one is
        kept for a rollback), when this stack's run made them. A refusal is logged: it never blocks going
        live."""
        kept = {keep.config_name, keep.pending_config_name, record.model_name, record.endpoint_config_name}
        if record.previous is not None:
            kept |= {record.previous.model_name, record.previous.endpoint_config_name}
        config_name = superseded.endpoint_config_name or endpoint_config_name_for(
            superseded.training_job_name, self.config.name_prefix
        )
        try:
            if config_name not in kept:
                try:
                    endpoint_config = self.host.endpoint_config(config_name)
                except ResourceMissingError:
                    pass  # deleted already (a retry)
                else:
                    if (
                        owned_run_id(self.jobs.tags(endpoint_config.arn), self.config.stack_name)
                        != superseded.run_id
                    ):
                        logger.warning(
                            "superseded configuration not ours; kept", extra={"config": config_name}
                        )
                        return
                    self.host.delete_endpoint_config(config_name)
            if superseded.model_name not in kept:
                self.host.delete_model(superseded.model_name)
        except RequestRefusedError as err:
            logger.warning(
                "superseded model not deleted",
                extra={"model": superseded.model_name, "config": config_name, "error": str(err)},
            )

    def failed(self, change: StateChange) -> Outcome:
        name = change.name
        endpoint = self.host.endpoint(name)
        target = read_model_info(self.store, deploying_key(name))
        if target is None and change.config_name is not None:
            try:
                target = self._run_model(self.host.endpoint_config(change.config_name))
            except ResourceMissingError:
                return self._failed_without_config(change)
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

    def _failed_without_config(self, change: StateChange) -> Outcome:
        """A failure about a configuration that was deleted: retrying cannot describe it, so it is
        dropped; the run that waited on it, else the run that owns the endpoint, is told once."""
        name, config_name = change.name, change.config_name
        waiting = [
            p for _key, p in waiting_deployments(self.store, name) if p.endpoint_config_name == config_name
        ]
        target = waiting[0].info if waiting else None
        if target is None:
            owner = owned_run_id(change.tags or self.jobs.tags(change.arn), self.config.stack_name)
            target = None if owner is None else read_model_info(self.store, run_model_key(owner))
        if target is None:
            return Outcome(
                "dropped", f"{config_name} no longer exists and no run of this stack is waiting on it"
            )
        reason = (
            f"endpoint {name} reported {change.status} for endpoint configuration {config_name}, which no "
            "longer exists (it was deleted), so the failure cannot be looked into further. "
            "Upload dataset.json again to deploy a new model."
        )
        event = DeploymentFailed(
            run_id=target.run_id,
            dataset=target.dataset,
            endpoint_name=name,
            reason=reason,
            console_url=console_url(self.host.region, "endpoints", name),
        )
        self.publisher.publish(event)
        return Outcome("dropped", reason, event)

    def end_waits(self, name: str) -> Outcome | None:
        """After a state change: carry out the oldest deployment waiting for the endpoint, or fail
        the waiting ones when the endpoint can take no update; None when nothing started."""
        waiting = waiting_deployments(self.store, name)
        if not waiting:
            return None
        endpoint = self.host.endpoint(name)
        if endpoint is None or normalized_status(endpoint.status) in BROKEN:
            now = "gone" if endpoint is None else endpoint.status
            for key, pending in waiting:
                self._fail(
                    pending.info,
                    name,
                    f"endpoint {name} is {now}, so the model {pending.info.model_name} that waited for it "
                    f"cannot be deployed. Delete the endpoint (aws sagemaker delete-endpoint --endpoint-name "
                    f"{name}) and upload dataset.json again.",
                    keep_in_flight=True,
                )
                self.store.delete(key)
            return None
        if normalized_status(endpoint.status) != IN_SERVICE:
            return None  # busy again: the next state change comes
        for key, pending in waiting:
            if pending.endpoint_config_name in (endpoint.config_name, endpoint.pending_config_name):
                self.store.delete(key)  # already carried out (a repeated event)
                continue
            write_record(self.store, deploying_key(name), pending.info)
            variant = Variant(pending.info.variant_name, pending.info.model_name, pending.instance_type)
            try:
                safety = self._safety(pending.info, variant)
                rollout = update_endpoint(
                    self.host, self.autoscaler, endpoint, pending.endpoint_config_name, variant, safety
                )
            except EndpointBusyError:
                self.store.delete(deploying_key(name))
                return None  # it moved meanwhile; its next state change comes
            except RequestRefusedError as err:
                self._refused(pending.info, name, err)
                self.store.delete(key)
                continue
            write_record(
                self.store, deploying_key(name), pending.info.model_copy(update={"rollout": rollout})
            )
            self.store.delete(key)
            return self._started(pending)
        return None

    def _safety(self, info: ModelInfo, variant: Variant) -> UpdateSafety | None:
        """The waiting run's traffic shifting and rollback alarms (None when its spec is gone)."""
        loaded = read_run(self.store, info.run_id)
        if loaded is None:
            return None
        tags = resource_tags(info.run_id, self.config.stack_name)
        return update_safety(
            self.alarms,
            info.endpoint_name,
            variant.name,
            loaded[1].deployment,
            self.config.alarm_thresholds,
            tags,
        )

    def _started(self, pending: PendingDeployment) -> Outcome:
        info = pending.info
        event = DeploymentStarted(
            run_id=info.run_id,
            dataset=info.dataset,
            attempt=pending.attempt,
            endpoint_name=info.endpoint_name,
            model_name=info.model_name,
            endpoint_config_name=pending.endpoint_config_name,
            training_job_name=info.training_job_name,
            action="update",
            instance_type=pending.instance_type,
            metric_name=pending.metric_name,
            metric_value=pending.metric_value,
            console_url=console_url(self.host.region, "endpoints", info.endpoint_name),
            **dict(pending.choice or ModelChoice()),
        )
        self.publisher.publish(event)
        return Outcome(event.DETAIL_TYPE, f"the waiting deployment of run {info.run_id} started", event)

    def _refused(self, target: ModelInfo, endpoint_name: str, err: RequestRefusedError) -> DeploymentFailed:
        event = refused_deployment(target.run_id, target.dataset, endpoint_name, self.host.region, err)
        self.publisher.publish(event)
        self.store.delete(deploying_key(endpoint_name))
        return event

    def _fail(
        self, target: ModelInfo, endpoint_name: str, reason: str, keep_in_flight: bool = False
    ) -> DeploymentFailed:
        event = DeploymentFailed(
            run_id=target.run_id,
            dataset=target.dataset,
            endpoint_name=endpoint_name,
            reason=reason,
            console_url=console_url(self.host.region, "endpoints", endpoint_name),
        )
        self.publisher.publish(event)
        if not keep_in_flight:
            self.store.delete(deploying_key(endpoint_name))
        return event


def _traffic(rollout: RolloutRecord | None) -> str | None:
    """How the update that went live moved traffic, and whether its rollback alarms stayed quiet."""
    if rollout is None:
        return None
    return (
        f"{rollout.traffic}; no alarm fired" if rollout.alarms else f"{rollout.traffic}; no rollback alarms"
    )


def _previous(live: ModelInfo | None, new: ModelInfo) -> ModelInfo | None:
    """The model to keep for a rollback once new goes live: the one live until now (its own previous
    dropped, so model.json stays one level deep), or, when new was live already, its previous."""
    if live is None:
        return None
    if live.model_name == new.model_name:
        return live.previous
    return live.model_copy(update={"previous": None})
