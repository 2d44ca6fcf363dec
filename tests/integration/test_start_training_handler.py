"""start_training's handler on the sample events: S3, DynamoDB and EventBridge under moto,
SageMaker through botocore's Stubber (moto has no labeling jobs and lets duplicate names through)."""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.adapters import training
from sagechain.spec import TaskType
from tests.aws import BUCKET, EventCapture, create_stack_resources, load_handler, sample_event
from tests.fakes import MemoryStore
from tests.runs import (
    LABELING_JOB,
    ROLE_ARN,
    RUN_ID,
    bus_event,
    claim_attempt,
    classification_lines,
    describe_labeling_job,
    labeling_output_key,
    provided_spec,
    put_run,
    run_retried,
    spec_of,
    stop_attempt,
    two_class_labels,
)
from tests.stubs import count_calls, stubbed

pytestmark = pytest.mark.integration
JOB_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/sagechain-{RUN_ID}-train"


class Stack:
    def __init__(self, handler: ModuleType, capture: EventCapture, sagemaker: Any, stubber: Stubber) -> None:
        self.handler = handler
        self.capture = capture
        self.sagemaker = sagemaker
        self.stubber = stubber
        self.calls = count_calls(sagemaker)

    def invoke(self, case: str) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.handler(
            sample_event("start_training", case), FakeLambdaContext()
        )
        return result


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE_ARN)
    with mock_aws(), stubbed("sagemaker") as (client, stubber):
        create_stack_resources()
        capture = EventCapture()
        handler = load_handler("start_training")
        monkeypatch.setattr(training, "sagemaker_client", lambda: client)
        yield Stack(handler, capture, client, stubber)


def upload(objects: dict[str, bytes]) -> None:
    s3 = boto3.client("s3")
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def keys(prefix: str) -> set[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def provided_run() -> None:
    store = MemoryStore(BUCKET)
    spec = provided_spec(TaskType.IMAGE_CLASSIFICATION, ["rose", "tulip"])
    put_run(store, spec, classification_lines(spec, BUCKET, two_class_labels(20)))
    upload(store.objects)


def ground_truth_run() -> None:
    store = MemoryStore(BUCKET)
    spec = spec_of(
        {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "ground-truth"}}
    )
    put_run(store, spec, None)
    store.objects[labeling_output_key()] = classification_lines(spec, BUCKET, two_class_labels(20))
    upload(store.objects)


def test_provided_labels_start_a_training_job_and_emit_training_started(stack: Stack) -> None:
    provided_run()
    stack.stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})

    result = stack.invoke("labeled_manifest_created")

    assert result["outcome"] == "Training Started"
    assert keys(f"runs/{RUN_ID}/") >= {
        f"runs/{RUN_ID}/train.manifest",
        f"runs/{RUN_ID}/validation.manifest",
        f"runs/{RUN_ID}/training.json",
    }
    [event] = stack.capture.received()
    assert (event["source"], event["detail-type"]) == ("sagechain", "Training Started")
    assert event["detail"]["job_names"] == [f"sagechain-{RUN_ID}-train"]
    assert (event["detail"]["train_objects"], event["detail"]["validation_objects"]) == (16, 4)


def test_a_completed_labeling_job_trains_on_ground_truths_output(stack: Stack) -> None:
    ground_truth_run()
    stack.stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=20), {"LabelingJobName": LABELING_JOB}
    )
    stack.stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})

    result = stack.invoke("labeling_job_completed")

    assert result["outcome"] == "Training Started"
    assert f"runs/{RUN_ID}/labeled.manifest" not in keys(f"runs/{RUN_ID}/")
    record = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/training.json")["Body"].read()
    )
    assert record["labeling_job_name"] == LABELING_JOB


@pytest.mark.parametrize("case", ["labeling_job_completed", "labeled_manifest_created"])
def test_a_duplicate_event_starts_one_training_job(stack: Stack, case: str) -> None:
    if case == "labeling_job_completed":
        ground_truth_run()
        stack.stubber.add_response("describe_labeling_job", describe_labeling_job(BUCKET, labeled=20))
    else:
        provided_run()
    stack.stubber.add_response("create_training_job", {"TrainingJobArn": JOB_ARN})

    first = stack.invoke(case)
    second = stack.invoke(case)

    assert first == second
    assert stack.calls["CreateTrainingJob"] == 1
    assert stack.calls["DescribeLabelingJob"] == (1 if case == "labeling_job_completed" else 0)
    assert [e["detail-type"] for e in stack.capture.received()] == ["Training Started"]


def test_a_labeling_job_that_labeled_nothing_emits_training_skipped(stack: Stack) -> None:
    ground_truth_run()
    stack.stubber.add_response("describe_labeling_job", describe_labeling_job(BUCKET, labeled=0))

    result = stack.invoke("labeling_job_completed")

    assert result["outcome"] == "Training Skipped"
    [event] = stack.capture.received()
    assert event["detail-type"] == "Training Skipped"
    assert "no labeled images" in event["detail"]["reason"]
    assert stack.calls["CreateTrainingJob"] == 0


def test_someone_elses_labeling_job_is_ignored(stack: Stack) -> None:
    stack.stubber.add_response(
        "describe_labeling_job", describe_labeling_job(BUCKET, labeled=20, run_id=None)
    )

    result = stack.invoke("labeling_job_completed")

    assert result["outcome"] == "ignored"
    assert stack.capture.received() == []


def queued(*events: dict[str, Any]) -> dict[str, Any]:
    """StartTrainingQueue's SQS batch, one message per event, as Lambda's poller hands it over."""
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": json.dumps(event),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764072000000"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sagechain-StartTrainingQueue",
            }
            for i, event in enumerate(events)
        ]
    }


def test_a_run_retried_delivered_twice_starts_attempt_2_once(stack: Stack) -> None:
    provided_run()
    store = MemoryStore(BUCKET)
    claim_attempt(store, 2, "training")
    upload(store.objects)
    job = f"sagechain-{RUN_ID}-train-a2"
    stack.stubber.add_response("create_training_job", {"TrainingJobArn": f"{JOB_ARN}-a2"})
    retried = bus_event(run_retried(2, "training"))

    answer = stack.handler.handler(queued(retried, dict(retried, id="again")), FakeLambdaContext())

    assert answer == {"batchItemFailures": []}
    assert stack.calls["CreateTrainingJob"] == 1
    [event] = stack.capture.received()
    assert (event["detail-type"], event["detail"]["job_names"], event["detail"]["attempt"]) == (
        "Training Started",
        [job],
        2,
    )


def test_a_stopped_runs_labeling_completion_is_answered_ignored_and_not_retried(stack: Stack) -> None:
    ground_truth_run()
    store = MemoryStore(BUCKET)
    stop_attempt(store, 1)
    upload(store.objects)
    stack.stubber.add_response("describe_labeling_job", describe_labeling_job(BUCKET, labeled=20))

    result = stack.invoke("labeling_job_completed")

    assert result["outcome"] == "ignored"
    assert "was stopped" in result["reason"]
    assert stack.calls["CreateTrainingJob"] == 0
    assert stack.capture.received() == []
