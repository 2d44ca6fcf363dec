"""In-memory SageMaker hosting and Application Auto Scaling for the deploy stage's service tests.

They keep state like the services do (an endpoint has a status and a configuration; a
variant is registered or not) and count every call, so tests can assert what a user
would notice: what was created, updated, registered, and how often.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sagechain.errors import ResourceMissingError
from sagechain.event_sources.sagemaker import JobKind, StateChange
from sagechain.names import resource_tags
from sagechain.ports import (
    BlueGreenUpdate,
    EndpointConfig,
    EndpointState,
    ScalableTarget,
    TrainedJob,
    TuningOutcome,
    TuningTrial,
    Variant,
)
from sagechain.records import ModelInfo, TrainingRecord
from sagechain.spec import DatasetSpec
from tests.fakes import MemoryDeploymentStore
from tests.refusals import (
    IN_PROGRESS,
    autoscaled_variant_changed,
    endpoint_busy,
    missing_endpoint,
    missing_endpoint_config,
    missing_model,
    no_scalable_target,
)
from tests.runs import STACK_NAME, training_record

REGION = "us-east-1"
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"
RUN = "flowers-8b39944c64ac"
JOB = f"sagechain-{RUN}-train"
ENDPOINT = "sagechain-flowers"
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ROLE = "arn:aws:iam::123456789012:role/sagechain-SageMakerExecutionRole"


def completed_job(name: str = JOB, accuracy: float | None = 0.91, tuning: str | None = None) -> TrainedJob:
    """A training job that completed, with its objective metric."""
    return TrainedJob(
        name=name,
        arn=f"{ARN}:training-job/{name}",
        status="Completed",
        metrics={} if accuracy is None else {"validation:accuracy": accuracy},
        model_data_url=f"s3://bucket/runs/{RUN}/training/{name}/output/model.tar.gz",
        tuning_job_arn=tuning,
        failure_reason=None,
    )


def ended_job(name: str, status: str) -> TrainedJob:
    """A training job that failed or was stopped."""
    return TrainedJob(name, f"{ARN}:training-job/{name}", status, {}, None, None, "AlgorithmError")


EVENT_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def training_change(
    name: str = JOB, status: str = "Completed", tagged: bool = True, stack: str = STACK_NAME
) -> StateChange:
    """The training state change as the handler parses it (tagged: with the job's tags)."""
    tags = resource_tags(RUN, stack) if tagged else {}
    return StateChange(
        kind=JobKind.TRAINING,
        name=name,
        arn=f"{ARN}:training-job/{name}",
        status=status,
        at=EVENT_TIME,
        tags=tags,
    )


def tuning_change(name: str, status: str = "Completed") -> StateChange:
    """The tuning state change as the handler parses it (the documented event carries no tags)."""
    return StateChange(kind=JobKind.TUNING, name=name, arn="x", status=status, at=EVENT_TIME)


def endpoint_change(status: str = "IN_SERVICE", config: str = f"{JOB}-config") -> StateChange:
    """The endpoint state change as the handler parses it."""
    return StateChange(
        kind=JobKind.ENDPOINT,
        name=ENDPOINT,
        arn=f"{ARN}:endpoint/{ENDPOINT.lower()}",
        status=status,
        at=EVENT_TIME,
        config_name=config,
    )


def plan(
    objective_metric: str | None = "validation:accuracy",
    objective_type: str = "Maximize",
    **changes: object,
) -> TrainingRecord:
    """runs/<RUN>/training.json as start_training writes it, for a built-in image classification run."""
    defaults: dict[str, object] = {"run_id": RUN, "job_names": [JOB], "training_image": IMAGE}
    objective = {"name": objective_metric, "type": objective_type} if objective_metric else None
    return training_record(**{**defaults, **changes, "objective": objective})


def spec(**deployment: object) -> DatasetSpec:
    """runs/<RUN>/spec.json as prepare_dataset writes it (defaults filled in)."""
    return DatasetSpec.model_validate(
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "deployment": {"instance_type": "ml.m5.large", **deployment},
        }
    )


def store_with_run(
    training_plan: TrainingRecord | None = None, dataset_spec: DatasetSpec | None = None
) -> MemoryDeploymentStore:
    """A bucket holding the run's training.json and spec.json."""
    store = MemoryDeploymentStore()
    chosen = training_plan or plan()
    store.objects[f"runs/{chosen.run_id}/training.json"] = chosen.model_dump_json().encode()
    store.objects[f"runs/{chosen.run_id}/spec.json"] = (dataset_spec or spec()).model_dump_json().encode()
    return store


