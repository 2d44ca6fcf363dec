"""Deployments that AWS refuses end the run with an email; deployments that meet a busy endpoint
wait for its next state change instead of a retry's luck."""

import boto3
import pytest
from local.outbox import published
from local.sagemaker import ApiError
from local.stack import PHYSICAL, LocalStack

from sagechain.adapters.runs_table import DynamoRunStore
from tests.e2e.test_deploy_chain import ENDPOINT, live_model, sagechain_events, train

pytestmark = pytest.mark.e2e
QUOTA = "ml.m5.large for endpoint usage"


def _queue_is_empty(stack: LocalStack, queue: str) -> bool:
    url = stack.queue_url(PHYSICAL[f"{queue}.Arn"])
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_a_quota_of_zero_on_create_endpoint_fails_the_run_with_an_email_naming_the_quota(
    stack: LocalStack,
) -> None:
    # Given an account whose quota for the endpoint's instance type is 0 (as new accounts' often are)
    stack.sagemaker.refuse_endpoint = lambda _request: ApiError(
        "ResourceLimitExceeded",
        f"The account-level service limit '{QUOTA}' is 0 Instances, with current utilization of 0 "
        "Instances and a request delta of 1 Instances. Please contact AWS support to request an "
        "increase for this limit.",
    )
    train(stack, "flowers-run1", {"epochs": "10"})

    stack.run_until_quiet()

    assert stack.failures == []
    assert sagechain_events(stack) == ["Deployment Failed"]
    failed = stack.observed[0]["detail"]
    assert failed["aws_error"]["code"] == "ResourceLimitExceeded"
    assert failed["aws_error"]["quota_name"] == QUOTA
    assert "servicequotas" in failed["aws_error"]["quota_console_url"]
    [(subject, body)] = [(s, b) for s, b in published(PHYSICAL["NotificationTopic"]) if s]
    assert subject == "[sagechain] flowers: Deployment failed (run flowers-run1)"
    first_sentence = body.splitlines()[0]
    assert QUOTA in first_sentence
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run("flowers-run1")
    assert record is not None
    assert (record.run.stage, record.run.status) == ("deployment", "failed")
    assert _queue_is_empty(stack, "AsyncFailureQueue")


def test_a_second_run_that_meets_a_creating_endpoint_is_deployed_once_it_is_in_service(
    stack: LocalStack,
) -> None:
    # Given two runs whose trainings finish together: the second finds the endpoint Creating
    train(stack, "flowers-run1", {"epochs": "10"})
    second = train(stack, "flowers-run2", {"epochs": "20"})

    stack.run_until_quiet()

    assert stack.failures == []
    by_run = [(e["detail"]["run_id"], e["detail-type"]) for e in stack.observed]
    assert [kind for run, kind in by_run if run == "flowers-run2"] == [
        "Deployment Waiting",
        "Deployment Started",
        "Model Live",
    ]
    assert [kind for run, kind in by_run if run == "flowers-run1"] == ["Deployment Started", "Model Live"]
    waiting = next(e["detail"] for e in stack.observed if e["detail-type"] == "Deployment Waiting")
    assert (waiting["endpoint_name"], waiting["endpoint_status"]) == (ENDPOINT, "Creating")
    assert live_model(stack)["training_job_name"] == second
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run("flowers-run2")
    assert record is not None
    assert any(f"waiting for endpoint {ENDPOINT}" in entry.summary for entry in record.history)
    assert record.run.status == "live"
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=f"models/{ENDPOINT}/pending/")
    assert listed.get("KeyCount", 0) == 0
    assert _queue_is_empty(stack, "AsyncFailureQueue")
