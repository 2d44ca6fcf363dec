"""A stage killed mid-way (timeout, out of memory) is finished by its redelivery, exactly once.

The runtime dies after the stage's first side effect: nothing in the handler can clean up, so
Powertools' idempotency record stays INPROGRESS until the invocation's deadline. The stage's
queue gives the event back only when its visibility timeout (960 s) has passed that deadline
(900 s): the redelivery takes the record over and the run goes on to a live model, with one of
everything a person or the bill would notice.
"""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from local.label_studio import annotate
from local.outbox import published
from local.sample_data import flower_images
from local.stack import PHYSICAL, LocalStack, RuntimeCrash

from sagechain.adapters.runs_table import DynamoRunStore

pytestmark = pytest.mark.e2e

# Every queue that parks what the chain could not do: all empty after a recovered crash.
FAILURE_QUEUES = (
    "RulesDeadLetterQueue",
    "AsyncFailureQueue",
    "PrepareDatasetDeadLetterQueue",
    "StartTrainingDeadLetterQueue",
    "StartBatchDeadLetterQueue",
    "CollectBatchDeadLetterQueue",
    "ReportFailuresDeadLetterQueue",
)


def upload_pets(stack: LocalStack) -> None:
    """A dataset with its labels provided as class folders: no labeling job, straight to training."""
    s3 = boto3.client("s3")
    for name, data in flower_images(per_class=4).items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/pets/images/{name}", Body=data)
    spec = {"task": "image-classification", "labels": ["rose", "tulip"], "labeling": {"mode": "provided"}}
    s3.put_object(Bucket=stack.bucket, Key="datasets/pets/dataset.json", Body=json.dumps(spec).encode())


def kinds(stack: LocalStack) -> list[str]:
    return [event["detail-type"] for event in stack.observed]


def assert_recovered_once(stack: LocalStack, crashed: str) -> None:
    """One crash of `crashed`, then a run that ends live with one of everything, and no queue left."""
    [failure] = stack.failures
    assert failure.function == crashed
    assert failure.error is not None
    assert failure.error.startswith("RuntimeCrash")
    # The redelivery came after the queue's visibility timeout, not at once.
    assert stack.waited_seconds >= 960
    # Each fact once; a job that finished before the redelivery may be deployed before its
    # Training Started is told, so the middle two may come in either order.
    assert sorted(kinds(stack)) == sorted(
        ["Dataset Prepared", "Training Started", "Deployment Started", "Model Live"]
    )
    assert kinds(stack)[0] == "Dataset Prepared"
    assert len(stack.sagemaker.training) == 1
    assert len(stack.sagemaker.endpoints) == 1
    subjects = [subject or "" for subject, _ in published(PHYSICAL["NotificationTopic"])]
    assert len(subjects) == len(set(subjects)), subjects
    assert not [s for s in subjects if "failed" in s or "did not finish" in s]
    run_id = stack.observed[0]["detail"]["run_id"]
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert (record.run.stage, record.run.status) == ("live", "live")
    sqs = boto3.client("sqs")
    for queue in FAILURE_QUEUES:
        url = stack.queue_url(PHYSICAL[f"{queue}.Arn"])
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
        ) == (
            "0",
            "0",
        ), queue


