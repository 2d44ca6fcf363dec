"""A stage that fails for good: its event is saved under failures/, a person is emailed how to redrive it."""

import json

import boto3
import pytest
from local.outbox import published
from local.sagemaker import ApiError
from local.stack import PHYSICAL, LocalStack
from local.template import function_name

from tests.e2e.test_full_chain import upload_flowers

pytestmark = pytest.mark.e2e


def test_a_stage_that_fails_every_attempt_is_saved_emailed_and_leaves_no_queue_behind(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Throttling is retryable: every attempt fails, so the event ends in the failure queue (a
    # refusal for good, such as AccessDeniedException, is a "Labeling Failed" fact instead).
    def refuse(_params: object) -> None:
        raise ApiError("ThrottlingException", "Rate exceeded")

    monkeypatch.setattr(stack.sagemaker, "_op_CreateLabelingJob", refuse)
    upload_flowers(stack)

    stack.run_until_quiet()

    [failed] = stack.failures
    assert failed.function == "StartLabelingFunction"
    [(subject, body)] = [(s, m) for s, m in published(PHYSICAL["NotificationTopic"]) if s and "failed" in s]
    run_id = stack.observed[0]["detail"]["run_id"]
    assert subject == f"[sagechain] Labeling start failed (run {run_id})"
    assert "Labeling start did not finish. start_labeling failed on all 3 attempts." in body
    assert "ThrottlingException" in body
    s3 = boto3.client("s3")
    [saved] = s3.list_objects_v2(Bucket=stack.bucket, Prefix="failures/")["Contents"]
    assert saved["Key"].split("/")[4] == function_name("StartLabelingFunction")
    assert json.loads(s3.get_object(Bucket=stack.bucket, Key=saved["Key"])["Body"].read()) == failed.event
    assert f"aws s3 cp s3://{stack.bucket}/{saved['Key']} event.json" in body
    sqs = boto3.client("sqs")
    for queue in ("AsyncFailureQueue", "ReportFailuresDeadLetterQueue"):
        url = stack.queue_url(PHYSICAL[f"{queue}.Arn"])
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
