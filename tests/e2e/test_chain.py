"""The chain offline, wired from template.yaml: uploads reach handlers only through the rules."""

import json

import boto3
import pytest
from local.outbox import published
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack

from sagechain.adapters.runs_table import DynamoRunStore

pytestmark = pytest.mark.e2e


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)


def test_folder_upload_is_prepared_labeled_by_the_workforce_and_trained(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=4).items():
        key = f"datasets/flowers/images/{name}"
        upload(stack, key, data)
        stack.sagemaker.workforce[f"s3://{stack.bucket}/{key}"] = [name.split("/")[0]]
    spec = {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "ground-truth"}}
    upload(stack, "datasets/flowers/dataset.json", json.dumps(spec).encode())

    deliveries = stack.run_until_quiet()

    stages = [d.function for d in deliveries if d.function not in {"NotifyFunction", "TrackRunFunction"}]
    assert stages[:3] == ["PrepareDatasetFunction", "StartLabelingFunction", "StartTrainingFunction"]
    assert stack.failures == []
    kinds = [event["detail-type"] for event in stack.observed]
    assert kinds[:3] == ["Dataset Prepared", "Labeling Started", "Training Started"]
    prepared, labeling, training = stack.observed[:3]
    assert prepared["detail"]["objects"] == 8
    assert list(stack.sagemaker.labeling) == [labeling["detail"]["job_name"]]
    assert (training["detail"]["train_objects"], training["detail"]["validation_objects"]) == (6, 2)


def test_every_stage_is_emailed_once_and_kept_in_the_runs_history(stack: LocalStack) -> None:
    for name, data in flower_images(per_class=2).items():
        upload(stack, f"datasets/flowers/images/{name}", data)
    upload(
        stack,
        "datasets/flowers/dataset.json",
        json.dumps(
            {
                "task": "image-classification",
                "labels": ["rose", "tulip"],
                "labeling": {"mode": "ground-truth"},
            }
        ).encode(),
    )

    stack.run_until_quiet()

    run_id = stack.observed[0]["detail"]["run_id"]
    kinds = [event["detail-type"] for event in stack.observed]
    # Nobody taught the workforce: the labeling job labels nothing and training is skipped.
    assert kinds == ["Dataset Prepared", "Labeling Started", "Training Skipped"]
    subjects = [subject for subject, _ in published(PHYSICAL["NotificationTopic"])]
    assert subjects[0] == f"[sagechain] flowers: Dataset prepared (run {run_id})"
    assert len(subjects) == len(set(subjects)) == 3
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert record.run.dataset == "flowers"
    # The history also holds SageMaker's own state changes (e.g. the labeling job completing).
    assert [entry.event for entry in record.history if entry.event in kinds] == kinds


def test_images_and_run_outputs_never_trigger_a_run(stack: LocalStack) -> None:
    upload(stack, "datasets/flowers/images/a.png", b"png")
    upload(stack, "datasets/flowers/images/nested.zip", b"zip")
    upload(stack, "runs/x/input.manifest", b"{}")

    deliveries = stack.run_until_quiet()

    # The rule's wildcard also matches datasets/flowers/images/nested.zip: the handler ignores it.
    assert all(d.error is None for d in deliveries)
    assert stack.observed == []