def crash_once(
    original: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The emulated operation, done, and then the runtime killed (once)."""
    crashed: list[bool] = []

    def operation(params: dict[str, Any]) -> dict[str, Any]:
        answer = original(params)
        if not crashed:
            crashed.append(True)
            raise RuntimeCrash("Task timed out after 900.00 seconds")
        return answer

    return operation


def test_start_training_killed_after_creating_its_job_is_finished_by_the_redelivery_once(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given start_training dies right after CreateTrainingJob succeeded
    monkeypatch.setattr(
        stack.sagemaker, "_op_CreateTrainingJob", crash_once(stack.sagemaker._op_CreateTrainingJob)
    )
    upload_pets(stack)

    # When the chain runs (the job even finishes before the redelivery comes)
    stack.run_until_quiet()

    # Then the redelivery takes over the job it created, and the model goes live once
    assert_recovered_once(stack, "StartTrainingFunction")


def test_prepare_dataset_killed_after_its_first_write_is_finished_by_the_redelivery_once(
    stack: LocalStack,
) -> None:
    # Given prepare_dataset dies right after its first write under runs/
    crashed: list[str] = []

    def keep_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["crash_test_key"] = params.get("Key", "")

    def crash_after_put(context: dict[str, Any], **_: Any) -> None:
        if str(context.get("crash_test_key", "")).startswith("runs/") and not crashed:
            crashed.append(context["crash_test_key"])
            raise RuntimeCrash("Runtime exited with error: signal: killed")

    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register("before-parameter-build.s3.PutObject", keep_key)
    events.register("after-call.s3.PutObject", crash_after_put)
    upload_pets(stack)

    # When the chain runs
    stack.run_until_quiet()

    # Then one run was prepared, once, and it went on to a live model
    assert len(crashed) == 1
    assert_recovered_once(stack, "PrepareDatasetFunction")


def test_collect_labels_killed_after_writing_the_labeled_manifest_publishes_labeling_completed_once(
    stack: LocalStack,
) -> None:
    # Given a run labeled in Label Studio, whose collect_labels dies right after labeled.manifest is up
    crashed: list[str] = []

    def keep_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["crash_test_key"] = params.get("Key", "")

    def crash_after_manifest(context: dict[str, Any], **_: Any) -> None:
        if str(context.get("crash_test_key", "")).endswith("/labeled.manifest") and not crashed:
            crashed.append(context["crash_test_key"])
            raise RuntimeCrash("Task timed out after 900.00 seconds")

    s3 = boto3.client("s3")
    images = dict(list(flower_images(per_class=2).items())[1:])  # rose/1, tulip/0, tulip/1
    for name, data in images.items():
        s3.put_object(Bucket=stack.bucket, Key=f"datasets/garden/images/{name}", Body=data)
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "training": {"validation_fraction": 0.5},
    }
    s3.put_object(Bucket=stack.bucket, Key="datasets/garden/dataset.json", Body=json.dumps(spec).encode())
    stack.run_until_quiet()
    run_id = stack.observed[0]["detail"]["run_id"]
    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register("before-parameter-build.s3.PutObject", keep_key)
    events.register("after-call.s3.PutObject", crash_after_manifest)

    # When the tool writes one annotation per image and the chain runs
    annotate(stack.bucket, run_id, lambda uri: [uri.rsplit("/", 2)[-2]], after_each=stack.run_until_quiet)

    # Then the redelivery published the completion the crash lost, once, and training started once
    assert len(crashed) == 1
    [failure] = stack.failures
    assert failure.function == "CollectLabelsFunction"
    assert stack.waited_seconds >= 960
    [completed] = [e["detail"] for e in stack.observed if e["detail-type"] == "Labeling Completed"]
    assert (completed["labeled"], completed["label_counts"]) == (3, {"rose": 1, "tulip": 2})
    assert len(stack.sagemaker.training) == 1
    assert kinds(stack).count("Training Started") == 1
    # (its Labeling Completed comes after the model went live: the training did not wait for it)
    assert kinds(stack).count("Model Live") == 1
    subjects = [subject or "" for subject, _ in published(PHYSICAL["NotificationTopic"])]
    assert sum("Labeling completed" in s for s in subjects) == 1
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(run_id)
    assert record is not None
    assert record.run.labeled_objects == 3
    assert (record.run.stage, record.run.status) == ("live", "live")
    sqs = boto3.client("sqs")
    for queue in (*FAILURE_QUEUES, "CollectLabelsDeadLetterQueue"):
        url = stack.queue_url(PHYSICAL[f"{queue}.Arn"])
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0", queue
