"""Provided labels to a training job, offline, through the template's own rules."""

import json

import boto3
import pytest
from local.sample_data import flower_images
from local.stack import LocalStack
from local.template import STACK_NAME

pytestmark = pytest.mark.e2e


def test_class_folders_upload_reaches_a_tagged_training_job(stack: LocalStack) -> None:
    s3 = boto3.client("s3")
    for name, data in flower_images(per_class=5).items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/flowers/images/{name}", Body=data)
    spec = {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "provided"}}
    s3.put_object(Bucket=stack.bucket, Key="datasets/flowers/dataset.json", Body=json.dumps(spec).encode())

    deliveries = stack.run_until_quiet()

    stages = [d.function for d in deliveries if d.function not in {"NotifyFunction", "TrackRunFunction"}]
    assert stages[:2] == ["PrepareDatasetFunction", "StartTrainingFunction"]
    assert stack.failures == []
    assert [e["detail-type"] for e in stack.observed][:2] == ["Dataset Prepared", "Training Started"]
    started = stack.observed[1]["detail"]
    [job_name] = started["job_names"]
    sagemaker = boto3.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=job_name)
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train", "validation"]
    tags = sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert {"Key": "sagechain:run-id", "Value": started["run_id"]} in tags
    assert {"Key": "sagechain:stack", "Value": STACK_NAME} in tags
    assert job["EnableNetworkIsolation"] is True


def test_a_labeled_manifest_no_run_of_ours_owns_is_ignored(stack: LocalStack) -> None:
    # Given labels under runs/ that no prepared run wrote (no spec.json beside them)
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="runs/stranger-000000000000/labeled.manifest", Body=b"{}\n")

    # When the chain runs
    deliveries = stack.run_until_quiet()

    # Then start_training read the missing spec as 404 (it may list the bucket) and started nothing
    assert [d.function for d in deliveries] == ["StartTrainingFunction"]
    assert stack.failures == []
    assert stack.observed == []


def test_a_tuning_spec_reaches_a_tagged_tuning_job_and_its_best_model_goes_live(stack: LocalStack) -> None:
    # Given provided labels and a tuning spec
    s3 = boto3.client("s3")
    for name, data in flower_images(per_class=5).items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/flowers/images/{name}", Body=data)
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
        "training": {
            "tuning": {
                "objective_metric": "validation:accuracy",
                "max_jobs": 2,
                "max_parallel_jobs": 1,
                "ranges": [{"name": "learning_rate", "type": "continuous", "min": 0.001, "max": 0.1}],
            }
        },
    }
    s3.put_object(Bucket=stack.bucket, Key="datasets/flowers/dataset.json", Body=json.dumps(spec).encode())

    # When the chain runs
    stack.run_until_quiet()

    # Then a tuning job of this stack trained it and the model went live
    assert [f.error for f in stack.failures] == []
    kinds = [e["detail-type"] for e in stack.observed]
    assert kinds[:2] == ["Dataset Prepared", "Training Started"]
    assert kinds[-1] == "Model Live"
    [tuning] = stack.sagemaker.tuning.values()
    assert {"Key": "sagechain:stack", "Value": STACK_NAME} in tuning["Tags"]
