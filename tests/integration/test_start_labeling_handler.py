"""start_labeling's handler on the sample events: moto for S3, DynamoDB and EventBridge,
a Stubber-backed SageMaker client (moto has no labeling jobs) injected into the adapter."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.labeling_jobs import SageMakerLabelingJobs
from sagechain.attempts import AttemptClaim, attempt_key
from sagechain.errors import RetryableError
from sagechain.events import SagechainEvent
from sagechain.records import RunInfo
from sagechain.spec import DatasetSpec
from tests.aws import BUCKET, EventCapture, create_stack_resources, load_handler, sample_event
from tests.runs import bus_event, run_retried
from tests.stubs import count_calls

pytestmark = pytest.mark.integration
RUN_ID = "flowers-8b39944c64ac"  # the run of events/start_labeling/input_manifest.json
JOB = f"sagechain-{RUN_ID}-labeling"
ROLE = "arn:aws:iam::123456789012:role/sagechain-sagemaker"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"
FOLDER = f"s3://{BUCKET}/runs/{RUN_ID}/labeling/"
CREATED = {"LabelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}"}
EXPECTED_REQUEST = {
    "LabelingJobName": JOB,
    "LabelAttributeName": "label",
    "InputConfig": {
        "DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{BUCKET}/runs/{RUN_ID}/input.manifest"}}
    },
    "OutputConfig": {"S3OutputPath": FOLDER},
    "RoleArn": ROLE,
    "LabelCategoryConfigS3Uri": FOLDER + "label-categories.json",
    "HumanTaskConfig": {
        "WorkteamArn": TEAM,
        "UiConfig": {"UiTemplateS3Uri": FOLDER + "worker-task-template.liquid.html"},
        "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass",
        "TaskKeywords": ["Images", "Image Classification"],
        "TaskTitle": "Rose or tulip?",
        "TaskDescription": "Which label fits this image best?",
        "NumberOfHumanWorkersPerDataObject": 3,
        "TaskTimeLimitInSeconds": 300,
        "TaskAvailabilityLifetimeInSeconds": 864000,
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": (
                "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass"
            )
        },
    },
    "Tags": [{"Key": "sagechain:run-id", "Value": RUN_ID}, {"Key": "sagechain:stack", "Value": "sagechain"}],
}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, EventCapture]]:
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE)
    with mock_aws():
        create_stack_resources()
        capture = EventCapture()
        yield load_handler("start_labeling"), capture


@pytest.fixture
def sagemaker(stack: tuple[ModuleType, EventCapture]) -> Iterator[tuple[Stubber, Any]]:
    """The handler's SageMaker client, stubbed; every queued answer must be used."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    handler, _ = stack
    handler.jobs = SageMakerLabelingJobs(client)
    with Stubber(client) as stubber:
        yield stubber, count_calls(client)
        stubber.assert_no_pending_responses()


