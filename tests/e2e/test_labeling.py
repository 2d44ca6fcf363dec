"""Stage 2 offline, wired from template.yaml: a prepared run becomes one Ground Truth job."""

import json

import boto3
import pytest
from local.sample_data import flower_images
from local.stack import LocalStack
from local.template import STACK_NAME

pytestmark = pytest.mark.e2e


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def test_a_detection_dataset_gets_a_bounding_box_job_on_the_stacks_work_team(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=1).items():
        upload(stack, f"datasets/garden/images/{name}", data)
    spec = {
        "task": "object-detection",
        "labels": ["rose", "tulip"],
        "labeling": {
            "mode": "ground-truth",
            "instructions": "Box every flower head.",
            "workers_per_object": 2,
        },
    }
    upload(stack, "datasets/garden/dataset.json", json.dumps(spec).encode())

    stack.run_until_quiet()

    assert stack.failures == []
    [started] = [e for e in stack.observed if e["detail-type"] == "Labeling Started"]
    run_id = started["detail"]["run_id"]
    job = stack.sagemaker.labeling[started["detail"]["job_name"]]
    assert job["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith(":function:PRE-BoundingBox")
    assert job["HumanTaskConfig"]["WorkteamArn"] == stack.template.parameters["DefaultWorkteamArn"]
    assert job["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
    assert job["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == (
        f"s3://{stack.bucket}/runs/{run_id}/input.manifest"
    )
    assert job["Tags"] == [
        {"Key": "sagechain:run-id", "Value": run_id},
        {"Key": "sagechain:stack", "Value": STACK_NAME},
    ]
    template = boto3.client("s3").get_object(
        Bucket=stack.bucket, Key=f"runs/{run_id}/labeling/worker-task-template.liquid.html"
    )
    assert b"Box every flower head." in template["Body"].read()


def test_a_run_with_provided_labels_starts_no_labeling_job(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=4).items():
        upload(stack, f"datasets/garden/images/{name}", data)
    spec = {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "provided"}}
    upload(stack, "datasets/garden/dataset.json", json.dumps(spec).encode())

    deliveries = stack.run_until_quiet()

    assert "StartLabelingFunction" not in [d.function for d in deliveries]
    assert stack.sagemaker.labeling == {}
    # The run did not stop short: its class folders became labels, and training used them
    assert [e["detail-type"] for e in stack.observed][:2] == ["Dataset Prepared", "Training Started"]
    prepared = stack.observed[0]
    assert prepared["detail"]["label_counts"] == {"rose": 4, "tulip": 4}
    [job] = stack.sagemaker.training.values()
    s3 = boto3.client("s3")
    lines = []
    for channel in job["InputDataConfig"]:
        bucket, key = channel["DataSource"]["S3DataSource"]["S3Uri"].removeprefix("s3://").split("/", 1)
        lines += [
            json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        ]
    assert sorted(line["label"] for line in lines) == [0, 0, 0, 0, 1, 1, 1, 1]
