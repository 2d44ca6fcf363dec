"""The observer's emails (track_run's handler) on the sample events, against moto: SNS, DynamoDB
(idempotency, the runs table), S3 (run.json)."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from local.lambda_context import FakeLambdaContext
from local.outbox import published
from moto import mock_aws

from tests.aws import (
    BUCKET,
    create_runs_table,
    create_stack_resources,
    create_topic,
    load_handler,
    sample_event,
)
from tests.stubs import count_calls, stubbed
from tests.unit.test_notify import RUN, TRAINING, arn, run_json

pytestmark = pytest.mark.integration


@pytest.fixture
def stack() -> Iterator[tuple[ModuleType, str]]:
    with mock_aws():
        create_stack_resources()
        create_runs_table()  # the observer records each event before it emails
        topic = create_topic()
        boto3.client("s3").put_object(Bucket=BUCKET, Key=f"runs/{RUN}/run.json", Body=run_json())
        yield load_handler("track_run"), topic


def test_a_sagechain_event_is_published_once_however_often_it_is_delivered(stack: Any) -> None:
    handler, topic = stack
    event = sample_event("notify", "dataset_prepared")

    first = handler.handler(event, FakeLambdaContext())
    second = handler.handler({**event, "id": "redelivered"}, FakeLambdaContext())

    assert first == second
    [(subject, message)] = published(topic)
    assert subject == f"[sagechain] flowers: Dataset prepared (run {RUN})"
    assert "8 images were listed in the run's Ground Truth input manifest." in message


def test_a_failed_training_job_reported_twice_is_one_email_with_its_reason_and_billing(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, topic = stack
    event = sample_event("notify", "training_job_failed")
    job = {
        "TrainingJobName": TRAINING,
        "TrainingJobArn": arn("training-job", TRAINING),
        "TrainingJobStatus": "Failed",
        "SecondaryStatus": "Failed",
        "FailureReason": "AlgorithmError: see the log",
        "AlgorithmSpecification": {"TrainingInputMode": "Pipe"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": "2026-03-02T11:00:10Z",
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "EnableManagedSpotTraining": True,
        "TrainingTimeInSeconds": 1200,
        "BillableTimeInSeconds": 400,
    }
    with stubbed("sagemaker") as (client, stubber):
        calls = count_calls(client)
        # The event carries no tags here: the run comes from ListTags on the job's ARN.
        tags = {
            "Tags": [
                {"Key": "sagechain:run-id", "Value": RUN},
                {"Key": "sagechain:stack", "Value": "sagechain"},
            ]
        }
        for _ in range(2):
            stubber.add_response("list_tags", tags, {"ResourceArn": arn("training-job", TRAINING)})
            stubber.add_response("describe_training_job", job, {"TrainingJobName": TRAINING})
        monkeypatch.setattr("sagechain.adapters.sagemaker_status.sagemaker_client", lambda: client)

        handler.handler(event, FakeLambdaContext())
        handler.handler({**event, "id": "second-report", "time": "2026-03-02T11:20:04Z"}, FakeLambdaContext())

    assert (calls["ListTags"], calls["DescribeTrainingJob"]) == (2, 2)
    [(subject, message)] = published(topic)
    assert subject == f"[sagechain] flowers: Training job failed (run {RUN})"
    assert "AlgorithmError: ClientError: Data download failed" in message  # the event's reason, verbatim
    assert "Billable seconds:   400 s (6 min 40 s)" in message
    assert "Spot savings:       66.7%" in message


def test_success_reported_by_sagemaker_is_recorded_and_sends_nothing(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, topic = stack
    job = {
        "TrainingJobName": TRAINING,
        "TrainingJobArn": arn("training-job", TRAINING),
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingInputMode": "Pipe"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": "2026-03-02T11:00:10Z",
        "ModelArtifacts": {"S3ModelArtifacts": ""},
    }
    with stubbed("sagemaker") as (client, stubber):
        stubber.add_response("describe_training_job", job, {"TrainingJobName": TRAINING})
        monkeypatch.setattr("sagechain.adapters.sagemaker_status.sagemaker_client", lambda: client)

        # The event names its run in its tags; the job's durations come from DescribeTrainingJob.
        result = handler.handler(sample_event("notify", "training_job_completed"), FakeLambdaContext())

    assert (result["run_id"], result["sent"]) == (RUN, None)
    assert published(topic) == []


def test_a_failed_publish_is_raised_so_the_event_is_retried_and_then_sent(stack: Any) -> None:
    handler, topic = stack
    event = sample_event("notify", "model_live")
    boto3.client("sns").delete_topic(TopicArn=topic)

    with pytest.raises(ClientError, match="NotFound"):
        handler.handler(event, FakeLambdaContext())
    create_topic()
    handler.handler(event, FakeLambdaContext())

    [(subject, _)] = published(topic)
    assert subject == f"[sagechain] flowers: Model live (run {RUN})"
