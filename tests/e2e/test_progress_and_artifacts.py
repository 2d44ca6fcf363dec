"""A run's progress and results offline: secondary statuses in its history, artifacts to download."""

import json
import re
from typing import Any

import boto3
import pytest
import requests
from local.iam_policy import Request
from local.outbox import published
from local.stack import PHYSICAL, LocalStack

from tests.e2e.test_full_chain import upload_flowers
from tests.e2e.test_paths import CUSTOM_IMAGE, class_folders

pytestmark = pytest.mark.e2e

# A custom container reading its data as files: SageMaker downloads it first.
FILE_MODE = {
    "algorithm": CUSTOM_IMAGE,
    "input_mode": "File",
    "instance_type": "ml.g5.xlarge",
    "metric_definitions": [{"name": "val:acc", "regex": "val_acc=([0-9.]+)"}],
}


def get(stack: LocalStack, path: str) -> tuple[int, dict[str, Any]]:
    answer = stack.api().handle("GET", path, {}, b"")
    return answer.status, dict(json.loads(answer.body))


def test_a_training_jobs_secondary_statuses_are_in_the_run_with_their_times(stack: LocalStack) -> None:
    class_folders(stack, {"training": FILE_MODE})
    stack.run_until_quiet()
    run_id = stack.observed[0]["detail"]["run_id"]

    status, run = get(stack, f"/runs/{run_id}")

    assert status == 200
    [job] = [job for job in run["jobs"] if job["kind"] == "training-job"]
    path = [transition["status"] for transition in job["transitions"]]
    assert path == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(transition["start_time"] and transition["end_time"] for transition in job["transitions"])
    assert job["transitions"][2]["message"] == "Training image download completed. Training in progress."
    assert (job["training_seconds"], job["billable_seconds"]) == (600, 600)
    [completed] = [entry for entry in run["history"] if entry["event"] == "Training job Completed"]
    steps = r"Starting \d+ s -> Downloading \d+ s -> Training \d+ s -> Uploading \d+ s -> Completed \d+ s"
    assert re.search(f"Completed; {steps}$", completed["summary"])


def test_a_runs_artifacts_are_presigned_downloads_of_what_it_produced(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    run_id = stack.observed[0]["detail"]["run_id"]

    status, artifacts = get(stack, f"/runs/{run_id}/artifacts")

    assert status == 200
    [job] = artifacts["jobs"]
    model = job["model"]
    s3 = boto3.client("s3")
    key = model["s3_uri"].removeprefix(f"s3://{stack.bucket}/")
    stored = s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    assert key == f"runs/{run_id}/training/{job['job_name']}/output/model.tar.gz"
    assert model["size_bytes"] == len(stored)
    # The URL works for whoever holds it, with the status API's role behind the signature.
    downloaded = requests.get(model["download_url"], timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == stored
    policy = stack.iam.policies["StatusApiFunction"]
    for artifact in [model, *artifacts["manifests"]]:
        arn = "arn:aws:s3:::" + artifact["s3_uri"].removeprefix("s3://")
        assert policy.evaluate(Request("s3:GetObject", arn)).allowed, arn
    names = sorted(manifest["name"] for manifest in artifacts["manifests"])
    assert names == ["input.manifest", "output.manifest", "train.manifest", "validation.manifest"]
    assert job["output_data"] is None  # the built-in algorithm writes no output data
    assert "logStream:group=/aws/sagemaker/TrainingJobs" in job["logs_url"]
    assert model["console_url"].startswith(f"https://s3.console.aws.amazon.com/s3/object/{stack.bucket}?")


def test_the_artifacts_of_an_unknown_run_are_not_found(stack: LocalStack) -> None:
    status, answer = get(stack, "/runs/nosuch-000000000000/artifacts")

    assert (status, answer["error"]["code"]) == (404, "run_not_found")


def test_the_emails_link_the_workers_portal_and_the_runs_artifacts_route(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    run_id = stack.observed[0]["detail"]["run_id"]

    emails = published(PHYSICAL["NotificationTopic"])
    [live] = [body for subject, body in emails if "Model live" in (subject or "")]
    [labeling] = [body for subject, body in emails if "Labeling started" in (subject or "")]

    assert f"/v1/runs/{run_id}/artifacts" in live
    # The demo's private work team has a portal (DescribeWorkteam): the email gives it.
    portal = r"Workers' labeling portal: https://[0-9a-f]{10}\.labeling\.us-east-1\.sagemaker\.aws"
    assert re.search(portal, labeling)
