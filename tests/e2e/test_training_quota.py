"""A training instance type the account has no quota for: the run fails at training, and says why."""

import json

import boto3
import pytest
from local.outbox import published
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack

from sagechain.adapters.runs_table import DynamoRunStore

pytestmark = pytest.mark.e2e

GPU = "ml.g5.xlarge"


def test_a_training_quota_of_zero_ends_the_run_failed_with_an_email_naming_the_quota(
    stack: LocalStack,
) -> None:
    # Given a new account's quota of 0 for a GPU type, and labels provided as class folders
    stack.sagemaker.instance_quotas[("training job", GPU)] = 0
    s3 = boto3.client("s3")
    for name, data in flower_images(per_class=4).items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/pets/images/{name}", Body=data)
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
        "training": {"instance_type": GPU},
    }
    s3.put_object(Bucket=stack.bucket, Key="datasets/pets/dataset.json", Body=json.dumps(spec).encode())

    # When the chain runs
    stack.run_until_quiet()

    # Then no job exists, the email names the quota and its console first, and nothing is parked
    assert stack.sagemaker.training == {}
    [(subject, body)] = [(s, b) for s, b in published(PHYSICAL["NotificationTopic"]) if s and "failed" in s]
    run_id = stack.observed[0]["detail"]["run_id"]
    assert subject == f"[sagechain] pets: Training failed (run {run_id})"
    first_line = body.splitlines()[0]
    assert f"quota '{GPU} for training job usage'" in first_line
    assert "ResourceLimitExceeded" in first_line
    assert "servicequotas" in body
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert (record.run.stage, record.run.status) == ("training", "failed")
    assert stack.failures == []
