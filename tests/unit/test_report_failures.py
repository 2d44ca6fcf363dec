"""report_failures on AWS-shaped samples: EventBridge dead letters, Lambda destination records, junk."""

import json
from pathlib import Path
from typing import Any

import pytest
from samcli.yamlhelper import yaml_parse

from sagechain import names
from sagechain.event_sources.sqs import MalformedMessageError, SqsRecord, parked_message, sqs_records
from sagechain.observers.email import Email
from sagechain.observers.failures import (
    FAILURE_QUEUE_MAX_RECEIVES,
    STAGE_DEAD_LETTER_MAX_RECEIVES,
    STAGE_QUEUE_MAX_RECEIVES,
    ParkedFailure,
    is_last_try,
    parked_failure,
    report_batch,
    report_failure,
    stage_failed,
)
from tests.aws import sample_event
from tests.fakes import MemoryStore

BUCKET = "sagechain-data-example"


class RecordingSender:
    """Keeps every email sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, subject: str, body: str) -> None:
        self.sent.append((subject, body))


def record(case: str, index: int = 0) -> SqsRecord:
    return sqs_records(sample_event("report_failures", case))[index]


def test_an_undelivered_upload_names_prepare_dataset_its_run_and_eventbridges_reason() -> None:
    failure = parked_failure(record("rule_dead_letter"))

    upload = sample_event("prepare_dataset", "folder_dataset")
    version = upload["detail"]["object"]["version-id"]
    assert failure.kind == "undelivered"
    assert (failure.stage, failure.function_name) == (
        "prepare_dataset",
        "sagechain-PrepareDatasetFunction-kU3eTQ0bM1Xa",
    )
    assert failure.run_id == names.run_id("flowers", BUCKET, "datasets/flowers/dataset.json", version)
    assert failure.dataset == "flowers"
    assert (failure.error_code, failure.attempts) == ("NO_PERMISSIONS", 0)
    assert failure.event == upload
    assert failure.saved_key == (
        "failures/2025/11/25/sagechain-PrepareDatasetFunction-kU3eTQ0bM1Xa/059f36b4-87a3-44ab-83d2-661975830a7d.json"
    )


def test_a_destination_record_names_the_function_its_error_and_its_attempts() -> None:
    failure = parked_failure(record("async_failure"))

    assert failure.kind == "failed"
    assert (failure.stage, failure.function_name) == (
        "start_training",
        "sagechain-StartTrainingFunction-Zr7pQ2wXyV1b",
    )
    assert failure.error_code == "ClientError"
    assert failure.error_message is not None
    assert "ResourceLimitExceeded" in failure.error_message
    assert (failure.attempts, failure.condition) == (3, "RetriesExhausted")
    assert failure.event == sample_event("start_training", "labeling_job_completed")
    # A labeling job's event carries no tags: the email names the job instead of a run.
    assert failure.run_id is None
    assert failure.about == "Labeling job sagechain-garden-d54a8e7725f7-label (Completed)"


def test_a_sagechain_event_and_a_tagged_training_job_name_their_run() -> None:
    event = sample_event("track_run", "training_started")
    tagged = sample_event("deploy_model", "training_job_completed")
    tagged["detail"]["Tags"] = {"sagechain:run-id": "flowers-8b39944c64ac"}

    for payload in (event, tagged):
        body = {
            "requestContext": {
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:TrackRunFunction"
            },
            "requestPayload": payload,
        }
        parsed = parked_failure(SqsRecord.model_validate({"messageId": "m", "body": json.dumps(body)}))
        assert parsed.run_id == payload["detail"].get("run_id", "flowers-8b39944c64ac")
        assert parsed.stage == "track_run"


def test_the_email_names_stage_run_cause_saved_event_and_the_redrive_command() -> None:
    store, sender = MemoryStore(BUCKET), RecordingSender()
    failure = parked_failure(record("async_failure"))

    report_failure(failure, store, sender)

    [(subject, body)] = sender.sent
    assert subject == "[sagechain] Training start failed"
    assert "Training start did not finish. start_training failed on all 3 attempts." in body
    assert "ClientError: An error occurred (ResourceLimitExceeded)" in body
    assert json.loads(store.objects[failure.saved_key]) == failure.event
    assert (
        f"aws s3 cp s3://{BUCKET}/{failure.saved_key} event.json && aws lambda invoke --function-name "
        "sagechain-StartTrainingFunction-Zr7pQ2wXyV1b --invocation-type Event "
        "--cli-binary-format raw-in-base64-out --payload file://event.json out.json"
    ) in body


def test_an_undelivered_event_is_explained_in_plain_words() -> None:
    store, sender = MemoryStore(BUCKET), RecordingSender()

    report_failure(parked_failure(record("rule_dead_letter")), store, sender)

    [(subject, body)] = sender.sent
    assert subject.startswith("[sagechain] flowers: Dataset preparation failed (run flowers-")
    assert "EventBridge was not allowed to invoke the function" in body


@pytest.mark.parametrize("index", [0, 1])
def test_a_malformed_message_is_neither_kind(index: int) -> None:
    with pytest.raises(MalformedMessageError):
        parked_message(record("malformed", index))


def test_malformed_messages_are_dropped_not_retried_and_nothing_is_reported() -> None:
    reported: list[ParkedFailure] = []

    response = report_batch(sample_event("report_failures", "malformed"), reported.append)

    assert response == {"batchItemFailures": []}
    assert reported == []


def test_a_message_that_could_not_be_reported_is_retried_alone() -> None:
    batch: dict[str, Any] = sample_event("report_failures", "async_failure")
    batch["Records"] += sample_event("report_failures", "rule_dead_letter")["Records"]

    def report(failure: ParkedFailure) -> None:
        if failure.kind == "failed":
            raise RuntimeError("SNS is down")

    response = report_batch(batch, report)

    assert response == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}


STAGE_DLQ = "arn:aws:sqs:us-east-1:123456789012:sagechain-PrepareDatasetDeadLetterQueue-Xy12"
STAGE_QUEUES = {STAGE_DLQ: "sagechain-PrepareDatasetFunction-kU3eTQ0bM1Xa"}


def stage_dead_letter(body: str) -> SqsRecord:
    """A message PrepareDatasetQueue moved to its dead letter queue: the rule's event, as it was."""
    return SqsRecord.model_validate(
        {
            "messageId": "5b1f0c1e-0d7a-4c51-9d0e-6a3b1f2d9e10",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764547200000"},
            "eventSource": "aws:sqs",
            "eventSourceARN": STAGE_DLQ,
        }
    )