def live_model(model_name: str = "sagechain-older-run-train", accuracy: float = 0.9) -> ModelInfo:
    """A model.json as the live pointer holds it."""
    return ModelInfo.model_validate(
        {
            "model": ENDPOINT,
            "endpoint_name": ENDPOINT,
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "algorithm": "builtin",
            "model_name": model_name,
            "training_job_name": model_name,
            "run_id": "older-run",
            "dataset": "flowers",
            "metric": {"name": "validation:accuracy", "value": accuracy},
            "deployed_at": "2026-11-01T00:00:00Z",
        }
    )


def run_model() -> ModelInfo:
    """runs/<RUN>/model.json as deploy_model writes it for JOB."""
    return live_model(model_name=JOB).model_copy(update={"run_id": RUN, "training_job_name": JOB})


@dataclass
class FakeAutoscaler:
    """Application Auto Scaling in memory: registered variants and their policies."""

    targets: dict[tuple[str, str], ScalableTarget] = field(default_factory=dict)
    policies: dict[tuple[str, str], tuple[str, float, int, int]] = field(default_factory=dict)
    scale_in_disabled: dict[tuple[str, str], bool] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def registered(self, endpoint: str, variant: str) -> ScalableTarget | None:
        self.calls["DescribeScalableTargets"] += 1
        return self.targets.get((endpoint, variant))

    def deregister(self, endpoint: str, variant: str) -> None:
        self.calls["DeregisterScalableTarget"] += 1
        self.targets.pop((endpoint, variant), None)
        self.policies.pop((endpoint, variant), None)

    def register(self, endpoint: str, variant: str, min_capacity: int, max_capacity: int) -> None:
        self.calls["RegisterScalableTarget"] += 1
        self.targets[(endpoint, variant)] = ScalableTarget(min_capacity, max_capacity)

    def track_invocations(
        self,
        endpoint: str,
        variant: str,
        policy_name: str,
        target_per_instance: float,
        scale_in_cooldown: int,
        scale_out_cooldown: int,
        disable_scale_in: bool = False,
    ) -> None:
        self.calls["PutScalingPolicy"] += 1
        self.scale_in_disabled[(endpoint, variant)] = disable_scale_in
        if (endpoint, variant) not in self.targets:
            raise no_scalable_target(endpoint, variant).refused()
        self.policies[(endpoint, variant)] = (
            policy_name,
            target_per_instance,
            scale_in_cooldown,
            scale_out_cooldown,
        )


