"""The offline SageMaker: AWS-shaped answers and events, validated requests, nothing leaked."""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from local.sample_data import png
from local.stack import LocalStack
from moto import mock_aws

from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.errors import EndpointBusyError
from sagechain.manifest import Box
from sagechain.ports import EndpointConfig, Variant
from tests.deploy_fakes import FakeSageMaker
from tests.refusals import endpoint_busy

pytestmark = pytest.mark.e2e
ROLE = "arn:aws:iam::123456789012:role/sagechain-demo-sagemaker"
LAMBDAS = "arn:aws:lambda:us-east-1:432418664414:function"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"


def put(stack: LocalStack, key: str, body: bytes) -> str:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    return f"s3://{stack.bucket}/{key}"


def test_labeling_job_is_answered_by_the_taught_workforce_with_a_state_change_event(
    stack: LocalStack,
) -> None:
    images = [put(stack, f"datasets/f/images/{i}.png", b"x") for i in range(3)]
    manifest = put(
        stack,
        "runs/r1/input.manifest",
        b"".join(json.dumps({"source-ref": u}).encode() + b"\n" for u in images),
    )
    categories = put(
        stack,
        "runs/r1/labeling/categories.json",
        json.dumps(
            {"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}
        ).encode(),
    )
    stack.sagemaker.workforce.update({images[0]: ["dog"], images[1]: ["cat"]})
    sagemaker = boto3.client("sagemaker")

    sagemaker.create_labeling_job(
        LabelingJobName="sagechain-r1-labeling",
        LabelAttributeName="label",
        InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}}},
        OutputConfig={"S3OutputPath": f"s3://{stack.bucket}/runs/r1/labeling/"},
        RoleArn=ROLE,
        LabelCategoryConfigS3Uri=categories,
        HumanTaskConfig={
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/t",
            "UiConfig": {
                "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:394669845002:human-task-ui/ImageMultiClass"
            },
            "PreHumanTaskLambdaArn": f"{LAMBDAS}:PRE-ImageMultiClass",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{LAMBDAS}:ACS-ImageMultiClass"
            },
        },
        Tags=[{"Key": "sagechain:run-id", "Value": "r1"}],
    )
    assert (
        sagemaker.describe_labeling_job(LabelingJobName="sagechain-r1-labeling")["LabelingJobStatus"]
        == "InProgress"
    )
    stack.run_until_quiet()

    job = sagemaker.describe_labeling_job(LabelingJobName="sagechain-r1-labeling")
    assert job["LabelingJobStatus"] == "Completed"
    assert job["LabelCounters"]["TotalLabeled"] == 2
    assert job["LabelCounters"]["Unlabeled"] == 1
    bucket, key = job["LabelingJobOutput"]["OutputDatasetS3Uri"].removeprefix("s3://").split("/", 1)
    lines = [
        json.loads(x) for x in boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
    ]
    assert [(line["source-ref"], line["label"]) for line in lines] == [(images[0], 1), (images[1], 0)]
    [event] = [e for e in stack.observed if e["source"] == "aws.sagemaker"] or [None]
    assert event is None  # the observer listens to sagechain events only


def test_requests_the_real_api_would_refuse_never_reach_the_emulation(stack: LocalStack) -> None:
    with pytest.raises(ParamValidationError):
        boto3.client("sagemaker").create_training_job(TrainingJobName="x")

    assert stack.sagemaker.calls["CreateTrainingJob"] == 0