def test_a_stage_dead_letter_names_the_stage_its_run_and_says_where_the_error_is() -> None:
    upload = sample_event("prepare_dataset", "folder_dataset")
    version = upload["detail"]["object"]["version-id"]

    failure = parked_failure(stage_dead_letter(json.dumps(upload)), STAGE_QUEUES)
    store, sender = MemoryStore(BUCKET), RecordingSender()
    email = report_failure(failure, store, sender)

    assert (failure.kind, failure.stage, failure.function_name) == (
        "redelivered",
        "prepare_dataset",
        "sagechain-PrepareDatasetFunction-kU3eTQ0bM1Xa",
    )
    assert failure.run_id == names.run_id("flowers", BUCKET, "datasets/flowers/dataset.json", version)
    assert failure.event == upload
    assert email.subject.startswith("[sagechain] flowers: Dataset preparation failed")
    assert "prepare_dataset failed on every delivery from its queue" in email.body
    assert "read the log of sagechain-PrepareDatasetFunction-kU3eTQ0bM1Xa" in email.body
    assert json.loads(store.read_bytes(failure.saved_key, 1_000_000)) == upload


def test_the_same_message_from_a_queue_not_named_a_stage_queue_is_not_taken_for_one() -> None:
    upload = sample_event("prepare_dataset", "folder_dataset")

    with pytest.raises(MalformedMessageError):
        parked_failure(stage_dead_letter(json.dumps(upload)), {})
    with pytest.raises(MalformedMessageError):
        parked_failure(stage_dead_letter("not json"), STAGE_QUEUES)


def test_a_parked_upload_fails_its_run_at_the_dataset_stage_naming_the_saved_event() -> None:
    upload = sample_event("prepare_dataset", "folder_dataset")
    failure = parked_failure(stage_dead_letter(json.dumps(upload)), STAGE_QUEUES)
    asked: list[str] = []

    failed = stage_failed(failure, BUCKET, lambda run_id: asked.append(run_id) or None)

    assert failed is not None
    assert (failed.run_id, failed.dataset, failed.run_stage) == (failure.run_id, "flowers", "dataset")
    assert failed.stage_label == "Dataset preparation"
    assert failed.saved_event_uri == f"s3://{BUCKET}/{failure.saved_key}"
    assert "prepare_dataset failed on every delivery from its queue" in failed.reason
    assert asked == []  # the upload names its dataset: run.json is not read


