"""A queued stage that fails every delivery reaches report_failures, whatever SQS does to the
receive count of a message it moves to a dead letter queue: moto keeps it (the SQS guide does not
say that AWS resets it), so a stage dead letter queue allows 5 + 5 receives (template.yaml)."""

import json

import boto3
import pytest
from local.outbox import published
from local.sagemaker import ApiError
from local.stack import PHYSICAL, LocalStack
from local.template import function_name

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.observers import failures
from tests.e2e.test_crash_recovery import upload_pets

pytestmark = pytest.mark.e2e


def throttle_training(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CreateTrainingJob is throttled: retryable, so start_training fails every delivery."""

    def refuse(_params: object) -> None:
        raise ApiError("ThrottlingException", "Rate exceeded")

    monkeypatch.setattr(stack.sagemaker, "_op_CreateTrainingJob", refuse)


def queued(queue: str) -> int:
    """Messages in one of the template's queues, visible or in flight."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=PHYSICAL[f"{queue}.QueueName"])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attributes[name])
        for name in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    )


def failure_subjects() -> list[str]:
    return [s for s, _ in published(PHYSICAL["NotificationTopic"]) if s and "failed" in s]


def test_a_training_start_that_fails_every_delivery_is_emailed_saved_and_fails_the_run_at_training(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose training start is throttled on every delivery from StartTrainingQueue
    throttle_training(stack, monkeypatch)
    upload_pets(stack)

    # When the chain runs until nothing is left to deliver
    stack.run_until_quiet()

    # Then start_training was tried 5 times, and report_failures emailed the step once
    assert stack.invocations["StartTrainingFunction"] == 5
    run_id = stack.observed[0]["detail"]["run_id"]
    assert failure_subjects() == [f"[sagechain] Training start failed (run {run_id})"]
    [body] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s and "failed" in s]
    assert "start_training failed on every delivery from its queue" in body
    # and saved the event as the stage received it, for the redrive the email gives
    s3 = boto3.client("s3")
    [saved] = s3.list_objects_v2(Bucket=stack.bucket, Prefix="failures/")["Contents"]
    assert saved["Key"].split("/")[4] == function_name("StartTrainingFunction")
    event = json.loads(s3.get_object(Bucket=stack.bucket, Key=saved["Key"])["Body"].read())
    assert event["detail"]["object"]["key"] == f"runs/{run_id}/labeled.manifest"
    assert f"aws s3 cp s3://{stack.bucket}/{saved['Key']} event.json" in body
    assert (queued("StartTrainingDeadLetterQueue"), queued("ReportFailuresDeadLetterQueue")) == (0, 0)
    # And the run ends failed at training, naming the step and where the event waits for a redrive
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert (record.run.stage, record.run.status) == ("training", "failed")
    assert record.run.summary.startswith("Training start failed: start_training failed on every try")
    assert f"s3://{stack.bucket}/{saved['Key']}" in record.run.summary
    assert record.run.last_error is not None
    assert "start_training failed on every delivery from its queue" in record.run.last_error


def test_a_parked_stage_event_report_failures_cannot_report_ends_in_its_own_dead_letter_queue(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a training start that fails every delivery, and a report_failures that cannot email
    throttle_training(stack, monkeypatch)

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug in the failure email")

    monkeypatch.setattr(failures, "failure_email", broken)
    upload_pets(stack)

    # When the chain runs until nothing is left to deliver
    stack.run_until_quiet()

    # Then report_failures tried 5 times, and the event waits in ReportFailuresDeadLetterQueue,
    # the queue whose alarm emails at once (ReportFailuresDeadLetterQueueAlarm)
    assert stack.invocations["ReportFailuresFunction"] == 5
    assert (queued("StartTrainingDeadLetterQueue"), queued("ReportFailuresDeadLetterQueue")) == (0, 1)
    # and its last try (told by the receive count, whether SQS kept the stage queue's or not)
    # still emailed that it could not report the failure, and where the event waits
    run_id = stack.observed[0]["detail"]["run_id"]
    assert failure_subjects() == [f"[sagechain] Training start failed, unreported (run {run_id})"]
    [body] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s and "unreported" in s]
    assert "RuntimeError: a bug in the failure email" in body
    assert "ReportFailuresDeadLetterQueue" in body
