"""The deploy stage's real adapters on Stubber-validated clients: every request is checked
against the API model, the ones that matter in full, and the order the calls go out in."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.configure_autoscaling import AutoscalingConfig, configure_autoscaling
from sagechain.deployment.deploy_model import DeployConfig, deploy_model
from sagechain.event_sources.sagemaker import StateChange
from sagechain.events import DeploymentStarted, ModelLive
from sagechain.names import RUN_ID_TAG, STACK_TAG
from sagechain.ports import EndpointConfig, Variant
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    IMAGE,
    JOB,
    ROLE,
    RUN,
    completed_job,
    endpoint_change,
    run_model,
    spec,
    store_with_run,
    training_change,
)
from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.refusals import missing_endpoint
from tests.runs import STACK_NAME
from tests.stubs import call_order, count_calls, refuse, stubbed

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CONFIG_NAME = f"{JOB}-config"
TAGS = [{"Key": RUN_ID_TAG, "Value": RUN}, {"Key": STACK_TAG, "Value": STACK_NAME}]
OLD = EndpointConfig(
    "sagechain-older-run-train-config",
    f"{ARN}:endpoint-config/sagechain-older-run-train-config",
    [Variant("AllTraffic", "sagechain-older-run-train", "ml.m5.large")],
)
TARGET = f"endpoint/{ENDPOINT}/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def described_job(name: str = JOB, accuracy: float = 0.95) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": completed_job(name).model_data_url},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": NOW,
        "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": accuracy, "Timestamp": NOW}],
    }


def described_endpoint(status: str, config: str, pending: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"{ARN}:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
    if pending:
        answer["PendingDeploymentSummary"] = {"EndpointConfigName": pending}
    return answer


def described_config(config: EndpointConfig) -> dict[str, Any]:
    return {
        "EndpointConfigName": config.name,
        "EndpointConfigArn": config.arn,
        "ProductionVariants": [
            {
                "VariantName": v.name,
                "ModelName": v.model_name,
                "InstanceType": v.instance_type,
                "InitialInstanceCount": 1,
            }
            for v in config.variants
        ],
        "CreationTime": NOW,
    }


STACK_TAGS = {STACK_TAG: STACK_NAME}


class Clients:
    """Stubbed SageMaker and Application Auto Scaling, with the calls in the order they went out."""

    def __init__(self, sagemaker: Any, sagemaker_stub: Any, autoscaling: Any, autoscaling_stub: Any) -> None:
        self.sagemaker, self.sm = sagemaker, sagemaker_stub
        self.autoscaling, self.aas = autoscaling, autoscaling_stub
        self.order = call_order(sagemaker, autoscaling)
        self.counts = count_calls(sagemaker)
        self.hosting = SageMakerHosting(sagemaker)
        self.autoscaler = ApplicationAutoScaling(STACK_TAGS, autoscaling)
        self.publisher = RecordingPublisher()

    def deploy(self, store: MemoryDeploymentStore, change: StateChange | None = None) -> None:
        deploy_model(
            change or training_change(),
            self.hosting,
            self.hosting,
            self.autoscaler,
            store,
            self.publisher,
            DeployConfig("sagechain", ROLE, STACK_NAME),
            now=lambda: NOW,
        )

    def expect_job(self, accuracy: float = 0.95) -> None:
        self.sm.add_response(
            "describe_training_job", described_job(accuracy=accuracy), {"TrainingJobName": JOB}
        )

    def expect_model_and_config(self, instance_type: str = "ml.m5.large") -> None:
        self.sm.add_response(
            "create_model",
            {"ModelArn": f"{ARN}:model/{JOB}"},
            {
                "ModelName": JOB,
                "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": completed_job().model_data_url},
                "ExecutionRoleArn": ROLE,
                "EnableNetworkIsolation": True,
                "Tags": TAGS,
            },
        )
        self.sm.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": f"{ARN}:endpoint-config/{CONFIG_NAME}"},
            {
                "EndpointConfigName": CONFIG_NAME,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": JOB,
                        "InstanceType": instance_type,
                        "InitialInstanceCount": 1,
                    }
                ],
                "Tags": TAGS,
            },
        )

    def expect_update(self, retain: bool) -> None:
        self.sm.add_response(
            "update_endpoint",
            {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"},
            {
                "EndpointName": ENDPOINT,
                "EndpointConfigName": CONFIG_NAME,
                "RetainAllVariantProperties": retain,
            },
        )


@pytest.fixture
def clients() -> Iterator[Clients]:
    with stubbed("sagemaker") as (sagemaker, sm), stubbed("application-autoscaling") as (autoscaling, aas):
        yield Clients(sagemaker, sm, autoscaling, aas)


def test_create_path_sends_valid_requests_in_order(clients: Clients) -> None:
    clients.expect_job()
    refuse(clients.sm, missing_endpoint("DescribeEndpoint", ENDPOINT), {"EndpointName": ENDPOINT})
    clients.expect_model_and_config()
    clients.sm.add_response(
        "create_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"},
        {"EndpointName": ENDPOINT, "EndpointConfigName": CONFIG_NAME, "Tags": TAGS},
    )

    clients.deploy(store_with_run())

    assert clients.order == [
        "DescribeTrainingJob",
        "DescribeEndpoint",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
    ]
    [event] = clients.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.action == "create"


def test_update_of_an_autoscaled_variant_to_a_new_instance_type_deregisters_first(clients: Clients) -> None:
    clients.expect_job()
    clients.sm.add_response("describe_endpoint", described_endpoint("InService", OLD.name))
    clients.expect_model_and_config("ml.c5.xlarge")
    clients.sm.add_response(
        "describe_endpoint_config", described_config(OLD), {"EndpointConfigName": OLD.name}
    )
    clients.aas.add_response(
        "describe_scalable_targets",
        {
            "ScalableTargets": [
                {
                    "ServiceNamespace": "sagemaker",
                    "ResourceId": TARGET,
                    "ScalableDimension": DIMENSION,
                    "MinCapacity": 1,
                    "MaxCapacity": 4,
                    "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/x",
                    "CreationTime": NOW,
                }
            ]
        },
        {"ServiceNamespace": "sagemaker", "ResourceIds": [TARGET], "ScalableDimension": DIMENSION},
    )
    clients.aas.add_response(
        "deregister_scalable_target",
        {},
        {"ServiceNamespace": "sagemaker", "ResourceId": TARGET, "ScalableDimension": DIMENSION},
    )
    clients.expect_update(retain=False)

    clients.deploy(store_with_run(dataset_spec=spec(instance_type="ml.c5.xlarge")))

    assert clients.order == [
        "DescribeTrainingJob",
        "DescribeEndpoint",
        "CreateModel",
        "CreateEndpointConfig",
        "DescribeEndpointConfig",
        "DescribeScalableTargets",
        "DeregisterScalableTarget",
        "UpdateEndpoint",
    ]


def test_update_to_a_new_instance_type_without_autoscaling_keeps_the_instance_count(clients: Clients) -> None:
    clients.expect_job()
    clients.sm.add_response("describe_endpoint", described_endpoint("InService", OLD.name))
    clients.expect_model_and_config("ml.c5.xlarge")
    clients.sm.add_response("describe_endpoint_config", described_config(OLD))
    clients.aas.add_response("describe_scalable_targets", {"ScalableTargets": []})
    clients.expect_update(retain=True)

    clients.deploy(store_with_run(dataset_spec=spec(instance_type="ml.c5.xlarge")))

    assert clients.order[-2:] == ["DescribeScalableTargets", "UpdateEndpoint"]
    assert "DeregisterScalableTarget" not in clients.order


def test_update_that_only_changes_the_model_leaves_autoscaling_alone(clients: Clients) -> None:
    clients.expect_job()
    clients.sm.add_response("describe_endpoint", described_endpoint("InService", OLD.name))
    clients.expect_model_and_config()
    clients.sm.add_response("describe_endpoint_config", described_config(OLD))
    clients.expect_update(retain=True)

    clients.deploy(store_with_run())

    # Autoscaling allows a new model on a registered variant: it is not even asked.
    assert clients.order[-2:] == ["DescribeEndpointConfig", "UpdateEndpoint"]
    assert not any(
        name.endswith("ScalableTarget") or name == "DescribeScalableTargets" for name in clients.order
    )


def test_names_that_already_exist_count_as_created(clients: Clients) -> None:
    clients.expect_job()
    refuse(clients.sm, missing_endpoint("DescribeEndpoint", ENDPOINT))
    clients.sm.add_client_error(
        "create_model", "ValidationException", f'Cannot create already existing model "{ARN}:model/{JOB}".'
    )
    clients.sm.add_client_error(
        "create_endpoint_config",
        "ValidationException",
        f'Cannot create already existing endpoint configuration "{ARN}:endpoint-config/{CONFIG_NAME}".',
    )
    clients.sm.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})

    clients.deploy(store_with_run())

    assert isinstance(clients.publisher.events[0], DeploymentStarted)


def test_duplicate_deliveries_create_and_update_once(clients: Clients) -> None:
    store = store_with_run()
    # First delivery: the endpoint is created
    clients.expect_job()
    refuse(clients.sm, missing_endpoint("DescribeEndpoint", ENDPOINT))
    clients.expect_model_and_config()
    clients.sm.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
    clients.deploy(store)
    # Second and third: while it is being created, and once it is in service
    for status in ("Creating", "InService"):
        clients.expect_job()
        clients.sm.add_response("describe_endpoint", described_endpoint(status, CONFIG_NAME))
        clients.deploy(store)
    # Fourth, during a later update to this configuration (SageMaker reports it as pending)
    clients.expect_job()
    clients.sm.add_response(
        "describe_endpoint", described_endpoint("Updating", OLD.name, pending=CONFIG_NAME)
    )
    clients.deploy(store)

    assert clients.counts["CreateModel"] == 1
    assert clients.counts["CreateEndpointConfig"] == 1
    assert clients.counts["CreateEndpoint"] == 1
    assert clients.counts["UpdateEndpoint"] == 0


def test_in_service_endpoint_gets_the_specs_scaling_as_validated_requests(clients: Clients) -> None:
    new = EndpointConfig(
        CONFIG_NAME, f"{ARN}:endpoint-config/{CONFIG_NAME}", [Variant("AllTraffic", JOB, "ml.m5.large")]
    )
    store = store_with_run()
    store.objects[f"runs/{RUN}/model.json"] = run_model().model_dump_json().encode()
    # The documented event carries no tags: the endpoint's own say which stack created it.
    clients.sm.add_response("list_tags", {"Tags": TAGS}, {"ResourceArn": f"{ARN}:endpoint/{ENDPOINT}"})
    clients.sm.add_response(
        "describe_endpoint", described_endpoint("InService", CONFIG_NAME), {"EndpointName": ENDPOINT}
    )
    clients.sm.add_response(
        "describe_endpoint_config", described_config(new), {"EndpointConfigName": CONFIG_NAME}
    )
    clients.sm.add_response("list_tags", {"Tags": TAGS}, {"ResourceArn": new.arn})
    clients.aas.add_response(
        "register_scalable_target",
        {},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": TARGET,
            "ScalableDimension": DIMENSION,
            "MinCapacity": 1,
            "MaxCapacity": 2,
            # Tagged for the stack: IAM lets only this stack deregister it.
            "Tags": STACK_TAGS,
        },
    )
    clients.aas.add_response(
        "put_scaling_policy",
        {"PolicyARN": "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"},
        {
            "PolicyName": "sagechain-invocations-per-instance",
            "ServiceNamespace": "sagemaker",
            "ResourceId": TARGET,
            "ScalableDimension": DIMENSION,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
                "DisableScaleIn": False,
            },
        },
    )

    configure_autoscaling(
        endpoint_change("IN_SERVICE"),
        clients.hosting,
        clients.hosting,
        clients.autoscaler,
        store,
        clients.publisher,
        AutoscalingConfig("sagechain", "https://example.invalid/v1/models/{model}/predict", STACK_NAME),
    )

    assert clients.order == [
        "ListTags",
        "DescribeEndpoint",
        "DescribeEndpointConfig",
        "ListTags",
        "RegisterScalableTarget",
        "PutScalingPolicy",
    ]
    [event] = clients.publisher.events
    assert isinstance(event, ModelLive)


# ---------------------------------------------------------------- adapters alone
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", 'Could not find endpoint "arn:aws:sagemaker:us-east-1:1:endpoint/x".'),
        ("ResourceNotFound", "x"),
    ],
)
def test_a_missing_endpoint_is_none_however_sagemaker_says_it(code: str, message: str) -> None:
    with stubbed("sagemaker") as (client, stubber):
        stubber.add_client_error("describe_endpoint", code, message)

        assert SageMakerHosting(client).endpoint(ENDPOINT) is None


def test_other_describe_endpoint_errors_are_raised_for_a_retry() -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    with stubbed("sagemaker") as (client, stubber):
        stubber.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded")

        with pytest.raises(ClientError, match="Rate exceeded"):
            SageMakerHosting(client).endpoint(ENDPOINT)


def test_tuning_job_answer_names_its_best_training_job() -> None:
    tuning = "sagechain-flowers-8b39944c-tune"
    with stubbed("sagemaker") as (client, stubber):
        stubber.add_response(
            "describe_hyper_parameter_tuning_job",
            {
                "HyperParameterTuningJobName": tuning,
                "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/{tuning}",
                "HyperParameterTuningJobConfig": {
                    "Strategy": "Bayesian",
                    "ResourceLimits": {"MaxParallelTrainingJobs": 2},
                },
                "HyperParameterTuningJobStatus": "Completed",
                "CreationTime": NOW,
                "TrainingJobStatusCounters": {"Completed": 3},
                "ObjectiveStatusCounters": {"Succeeded": 3},
                "BestTrainingJob": {
                    "TrainingJobName": f"{tuning}-002-1a2b3c4d",
                    "TrainingJobArn": f"{ARN}:training-job/{tuning}-002-1a2b3c4d",
                    "CreationTime": NOW,
                    "TrainingJobStatus": "Completed",
                    "TunedHyperParameters": {"learning_rate": "0.01"},
                    "FinalHyperParameterTuningJobObjectiveMetric": {
                        "MetricName": "validation:accuracy",
                        "Value": 0.94,
                    },
                },
            },
            {"HyperParameterTuningJobName": tuning},
        )

        outcome = SageMakerHosting(client).tuning_job(tuning)

    assert outcome.best_training_job == f"{tuning}-002-1a2b3c4d"
    assert (outcome.objective_metric, outcome.objective_value) == ("validation:accuracy", 0.94)


def test_deregistering_a_target_already_gone_is_fine() -> None:
    with stubbed("application-autoscaling") as (client, stubber):
        stubber.add_client_error(
            "deregister_scalable_target", "ObjectNotFoundException", "No scalable target"
        )

        ApplicationAutoScaling(STACK_TAGS, client).deregister(ENDPOINT, "AllTraffic")