RUN = "garden-d54a8e7725f7"


def test_a_parked_event_naming_only_its_run_takes_the_dataset_from_run_json_and_its_attempt() -> None:
    # A retried run's training start (attempt 2) that failed every try, as Lambda's record of it
    failure = parked_failure(record("async_failure")).model_copy(update={"run_id": RUN, "attempt": 2})

    failed = stage_failed(failure, BUCKET, {RUN: "garden"}.get)

    assert failed is not None
    assert (failed.dataset, failed.attempt, failed.run_stage, failed.stage) == (
        "garden",
        2,
        "training",
        "start_training",
    )


def test_a_parked_event_of_no_run_or_of_no_runs_stage_fails_no_run() -> None:
    failure = parked_failure(record("async_failure")).model_copy(update={"run_id": RUN})

    assert stage_failed(failure.model_copy(update={"run_id": None}), BUCKET, lambda _: "pets") is None
    assert stage_failed(failure.model_copy(update={"dataset": None}), BUCKET, lambda _: None) is None
    for stage in ("track_run", "start_batch", "collect_batch", "watch_runs"):
        assert stage_failed(failure.model_copy(update={"stage": stage}), BUCKET, lambda _: "pets") is None


def received(times: int, queue: str = STAGE_DLQ) -> SqsRecord:
    """A parked upload as report_failures receives it for the `times`-th time (ApproximateReceiveCount)."""
    upload = json.dumps(sample_event("prepare_dataset", "folder_dataset"))
    message = stage_dead_letter(upload).model_dump(by_alias=True)
    message["attributes"]["ApproximateReceiveCount"] = str(times)
    return SqsRecord.model_validate({**message, "eventSourceARN": queue})


@pytest.mark.parametrize(
    ("first_receive", "tries"),
    [(6, 5), (1, 10)],
    ids=["count-kept-from-the-stage-queue", "count-reset"],
)
def test_report_failures_knows_its_last_try_whether_sqs_kept_the_receive_count_or_not(
    first_receive: int, tries: int
) -> None:
    # Given a stage queue's message parked after its 5 receives, as report_failures receives it
    counts = range(first_receive, first_receive + tries)

    last = [is_last_try(received(n), STAGE_QUEUES) for n in counts]

    # Then only the receive before SQS moves it on is the last, and report_failures had 5 or more
    assert last == [False] * (tries - 1) + [True]
    assert tries >= FAILURE_QUEUE_MAX_RECEIVES


def test_the_failure_queues_receive_limits_are_the_templates() -> None:
    template = yaml_parse((Path(__file__).parents[2] / "template.yaml").read_text())
    queues = {
        name: int(resource["Properties"]["RedrivePolicy"]["maxReceiveCount"])
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in resource["Properties"]
    }
    stage_dlqs = {
        name for name in queues if name.endswith("DeadLetterQueue") and name != "RulesDeadLetterQueue"
    }

    assert stage_dlqs, "no stage dead letter queue found"
    for name, limit in queues.items():
        if name in stage_dlqs:
            assert limit == STAGE_DEAD_LETTER_MAX_RECEIVES, name
        elif name in {"RulesDeadLetterQueue", "AsyncFailureQueue"}:
            assert limit == FAILURE_QUEUE_MAX_RECEIVES, name
        else:  # a stage queue
            assert limit == STAGE_QUEUE_MAX_RECEIVES, name


def test_a_report_that_fails_on_its_last_try_still_emails_that_it_went_unreported() -> None:
    def broken(_failure: ParkedFailure) -> None:
        raise OSError("S3 is down")

    sent: list[Email] = []
    for times in (9, 10):
        answer = report_batch(
            {"Records": [received(times).model_dump(by_alias=True)]}, broken, STAGE_QUEUES, sent.append
        )
        # the message is retried either way: on the last try SQS moves it to ReportFailuresDeadLetterQueue
        assert len(answer["batchItemFailures"]) == 1

    [email] = sent
    assert email.subject.startswith("[sagechain] flowers: Dataset preparation failed, unreported")
    assert "OSError: S3 is down" in email.body
    assert "ReportFailuresDeadLetterQueue" in email.body