def test_training_then_endpoint_then_prediction(stack: LocalStack) -> None:
    sagemaker = boto3.client("sagemaker")
    train = put(
        stack,
        "runs/r2/train.manifest",
        json.dumps(
            {"source-ref": "s3://b/x.png", "label": 1, "label-metadata": {"class-name": "tulip"}}
        ).encode()
        + b"\n"
        + json.dumps(
            {"source-ref": "s3://b/y.png", "label": 0, "label-metadata": {"class-name": "rose"}}
        ).encode(),
    )
    sagemaker.create_training_job(
        TrainingJobName="sagechain-r2-train",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "AugmentedManifestFile",
                        "S3Uri": train,
                        "AttributeNames": ["source-ref", "label"],
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{stack.bucket}/runs/r2/training/"},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Tags=[{"Key": "sagechain:run-id", "Value": "r2"}],
    )
    stack.run_until_quiet()
    job = sagemaker.describe_training_job(TrainingJobName="sagechain-r2-train")
    assert job["TrainingJobStatus"] == "Completed"
    assert job["FinalMetricDataList"][0]["MetricName"] == "validation:accuracy"

    sagemaker.create_model(
        ModelName="sagechain-r2-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="sagechain-r2-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "sagechain-r2-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="sagechain-r2-config")
    with pytest.raises(ClientError, match="already existing endpoint"):
        sagemaker.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="sagechain-r2-config")
    stack.run_until_quiet()
    assert sagemaker.describe_endpoint(EndpointName="sagechain-flowers")["EndpointStatus"] == "InService"

    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="sagechain-flowers", Body=png(8, 8, (240, 200, 40)), ContentType="image/png"
    )

    rose, tulip = json.loads(answer["Body"].read())["prediction"]
    assert tulip > 0.9 > rose


def test_the_emulation_is_gone_once_the_stack_closes() -> None:
    with mock_aws():
        before = boto3.DEFAULT_SESSION
        with LocalStack(parameters={"LogLevel": "ERROR"}):
            assert boto3.DEFAULT_SESSION is not before

        assert boto3.DEFAULT_SESSION is before


def test_boxes_taught_to_the_workforce_come_back_in_ground_truth_form(stack: LocalStack) -> None:
    # Given a workforce taught the boxes of one image, and a bounding-box job over it and another
    uri = put(stack, "datasets/fruit/images/a.png", b"x")
    other = put(stack, "datasets/fruit/images/b.png", b"x")
    stack.sagemaker.workforce[uri] = (40, 30, [Box("apple", 1, 2, 3, 4), Box("pear", 5, 6, 7, 8)])
    manifest = put(
        stack,
        "runs/r3/input.manifest",
        b"".join(json.dumps({"source-ref": u}).encode() + b"\n" for u in (uri, other)),
    )
    categories = put(
        stack,
        "runs/r3/labeling/categories.json",
        json.dumps(
            {"document-version": "2018-11-28", "labels": [{"label": "apple"}, {"label": "pear"}]}
        ).encode(),
    )
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_labeling_job(
        LabelingJobName="sagechain-r3-labeling",
        LabelAttributeName="boxes",
        InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}}},
        OutputConfig={"S3OutputPath": f"s3://{stack.bucket}/runs/r3/labeling/"},
        RoleArn=ROLE,
        LabelCategoryConfigS3Uri=categories,
        HumanTaskConfig={
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/t",
            "UiConfig": {
                "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:394669845002:human-task-ui/BoundingBox"
            },
            "PreHumanTaskLambdaArn": f"{LAMBDAS}:PRE-BoundingBox",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{LAMBDAS}:ACS-BoundingBox"
            },
        },
    )

    # When the job runs
    stack.run_until_quiet()

    # Then the taught image comes back as Ground Truth writes boxes, the other unlabeled
    job = sagemaker.describe_labeling_job(LabelingJobName="sagechain-r3-labeling")
    assert (job["LabelCounters"]["TotalLabeled"], job["LabelCounters"]["Unlabeled"]) == (1, 1)
    bucket, key = job["LabelingJobOutput"]["OutputDatasetS3Uri"].removeprefix("s3://").split("/", 1)
    [line] = [
        json.loads(x) for x in boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
    ]
    assert line["source-ref"] == uri
    assert line["boxes"] == {
        "image_size": [{"width": 40, "height": 30, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4},
            {"class_id": 1, "left": 5, "top": 6, "width": 7, "height": 8},
        ],
    }
    assert line["boxes-metadata"]["class-map"] == {"0": "apple", "1": "pear"}
    assert line["boxes-metadata"]["type"] == "groundtruth/object-detection"