def put_run(run_id: str = RUN_ID) -> None:
    """What prepare_dataset leaves for a Ground Truth run: spec.json, run.json, then the manifest."""
    spec = DatasetSpec.model_validate(
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {
                "mode": "ground-truth",
                "workteam_arn": TEAM,
                "workers_per_object": 3,
                "task_title": "Rose or tulip?",
            },
        }
    )
    info = RunInfo(
        run_id=run_id,
        dataset="flowers",
        source_uri=f"s3://{BUCKET}/datasets/flowers/dataset.json",
        source_version="v1",
        task="image-classification",
        labeling_mode="ground-truth",
        label_attribute="label",
        manifest_uri=f"s3://{BUCKET}/runs/{run_id}/input.manifest",
        objects=8,
        created_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/spec.json", Body=spec.model_dump_json().encode())
    s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/run.json", Body=info.model_dump_json().encode())
    manifest = b"".join(
        b'{"source-ref": "s3://%s/datasets/flowers/images/%d.png"}\n' % (BUCKET.encode(), i) for i in range(8)
    )
    s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/input.manifest", Body=manifest)


def read(key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_input_manifest_event_starts_the_labeling_job_and_emits_labeling_started(
    stack: Any, sagemaker: Any
) -> None:
    handler, capture = stack
    stubber, calls = sagemaker
    put_run()
    stubber.add_response("create_labeling_job", CREATED, EXPECTED_REQUEST)

    result = handler.handler(sample_event("start_labeling", "input_manifest"), FakeLambdaContext())

    assert calls["CreateLabelingJob"] == 1
    [event] = capture.received()
    assert event["source"] == "sagechain"
    assert event["detail-type"] == "Labeling Started"
    assert event["detail"]["job_name"] == JOB
    assert event["detail"]["objects"] == 8
    assert event["detail"]["workforce"] == "private"
    assert event["detail"]["cost_estimate"]["total_usd"] == "0.64"
    assert event["detail"]["console_url"].endswith(f"#/labeling-jobs/{JOB}")
    assert result["jobs"][0]["outcome"] == "Labeling Started"
    categories = json.loads(read(f"runs/{RUN_ID}/labeling/label-categories.json"))
    assert categories["labels"] == [{"label": "rose"}, {"label": "tulip"}]
    assert b"<crowd-image-classifier" in read(f"runs/{RUN_ID}/labeling/worker-task-template.liquid.html")


def test_duplicate_delivery_creates_one_job_and_emits_one_event(stack: Any, sagemaker: Any) -> None:
    handler, capture = stack
    stubber, calls = sagemaker
    put_run()
    stubber.add_response("create_labeling_job", CREATED, EXPECTED_REQUEST)
    event = sample_event("start_labeling", "input_manifest")

    first = handler.handler(event, FakeLambdaContext())
    redelivered = dict(event, id="a-new-event-id-for-the-same-object")
    second = handler.handler(redelivered, FakeLambdaContext())

    assert calls["CreateLabelingJob"] == 1
    assert first == second
    assert len(capture.received()) == 1


class _PublisherFailingOnce(EventBridgePublisher):
    """EventBridge that refuses the first event, as a throttled PutEvents would."""

    failed = False

    def publish(self, event: SagechainEvent) -> None:
        if not self.failed:
            self.failed = True
            raise RetryableError("EventBridge rejected Labeling Started: ThrottlingException")
        super().publish(event)


def test_a_retry_after_the_job_was_created_counts_it_started_and_emits_one_event(
    stack: Any, sagemaker: Any
) -> None:
    handler, capture = stack
    stubber, calls = sagemaker
    handler.publisher = _PublisherFailingOnce("default", handler.settings.stack_id)
    put_run()
    stubber.add_response("create_labeling_job", CREATED, EXPECTED_REQUEST)
    stubber.add_client_error(
        "create_labeling_job",
        service_error_code="ResourceInUse",
        service_message=f"Labeling job {JOB} already exists.",
        expected_params=EXPECTED_REQUEST,
    )
    event = sample_event("start_labeling", "input_manifest")

    with pytest.raises(RetryableError):
        handler.handler(event, FakeLambdaContext())
    retried = handler.handler(event, FakeLambdaContext())

    assert calls["CreateLabelingJob"] == 2
    assert retried["jobs"][0]["outcome"] == "Labeling Started"
    assert [e["detail-type"] for e in capture.received()] == ["Labeling Started"]


def test_a_deeper_input_manifest_key_the_rule_matches_is_ignored(stack: Any, sagemaker: Any) -> None:
    handler, capture = stack
    _, calls = sagemaker
    put_run()

    result = handler.handler(sample_event("start_labeling", "nested_input_manifest"), FakeLambdaContext())

    assert result == {"jobs": []}
    assert calls["CreateLabelingJob"] == 0
    assert capture.received() == []


def test_a_manifest_uploaded_without_a_run_is_ignored(stack: Any, sagemaker: Any) -> None:
    handler, capture = stack
    _, calls = sagemaker
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/input.manifest", Body=b"{}\n")

    result = handler.handler(sample_event("start_labeling", "input_manifest"), FakeLambdaContext())

    assert result == {"jobs": [{"outcome": "ignored", "run_id": RUN_ID}]}
    assert calls["CreateLabelingJob"] == 0
    assert capture.received() == []


def put_claim(attempt: int) -> None:
    """The attempt record POST /runs/{run_id}/retry writes before it publishes Run Retried."""
    claim = AttemptClaim(
        run_id=RUN_ID,
        attempt=attempt,
        from_stage="labeling",
        previous_status="failed",
        previous_stage="labeling",
        requested_at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=attempt_key(RUN_ID, attempt), Body=claim.model_dump_json().encode()
    )


def test_a_run_retried_twice_from_labeling_creates_one_job_of_its_attempt(stack: Any, sagemaker: Any) -> None:
    handler, capture = stack
    stubber, calls = sagemaker
    put_run()
    put_claim(2)
    job = f"{JOB}-a2"
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{job}"},
        {
            **EXPECTED_REQUEST,
            "LabelingJobName": job,
            "Tags": [*EXPECTED_REQUEST["Tags"], {"Key": "sagechain:attempt", "Value": "2"}],
        },
    )
    retried = bus_event(run_retried(2, "labeling", run_id=RUN_ID))

    first = handler.handler(retried, FakeLambdaContext())
    second = handler.handler(dict(retried, id="the-same-retry-delivered-again"), FakeLambdaContext())

    assert calls["CreateLabelingJob"] == 1
    assert first == second
    [event] = capture.received()
    assert (event["detail-type"], event["detail"]["job_name"], event["detail"]["attempt"]) == (
        "Labeling Started",
        job,
        2,
    )


def test_a_run_retried_from_training_creates_no_labeling_job(stack: Any, sagemaker: Any) -> None:
    handler, capture = stack
    _, calls = sagemaker
    put_run()

    result = handler.handler(bus_event(run_retried(2, "training", run_id=RUN_ID)), FakeLambdaContext())

    assert result == {"jobs": []}
    assert calls["CreateLabelingJob"] == 0
    assert capture.received() == []