@dataclass
class FakeSageMaker:
    """SageMakerJobs and ModelHost in memory."""

    region: str = REGION
    jobs: dict[str, TrainedJob] = field(default_factory=dict)
    tuning: dict[str, TuningOutcome] = field(default_factory=dict)
    trials: dict[str, list[TuningTrial]] = field(default_factory=dict)
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    models: dict[str, dict[str, object]] = field(default_factory=dict)
    configs: dict[str, EndpointConfig] = field(default_factory=dict)
    endpoints: dict[str, EndpointState] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    updates: list[tuple[str, str, bool]] = field(default_factory=list)
    blue_green: list[BlueGreenUpdate | None] = field(default_factory=list)
    # Application Auto Scaling, which SageMaker consults before an UpdateEndpoint.
    scaling: FakeAutoscaler = field(default_factory=FakeAutoscaler)

    def add_job(self, job: TrainedJob, run_id: str | None = RUN, stack: str = STACK_NAME) -> None:
        self.jobs[job.name] = job
        if run_id:
            self.resource_tags[job.arn] = resource_tags(run_id, stack)

    def training_job(self, name: str) -> TrainedJob:
        self.calls["DescribeTrainingJob"] += 1
        return self.jobs[name]

    def tuning_job(self, name: str) -> TuningOutcome:
        self.calls["DescribeHyperParameterTuningJob"] += 1
        return self.tuning[name]

    def tuning_trials(self, name: str) -> list[TuningTrial]:
        self.calls["ListTrainingJobsForHyperParameterTuningJob"] += 1
        return list(self.trials.get(name, []))

    def tags(self, arn: str) -> dict[str, str]:
        self.calls["ListTags"] += 1
        return dict(self.resource_tags.get(arn, {}))

    def create_model(
        self,
        name: str,
        image: str,
        model_data_url: str,
        role_arn: str,
        network_isolation: bool,
        tags: dict[str, str],
        environment: dict[str, str] | None = None,
    ) -> bool:
        self.calls["CreateModel"] += 1
        if name in self.models:
            return False
        self.models[name] = {
            "image": image,
            "model_data_url": model_data_url,
            "role_arn": role_arn,
            "network_isolation": network_isolation,
            "tags": tags,
            "environment": dict(environment or {}),
        }
        return True

    def create_endpoint_config(
        self, name: str, variant: Variant, instance_count: int, tags: dict[str, str]
    ) -> bool:
        self.calls["CreateEndpointConfig"] += 1
        if name in self.configs:
            return False
        if variant.model_name not in self.models:
            raise missing_model("CreateEndpointConfig", variant.model_name).refused()
        arn = f"{ARN}:endpoint-config/{name}"
        self.configs[name] = EndpointConfig(name, arn, [variant])
        self.resource_tags[arn] = dict(tags)
        return True

    def endpoint(self, name: str) -> EndpointState | None:
        self.calls["DescribeEndpoint"] += 1
        return self.endpoints.get(name)

    def endpoint_config(self, name: str) -> EndpointConfig:
        self.calls["DescribeEndpointConfig"] += 1
        if name not in self.configs:  # as the adapter answers SageMaker's ValidationException
            raise ResourceMissingError("endpoint configuration", name)
        return self.configs[name]

    def create_endpoint(self, name: str, config_name: str, tags: dict[str, str]) -> bool:
        self.calls["CreateEndpoint"] += 1
        if name in self.endpoints:
            return False
        if config_name not in self.configs:
            raise missing_endpoint_config("CreateEndpoint", config_name).refused()
        self.endpoints[name] = EndpointState(name, "Creating", config_name, None, None)
        self.resource_tags[f"{ARN}:endpoint/{name.lower()}"] = dict(tags)
        return True

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        retain_variant_properties: bool,
        blue_green: BlueGreenUpdate | None = None,
    ) -> None:
        self.calls["UpdateEndpoint"] += 1
        self.blue_green.append(blue_green)
        if name not in self.endpoints:
            raise missing_endpoint("UpdateEndpoint", name).refused()
        current = self.endpoints[name]
        if current.status in IN_PROGRESS:
            raise endpoint_busy(name)
        if config_name not in self.configs:
            raise missing_endpoint_config("UpdateEndpoint", config_name).refused()
        kept = {v.name: v.instance_type for v in self.configs[config_name].variants}
        serving = self.configs.get(current.config_name)
        for variant in serving.variants if serving else []:
            changed = kept.get(variant.name, "removed") != variant.instance_type
            if changed and (name, variant.name) in self.scaling.targets:
                raise autoscaled_variant_changed(name, variant.name).refused()
        self.endpoints[name] = current._replace(status="Updating", pending_config_name=config_name)
        self.updates.append((name, config_name, retain_variant_properties))

    def delete_endpoint_config(self, name: str) -> None:
        self.calls["DeleteEndpointConfig"] += 1
        self.configs.pop(name, None)

    def delete_model(self, name: str) -> None:
        self.calls["DeleteModel"] += 1
        self.models.pop(name, None)

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint: the endpoint is Deleting (SageMaker deletes it asynchronously)."""
        self.calls["DeleteEndpoint"] += 1
        if name in self.endpoints:
            self.endpoints[name] = self.endpoints[name]._replace(status="Deleting")

    def put_endpoint(
        self, status: str, config: EndpointConfig, reason: str | None = None, stack: str = STACK_NAME
    ) -> None:
        """An endpoint that already exists, on config, created by stack (tagged with its first run)."""
        self.configs[config.name] = config
        self.endpoints[ENDPOINT] = EndpointState(ENDPOINT, status, config.name, None, reason)
        self.resource_tags[f"{ARN}:endpoint/{ENDPOINT.lower()}"] = resource_tags(RUN, stack)

    def finish(self, name: str = ENDPOINT) -> None:
        """The endpoint reaches InService on its pending (or current) configuration."""
        current = self.endpoints[name]
        self.endpoints[name] = EndpointState(
            name, "InService", current.pending_config_name or current.config_name, None, None
        )