def test_the_emulator_refuses_an_update_in_progress_as_the_unit_fakes_do(stack: LocalStack) -> None:
    # Given an endpoint the emulator is still creating
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="c")
    host = SageMakerHosting(sagemaker)
    fake = FakeSageMaker()
    fake.put_endpoint("Creating", EndpointConfig("c", "arn", [Variant("AllTraffic", "m", "ml.m5.large")]))

    # When each is asked to update it, Then both refuse with the same error
    with pytest.raises(EndpointBusyError) as emulated:
        host.update_endpoint("sagechain-flowers", "c", True)
    with pytest.raises(EndpointBusyError) as faked:
        fake.update_endpoint("sagechain-flowers", "c", True)
    assert str(emulated.value) == str(faked.value) == str(endpoint_busy("sagechain-flowers"))


# ------------------------------------------------------------ SageMaker's documented refusals
def training_request(**changes: Any) -> dict[str, Any]:
    """A CreateTrainingJob request SageMaker accepts, with changes."""
    request: dict[str, Any] = {
        "TrainingJobName": "sagechain-r3-train",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b/runs/r3/training/"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    return request | changes


def tuning_request(**changes: Any) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request SageMaker accepts, with changes."""
    job = training_request()
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": "sagechain-r3-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": job["AlgorithmSpecification"],
            "RoleArn": ROLE,
            "OutputDataConfig": job["OutputDataConfig"],
            "ResourceConfig": job["ResourceConfig"],
            "StoppingCondition": job["StoppingCondition"],
        },
    }
    return request | changes


def variant(**changes: Any) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": "sagechain-r3-model",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    } | changes


def with_model() -> Any:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="sagechain-r3-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    return sagemaker


def cpu_tuning() -> dict[str, Any]:
    request = tuning_request()
    request["TrainingJobDefinition"]["ResourceConfig"] = {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 50,
    }
    return request


def detection_on_cpu() -> dict[str, Any]:
    return training_request(
        AlgorithmSpecification={
            "TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/object-detection:1",
            "TrainingInputMode": "Pipe",
        },
        ResourceConfig={"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
    )


# Each: the call, SageMaker's error code, and what its message says.
REFUSALS: dict[str, tuple[Callable[[Any], Any], str, str]] = {
    "training on an instance type training does not offer": (
        lambda sm: sm.create_training_job(
            **training_request(
                ResourceConfig={"InstanceType": "ml.t2.medium", "InstanceCount": 1, "VolumeSizeInGB": 5}
            )
        ),
        "ValidationException",
        "at 'resourceConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value set",
    ),
    "image classification built-in on a CPU instance": (
        lambda sm: sm.create_training_job(
            **training_request(
                ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
            )
        ),
        "ValidationException",
        "Instance type ml.m5.xlarge is not supported by algorithm image-classification; "
        "only GPU instances are supported.",
    ),
    "object detection built-in on a CPU instance": (
        lambda sm: sm.create_training_job(**detection_on_cpu()),
        "ValidationException",
        "not supported by algorithm object-detection; only GPU instances are supported.",
    ),
    "tuning a GPU-only built-in on a CPU instance": (
        lambda sm: sm.create_hyper_parameter_tuning_job(**cpu_tuning()),
        "ValidationException",
        "not supported by algorithm image-classification",
    ),
    "a training job name of 64 characters": (
        lambda sm: sm.create_training_job(**training_request(TrainingJobName="t" * 64)),
        "ValidationException",
        "at 'trainingJobName' failed to satisfy constraint: Member must have length less than or equal to 63",
    ),
    "a training job name with an underscore": (
        lambda sm: sm.create_training_job(**training_request(TrainingJobName="bad_name")),
        "ValidationException",
        "at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ),
    "a tuning job name of 33 characters": (
        lambda sm: sm.create_hyper_parameter_tuning_job(
            **tuning_request(HyperParameterTuningJobName="t" * 33)
        ),
        "ValidationException",
        "at 'hyperParameterTuningJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 32",
    ),
    "101 hyperparameters": (
        lambda sm: sm.create_training_job(
            **training_request(HyperParameters={f"h{i}": "1" for i in range(101)})
        ),
        "ValidationException",
        "at 'hyperParameters' failed to satisfy constraint: "
        "Member must have length less than or equal to 100",
    ),
    "a hyperparameter value of 2501 characters": (
        lambda sm: sm.create_training_job(**training_request(HyperParameters={"epochs": "1" * 2501})),
        "ValidationException",
        "Map value must satisfy constraint: [Member must have length less than or equal to 2500]",
    ),
    "a hyperparameter key of 257 characters": (
        lambda sm: sm.create_training_job(**training_request(HyperParameters={"k" * 257: "1"})),
        "ValidationException",
        "Map key must satisfy constraint: [Member must have length less than or equal to 256]",
    ),
    "a training job name used before": (
        lambda sm: [sm.create_training_job(**training_request()) for _ in range(2)],
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training job with this "
        "name already exists (arn:aws:sagemaker:us-east-1:123456789012:training-job/sagechain-r3-train)",
    ),
    "a tuning job name used before, in other case": (
        lambda sm: [
            sm.create_hyper_parameter_tuning_job(**tuning_request(HyperParameterTuningJobName=name))
            for name in ("sagechain-r3-tune", "SAGECHAIN-r3-tune")
        ],
        "ResourceInUse",
        "Hyperparameter tuning job names must be unique within an AWS account and region",
    ),
    "hosting on an instance type endpoints do not offer": (
        lambda sm: with_model().create_endpoint_config(
            EndpointConfigName="sagechain-r3-config",
            ProductionVariants=[variant(InstanceType="ml.p3dn.24xlarge")],
        ),
        "ValidationException",
        "at 'productionVariants.1.member.instanceType' failed to satisfy constraint: "
        "Member must satisfy enum value set",
    ),
    "an endpoint configuration for a model that does not exist": (
        lambda sm: sm.create_endpoint_config(
            EndpointConfigName="sagechain-r3-config", ProductionVariants=[variant()]
        ),
        "ValidationException",
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/sagechain-r3-model".',
    ),
    "a model name used before": (
        lambda sm: [with_model() for _ in range(2)],
        "ValidationException",
        f'Cannot create already existing model "{ARN}:model/sagechain-r3-model".',
    ),
    "an endpoint configuration name used before": (
        lambda sm: [
            with_model().create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant()]),
            sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant()]),
        ],
        "ValidationException",
        "Cannot create already existing endpoint configuration",
    ),
    "an endpoint on a configuration that does not exist": (
        lambda sm: sm.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="missing"),
        "ValidationException",
        f'Could not find endpoint configuration "{ARN}:endpoint-config/missing".',
    ),
    "a transform on an instance type transform does not offer": (
        lambda sm: sm.create_transform_job(
            TransformJobName="sagechain-r3-transform",
            ModelName="sagechain-r3-model",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}
            },
            TransformOutput={"S3OutputPath": "s3://b/out/"},
            TransformResources={"InstanceType": "ml.t2.medium", "InstanceCount": 1},
        ),
        "ValidationException",
        "at 'transformResources.instanceType' failed to satisfy constraint: "
        "Member must satisfy enum value set",
    ),
}


@pytest.mark.parametrize(("call", "code", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_request_sagemaker_refuses_is_refused_with_its_error_code_and_words(
    stack: LocalStack, call: Callable[[Any], Any], code: str, message: str
) -> None:
    sagemaker = boto3.client("sagemaker")

    with pytest.raises(ClientError) as refused:
        call(sagemaker)

    assert refused.value.response["Error"]["Code"] == code
    assert message in refused.value.response["Error"]["Message"]


def test_update_endpoint_to_a_configuration_that_does_not_exist_is_refused(stack: LocalStack) -> None:
    sagemaker = with_model()
    sagemaker.create_endpoint_config(EndpointConfigName="sagechain-r3-config", ProductionVariants=[variant()])
    sagemaker.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="sagechain-r3-config")
    stack.run_until_quiet()

    with pytest.raises(ClientError) as refused:
        sagemaker.update_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="missing")

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"].startswith('Could not find endpoint configuration "')
    assert stack.sagemaker.endpoints["sagechain-flowers"]["EndpointStatus"] == "InService"


def test_update_endpoint_while_it_is_creating_is_refused(stack: LocalStack) -> None:
    sagemaker = with_model()
    sagemaker.create_endpoint_config(EndpointConfigName="sagechain-r3-config", ProductionVariants=[variant()])
    sagemaker.create_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="sagechain-r3-config")

    with pytest.raises(ClientError, match="Cannot update in-progress endpoint") as refused:
        sagemaker.update_endpoint(EndpointName="sagechain-flowers", EndpointConfigName="sagechain-r3-config")

    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_quota_of_zero_refuses_training_on_that_instance_type(stack: LocalStack) -> None:
    stack.sagemaker.instance_quotas[("training job", "ml.p3.2xlarge")] = 0

    with pytest.raises(ClientError) as refused:
        boto3.client("sagemaker").create_training_job(**training_request())

    assert refused.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert (
        "'ml.p3.2xlarge for training job usage' is 0 Instances" in refused.value.response["Error"]["Message"]
    )


def test_a_described_tuning_job_is_shaped_as_the_api_returns_it(stack: LocalStack) -> None:
    sagemaker = boto3.client("sagemaker")
    request = tuning_request(Tags=[{"Key": "sagechain:run-id", "Value": "r3"}])
    request["TrainingJobDefinition"]["OutputDataConfig"] = {"S3OutputPath": f"s3://{stack.bucket}/runs/r3/"}
    sagemaker.create_hyper_parameter_tuning_job(**request)
    stack.run_until_quiet()

    job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="sagechain-r3-tune")

    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["BestTrainingJob"]["TrainingJobName"].startswith("sagechain-r3-tune-")
    assert "Tags" not in job


def test_a_tuning_jobs_trials_are_listed_page_by_page_with_their_tuned_values(stack: LocalStack) -> None:
    sagemaker = boto3.client("sagemaker")
    request = tuning_request()
    config = request["HyperParameterTuningJobConfig"]
    config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 3
    config["ParameterRanges"] = {
        "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.0", "MaxValue": "0.4"}]
    }
    request["TrainingJobDefinition"]["OutputDataConfig"] = {"S3OutputPath": f"s3://{stack.bucket}/runs/r3/"}
    sagemaker.create_hyper_parameter_tuning_job(**request)
    stack.run_until_quiet()

    first = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sagechain-r3-tune", MaxResults=2
    )
    rest = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sagechain-r3-tune", MaxResults=2, NextToken=first["NextToken"]
    )

    trials = first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]
    assert "NextToken" not in rest
    assert [t["TunedHyperParameters"] for t in trials] == [
        {"learning_rate": "0.1"},
        {"learning_rate": "0.2"},
        {"learning_rate": "0.3"},
    ]
    assert all(
        t["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:accuracy"
        for t in trials
    )
    [trial, *_] = SageMakerHosting(sagemaker).tuning_trials("sagechain-r3-tune")
    assert (trial.status, trial.training_seconds) == ("Completed", 600)
