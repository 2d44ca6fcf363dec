"""start_labeling against an in-memory bucket and a Stubber-backed SageMaker client.

Stubber checks each CreateLabelingJob request against SageMaker's API model and, through
expected_params, against the whole request a test writes out: what Ground Truth is sent.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sagechain.adapters.labeling_jobs import SageMakerLabelingJobs
from sagechain.errors import StaleAttemptError
from sagechain.event_sources.s3 import ObjectRef
from sagechain.events import DatasetRejected, LabelingFailed, LabelingRequested, LabelingStarted, RetryStage
from sagechain.guardrails import Guardrails
from sagechain.ingest.prepare_dataset import prepare_dataset
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import dataset_upload
from sagechain.labeling.start_labeling import (
    LabelingRequest,
    labeling_job_name,
    labeling_request,
    retried_labeling_request,
    start_labeling,
)
from sagechain.records import RunInfo
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec
from tests.fakes import MemoryStore, RecordingPublisher
from tests.runs import STACK_NAME, claim_attempt, run_retried, stop_attempt
from tests.stubs import count_calls

BUCKET = "data"
RUN_ID = "pets-0123456789ab"
JOB = "sagechain-pets-0123456789ab-labeling"
ROLE = "arn:aws:iam::123456789012:role/sagechain-sagemaker"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"
VENDOR = "arn:aws:sagemaker:us-east-1:123456789012:workteam/vendor-crowd/acme-labeling"
PUBLIC_CROWD = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
DEFAULTS = SpecDefaults.from_env(
    {
        "DEFAULT_WORKTEAM_ARN": TEAM,
        "DEFAULT_MAX_LABELING_COST_USD": "100",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
        "DEFAULT_ENDPOINT_TTL_HOURS": "0",
    }
)
ARN_RESPONSE = {"LabelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}"}
FOLDER = f"s3://{BUCKET}/runs/{RUN_ID}/labeling/"


@contextmanager
def sagemaker(region: str = "us-east-1") -> Iterator[tuple[SageMakerLabelingJobs, Stubber, Any]]:
    """The adapter over a stubbed client of region; every queued answer must be used."""
    client = boto3.client("sagemaker", region_name=region)
    with Stubber(client) as stubber:
        yield SageMakerLabelingJobs(client), stubber, count_calls(client)
        stubber.assert_no_pending_responses()


def make_run(
    task: str = "image-classification",
    labels: tuple[str, ...] = ("cat", "dog"),
    objects: int = 40,
    **labeling: Any,
) -> MemoryStore:
    """A bucket holding a prepared Ground Truth run, as prepare_dataset leaves it."""
    spec = DatasetSpec.model_validate(
        {"task": task, "labels": list(labels), "labeling": {"mode": "ground-truth", **labeling}}
    )
    info = RunInfo(
        run_id=RUN_ID,
        dataset="pets",
        source_uri=f"s3://{BUCKET}/datasets/pets/dataset.json",
        source_version="v1",
        task=task,
        labeling_mode=spec.labeling.mode.value,
        label_attribute=spec.labeling.label_attribute,
        manifest_uri=f"s3://{BUCKET}/runs/{RUN_ID}/input.manifest",
        objects=objects,
        created_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    return MemoryStore(
        BUCKET,
        {
            f"runs/{RUN_ID}/spec.json": spec.with_defaults(DEFAULTS).model_dump_json().encode(),
            f"runs/{RUN_ID}/run.json": info.model_dump_json().encode(),
            f"runs/{RUN_ID}/input.manifest": b'{"source-ref": "s3://data/datasets/pets/images/a.jpg"}\n',
        },
    )


def request_for(run_id: str = RUN_ID) -> LabelingRequest:
    request = labeling_request(
        ObjectRef(bucket=BUCKET, key=f"runs/{run_id}/input.manifest"), "sagechain", STACK_NAME
    )
    assert request is not None
    return request


def start(store: MemoryStore, jobs: SageMakerLabelingJobs) -> tuple[Any, RecordingPublisher]:
    publisher = RecordingPublisher()
    event = start_labeling(request_for(), store, jobs, publisher, ROLE)
    assert publisher.events == ([event] if event else [])
    return event, publisher


def expected_request(
    pre: str,
    acs: str,
    title: str,
    description: str,
    keywords: list[str],
    region_account: str = "us-east-1:432418664414",
    **human_task: Any,
) -> dict[str, Any]:
    """The whole CreateLabelingJob request for a run with the spec's defaults."""
    return {
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
            "PreHumanTaskLambdaArn": f"arn:aws:lambda:{region_account}:function:{pre}",
            "TaskKeywords": keywords,
            "TaskTitle": title,
            "TaskDescription": description,
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:{region_account}:function:{acs}"
            },
            **human_task,
        },
        "Tags": [
            {"Key": "sagechain:run-id", "Value": RUN_ID},
            {"Key": "sagechain:stack", "Value": "sagechain"},
        ],
    }


# ---------------------------------------------------------------- one full request per task type
def test_single_label_classification_job_is_sent_whole_and_reported_started() -> None:
    store = make_run()
    with sagemaker() as (jobs, stubber, calls):
        stubber.add_response(
            "create_labeling_job",
            ARN_RESPONSE,
            expected_request(
                "PRE-ImageMultiClass",
                "ACS-ImageMultiClass",
                "Classify images",
                "Which label fits this image best?",
                ["Images", "Image Classification"],
            ),
        )

        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 1
    assert event == LabelingStarted(
        run_id=RUN_ID,
        dataset="pets",
        job_name=JOB,
        task="image-classification",
        objects=40,
        workforce="private",
        auto_labeling=False,
        console_url=f"https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/labeling-jobs/{JOB}",
        output_uri=FOLDER,
        cost_estimate=event.cost_estimate,
        workteam_arn=TEAM,
    )
    assert event.cost_estimate.total_usd == Decimal("3.20")


def test_multi_label_classification_job_is_sent_whole_with_the_specs_wording() -> None:
    store = make_run(
        "image-classification-multilabel",
        ("cat", "dog", "bird"),
        task_title="Which pets are in the photo?",
        task_description="Tick every animal you can see.",
        instructions="Count partly hidden animals too.",
        workers_per_object=3,
        task_time_limit_seconds=600,
        task_availability_lifetime_seconds=86400,
        max_concurrent_tasks=200,
        label_attribute="pets",
    )
    expected = expected_request(
        "PRE-ImageMultiClassMultiLabel",
        "ACS-ImageMultiClassMultiLabel",
        "Which pets are in the photo?",
        "Tick every animal you can see.",
        ["Images", "Image Classification"],
        NumberOfHumanWorkersPerDataObject=3,
        TaskTimeLimitInSeconds=600,
        TaskAvailabilityLifetimeInSeconds=86400,
        MaxConcurrentTaskCount=200,
    )
    expected["LabelAttributeName"] = "pets"
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE, expected)

        event, _ = start(store, jobs)

    assert event.task == "image-classification-multilabel"
    template = store.objects[f"runs/{RUN_ID}/labeling/worker-task-template.liquid.html"].decode()
    assert "<crowd-image-classifier-multi-select" in template
    assert 'header="Tick every animal you can see."' in template
    assert "<p>Count partly hidden animals too.</p>" in template


def test_object_detection_job_is_sent_whole_with_bounding_box_lambdas() -> None:
    store = make_run("object-detection", ("car",))
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response(
            "create_labeling_job",
            ARN_RESPONSE,
            expected_request(
                "PRE-BoundingBox",
                "ACS-BoundingBox",
                "Draw boxes around objects",
                "Draw a box around every object of the listed labels.",
                ["Images", "Bounding Box"],
            ),
        )

        event, _ = start(store, jobs)

    assert event.task == "object-detection"
    template = store.objects[f"runs/{RUN_ID}/labeling/worker-task-template.liquid.html"].decode()
    assert '<crowd-bounding-box\n    name="boundingBox"' in template
    assert 'labels="{{ task.input.labels | to_json | escape }}"' in template
    assert 'src="{{ task.input.taskObject | grant_read_access }}"' in template


def test_label_categories_file_lists_the_labels_in_class_index_order() -> None:
    store = make_run(labels=("zebra", "ant", "möwe"))
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE)

        start(store, jobs)

    categories = json.loads(store.objects[f"runs/{RUN_ID}/labeling/label-categories.json"])
    assert categories == {
        "document-version": "2018-11-28",
        "labels": [{"label": "zebra"}, {"label": "ant"}, {"label": "möwe"}],
    }


def test_instructions_reach_workers_as_text_never_as_markup_or_liquid() -> None:
    store = make_run(instructions="Use <b>care</b> & skip {{ task.input }} {% raw %}\n\nSecond paragraph.")
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE)

        start(store, jobs)

    template = store.objects[f"runs/{RUN_ID}/labeling/worker-task-template.liquid.html"].decode()
    assert (
        "<p>Use &lt;b&gt;care&lt;/b&gt; &amp; skip &#123;&#123; task.input &#125;&#125; "
        "&#123;% raw %&#125;</p>"
        "<p>Second paragraph.</p>"
    ) in template
    assert template.count("{{") == 2


def test_a_run_prepared_by_stage_one_starts_labeling() -> None:
    store = MemoryStore(
        BUCKET,
        {
            "datasets/pets/images/a.jpg": b"jpeg",
            "datasets/pets/dataset.json": json.dumps(
                {"task": "object-detection", "labels": ["car"], "labeling": {"mode": "ground-truth"}}
            ).encode(),
        },
    )
    upload = dataset_upload(ObjectRef(bucket=BUCKET, key="datasets/pets/dataset.json", version_id="v1"))
    assert upload is not None
    prepared = prepare_dataset(
        upload, store, RecordingPublisher(), DEFAULTS, ZipLimits.from_env({}), Guardrails.from_env()
    )
    manifest = ObjectRef(bucket=BUCKET, key=prepared.manifest_uri.removeprefix(f"s3://{BUCKET}/"))
    request = labeling_request(manifest, "sagechain", STACK_NAME)
    assert request is not None
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE)

        event = start_labeling(request, store, jobs, RecordingPublisher(), ROLE)

    assert isinstance(event, LabelingStarted)
    assert (event.run_id, event.objects, event.cost_estimate) == (
        prepared.run_id,
        1,
        prepared.cost_estimate,
    )


# ---------------------------------------------------------------- workforces
def test_public_workforce_is_paid_the_specs_listed_price_and_tasks_last_at_most_12_hours() -> None:
    store = make_run(workteam_arn=PUBLIC_CROWD, price_per_task_usd="0.036", workers_per_object=3)
    expected = expected_request(
        "PRE-ImageMultiClass",
        "ACS-ImageMultiClass",
        "Classify images",
        "Which label fits this image best?",
        ["Images", "Image Classification"],
        WorkteamArn=PUBLIC_CROWD,
        NumberOfHumanWorkersPerDataObject=3,
        TaskAvailabilityLifetimeInSeconds=43200,
        PublicWorkforceTaskPrice={"AmountInUsd": {"Dollars": 0, "Cents": 3, "TenthFractionsOfACent": 6}},
    )
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE, expected)

        event, _ = start(store, jobs)

    assert event.workforce == "public"
    assert event.cost_estimate.workforce_fees_usd == Decimal("4.32")  # 40 images x 3 workers x $0.036


def test_public_workforce_without_a_listed_price_is_rejected_without_a_job() -> None:
    store = make_run(workteam_arn=PUBLIC_CROWD, price_per_task_usd="0.05")
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert "price_per_task_usd" in event.reason
    assert "0.036" in event.reason


def test_private_and_vendor_teams_are_sent_no_price() -> None:
    store = make_run(workteam_arn=VENDOR)
    expected = expected_request(
        "PRE-ImageMultiClass",
        "ACS-ImageMultiClass",
        "Classify images",
        "Which label fits this image best?",
        ["Images", "Image Classification"],
        WorkteamArn=VENDOR,
    )
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE, expected)

        event, _ = start(store, jobs)

    assert event.workforce == "vendor"
    assert event.cost_estimate.workforce_fees_usd == Decimal("0.00")


def test_a_work_team_of_another_region_is_rejected_with_both_regions_named() -> None:
    store = make_run(workteam_arn="arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/team")
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert "eu-west-1" in event.reason
    assert "us-east-1" in event.reason


def test_a_run_without_any_work_team_is_rejected_with_where_to_set_one() -> None:
    no_default = SpecDefaults.from_env(
        {
            "DEFAULT_MAX_LABELING_COST_USD": "100",
            "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
            "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
            "DEFAULT_ENDPOINT_TTL_HOURS": "0",
        }
    )
    store = make_run()
    spec = DatasetSpec.model_validate(
        {"task": "image-classification", "labels": ["cat", "dog"], "labeling": {"mode": "ground-truth"}}
    )
    store.objects[f"runs/{RUN_ID}/spec.json"] = spec.with_defaults(no_default).model_dump_json().encode()
    with sagemaker() as (jobs, _, _):
        event, _ = start(store, jobs)

    assert isinstance(event, DatasetRejected)
    assert "DefaultWorkteamArn" in event.reason


# ---------------------------------------------------------------- automated data labeling
def test_auto_labeling_starts_with_the_regions_algorithm_from_1250_images() -> None:
    store = make_run("object-detection", ("car",), objects=1250, auto_labeling=True)
    expected = expected_request(
        "PRE-BoundingBox",
        "ACS-BoundingBox",
        "Draw boxes around objects",
        "Draw a box around every object of the listed labels.",
        ["Images", "Bounding Box"],
    )
    expected["LabelingJobAlgorithmsConfig"] = {
        "LabelingJobAlgorithmSpecificationArn": (
            "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/object-detection"
        )
    }
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE, expected)

        event, _ = start(store, jobs)

    assert event.auto_labeling is True
    assert event.auto_labeling_refused_reason is None


def test_auto_labeling_below_1250_images_is_refused_and_the_event_says_why() -> None:
    store = make_run(objects=1249, auto_labeling=True)
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response(
            "create_labeling_job",
            ARN_RESPONSE,
            expected_request(
                "PRE-ImageMultiClass",
                "ACS-ImageMultiClass",
                "Classify images",
                "Which label fits this image best?",
                ["Images", "Image Classification"],
            ),
        )

        event, _ = start(store, jobs)

    assert isinstance(event, LabelingStarted)
    assert event.auto_labeling is False
    assert event.auto_labeling_refused_reason is not None
    assert "at least 1,250 images" in event.auto_labeling_refused_reason
    assert "1249" in event.auto_labeling_refused_reason


def test_auto_labeling_is_refused_for_multi_label_classification_whatever_the_size() -> None:
    store = make_run("image-classification-multilabel", ("cat", "dog"), objects=10_000, auto_labeling=True)
    with sagemaker() as (jobs, stubber, _):
        stubber.add_response("create_labeling_job", ARN_RESPONSE)

        event, _ = start(store, jobs)

    assert event.auto_labeling is False
    assert "not offered for image-classification-multilabel" in event.auto_labeling_refused_reason


# ---------------------------------------------------------------- regions
def test_a_job_in_another_region_uses_that_regions_ground_truth_lambdas() -> None:
    team = "arn:aws:sagemaker:ap-southeast-2:123456789012:workteam/private-crowd/team"
    store = make_run(workteam_arn=team)
    with sagemaker("ap-southeast-2") as (jobs, stubber, _):
        stubber.add_response(
            "create_labeling_job",
            ARN_RESPONSE,
            expected_request(
                "PRE-ImageMultiClass",
                "ACS-ImageMultiClass",
                "Classify images",
                "Which label fits this image best?",
                ["Images", "Image Classification"],
                region_account="ap-southeast-2:454466003867",
                WorkteamArn=team,
            ),
        )

        event, _ = start(store, jobs)

    assert event.console_url.startswith("https://ap-southeast-2.console.aws.amazon.com/")


def test_an_unsupported_region_is_rejected_naming_it_and_the_supported_ones() -> None:
    store = make_run(workteam_arn="arn:aws:sagemaker:eu-north-1:123456789012:workteam/private-crowd/team")
    with sagemaker("eu-north-1") as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert event.reason.startswith("Labeling did not start. Ground Truth's built-in image labeling is not")
    assert "eu-north-1" in event.reason
    assert "us-east-1, us-east-2, us-west-2" in event.reason


# ---------------------------------------------------------------- labels
@pytest.mark.parametrize(
    ("task", "labels", "expected"),
    [
        ("image-classification-multilabel", ("cat",), "at least 2 labels"),
        ("object-detection", tuple(f"c{i}" for i in range(51)), "at most 50 labels"),
        ("image-classification-multilabel", tuple(f"c{i}" for i in range(51)), "at most 50 labels"),
    ],
)
def test_label_counts_ground_truth_does_not_take_are_rejected(
    task: str, labels: tuple[str, ...], expected: str
) -> None:
    store = make_run(task, labels)
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert expected in event.reason


# ---------------------------------------------------------------- SageMaker's answers
def test_a_job_that_already_exists_counts_as_started() -> None:
    store = make_run()
    with sagemaker() as (jobs, stubber, _):
        stubber.add_client_error(
            "create_labeling_job", service_error_code="ResourceInUse", service_message=f"Job {JOB} exists."
        )

        event, publisher = start(store, jobs)

    assert isinstance(event, LabelingStarted)
    assert len(publisher.events) == 1


def test_a_request_sagemaker_refuses_is_a_labeling_failure_with_its_code_message_and_fix() -> None:
    store = make_run()
    with sagemaker() as (jobs, stubber, _):
        stubber.add_client_error(
            "create_labeling_job",
            service_error_code="ValidationException",
            service_message="Workteam arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team "
            "does not exist.",
        )

        event, _ = start(store, jobs)

    assert isinstance(event, LabelingFailed)
    assert event.reason.startswith(
        f"SageMaker refused to create labeling job {JOB}: sagemaker did not accept the request "
        "(ValidationException)."
    )
    assert event.error.code == "ValidationException"
    assert event.error.message.startswith("Workteam arn:aws:sagemaker:")
    assert "the labeling section of dataset.json" in event.error.fix
    assert event.error.retryable is False
    assert event.cost_estimate is not None


def test_a_labeling_quota_is_a_failure_naming_the_quota_and_where_to_raise_it() -> None:
    store = make_run()
    message = (
        "The account-level service limit 'Maximum number of active labeling jobs' is 10 Jobs, with current "
        "utilization of 10 Jobs and a request delta of 1 Jobs."
    )
    with sagemaker() as (jobs, stubber, _):
        stubber.add_client_error(
            "create_labeling_job", service_error_code="ResourceLimitExceeded", service_message=message
        )

        event, publisher = start(store, jobs)

    assert isinstance(event, LabelingFailed)
    assert publisher.events == [event]
    assert event.error.quota_name == "Maximum number of active labeling jobs"
    assert event.error.quota_console_url == (
        "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas"
    )
    assert "Request an increase of 'Maximum number of active labeling jobs'" in event.error.fix


def test_access_denied_is_a_labeling_failure_for_the_stacks_operator() -> None:
    store = make_run()
    with sagemaker() as (jobs, stubber, _):
        stubber.add_client_error(
            "create_labeling_job",
            service_error_code="AccessDeniedException",
            service_message="User is not authorized to perform: sagemaker:CreateLabelingJob",
        )

        event, _ = start(store, jobs)

    assert isinstance(event, LabelingFailed)
    assert "may not call sagemaker:CreateLabelingJob" in event.reason
    assert "template.yaml" in event.error.fix


def test_a_throttled_request_is_raised_for_a_retry_and_nothing_is_emitted() -> None:
    store = make_run()
    publisher = RecordingPublisher()
    with sagemaker() as (jobs, stubber, _):
        stubber.add_client_error("create_labeling_job", service_error_code="ThrottlingException")

        with pytest.raises(ClientError, match="ThrottlingException"):
            start_labeling(request_for(), store, jobs, publisher, ROLE)

    assert publisher.events == []


# ---------------------------------------------------------------- what is not a run
def test_a_manifest_with_no_run_beside_it_is_ignored() -> None:
    store = MemoryStore(BUCKET, {f"runs/{RUN_ID}/input.manifest": b"{}\n"})
    with sagemaker() as (jobs, _, calls):
        event, publisher = start(store, jobs)

    assert event is None
    assert publisher.events == []
    assert calls["CreateLabelingJob"] == 0


def test_a_run_with_provided_labels_is_not_labeled_again() -> None:
    store = make_run()
    info = json.loads(store.objects[f"runs/{RUN_ID}/run.json"])
    store.objects[f"runs/{RUN_ID}/run.json"] = json.dumps({**info, "labeling_mode": "provided"}).encode()
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert event is None
    assert calls["CreateLabelingJob"] == 0


def test_a_spec_json_that_no_longer_parses_is_rejected_naming_the_file() -> None:
    store = make_run()
    store.objects[f"runs/{RUN_ID}/spec.json"] = b'{"task": "image-classification"}'
    with sagemaker() as (jobs, _, _):
        event, _ = start(store, jobs)

    assert isinstance(event, DatasetRejected)
    assert f"runs/{RUN_ID}/spec.json is not a valid dataset spec: labels: Field required" in event.reason


def test_a_spec_json_too_large_to_read_is_rejected_with_its_size() -> None:
    store = make_run()
    store.objects[f"runs/{RUN_ID}/spec.json"] = b" " * (1024 * 1024 + 1)
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert f"runs/{RUN_ID}/spec.json is 1048577 bytes" in event.reason


def test_a_label_attribute_ground_truth_reserves_is_rejected_before_any_job() -> None:
    store = make_run()
    spec = json.loads(store.objects[f"runs/{RUN_ID}/spec.json"])
    spec["labeling"]["label_attribute"] = "label-metadata"
    store.objects[f"runs/{RUN_ID}/spec.json"] = json.dumps(spec).encode()
    with sagemaker() as (jobs, _, calls):
        event, _ = start(store, jobs)

    assert calls["CreateLabelingJob"] == 0
    assert isinstance(event, DatasetRejected)
    assert "labeling.label_attribute" in event.reason
    assert "-metadata" in event.reason


@pytest.mark.parametrize(
    "key",
    [
        f"runs/{RUN_ID}/labeling/{JOB}/input.manifest",
        f"runs/{RUN_ID}/labeled.manifest",
        "runs/input.manifest",
        "runs//input.manifest",
        "runs/Pets Run/input.manifest",
        f"datasets/{RUN_ID}/input.manifest",
    ],
)
def test_only_a_runs_own_input_manifest_key_is_a_labeling_request(key: str) -> None:
    assert labeling_request(ObjectRef(bucket=BUCKET, key=key), "sagechain", STACK_NAME) is None


def test_the_job_name_is_the_runs_own_valid_sagemaker_name_even_for_long_run_ids() -> None:
    run_id = "a-very-long-dataset-name-for-pets-0123456789ab"
    request = labeling_request(
        ObjectRef(bucket=BUCKET, key=f"runs/{run_id}/input.manifest"), "sagechain-prod", STACK_NAME
    )

    assert request is not None
    assert request.job_name.startswith("sagechain-prod-")
    assert len(request.job_name) <= 63
    assert request == labeling_request(
        ObjectRef(bucket=BUCKET, key=f"runs/{run_id}/input.manifest", version_id="v2"),
        "sagechain-prod",
        STACK_NAME,
    )


# ---------------------------------------------------------------- retries (?from=labeling)
def retried_request(attempt: int = 2, from_stage: RetryStage = "labeling") -> LabelingRequest | None:
    retried = run_retried(attempt, from_stage, run_id=RUN_ID, dataset="pets")
    return retried_labeling_request(retried, BUCKET, "sagechain", STACK_NAME)


def test_a_retry_from_labeling_labels_the_input_manifest_again_with_a_job_of_its_attempt() -> None:
    store = make_run()
    claim_attempt(store, 2, "labeling", run_id=RUN_ID)
    request = retried_request(2)
    assert request is not None
    job = f"{JOB}-a2"
    with sagemaker() as (jobs, stubber, calls):
        stubber.add_response(
            "create_labeling_job",
            {"LabelingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{job}"},
            {
                **expected_request(
                    "PRE-ImageMultiClass",
                    "ACS-ImageMultiClass",
                    "Classify images",
                    "Which label fits this image best?",
                    ["Images", "Image Classification"],
                ),
                "LabelingJobName": job,
                "Tags": [
                    {"Key": "sagechain:run-id", "Value": RUN_ID},
                    {"Key": "sagechain:stack", "Value": STACK_NAME},
                    {"Key": "sagechain:attempt", "Value": "2"},
                ],
            },
        )
        publisher = RecordingPublisher()
        event = start_labeling(request, store, jobs, publisher, ROLE)

    assert calls["CreateLabelingJob"] == 1
    assert isinstance(event, LabelingStarted)
    assert (event.job_name, event.attempt) == (job, 2)
    assert publisher.events == [event]


def test_a_retry_of_another_stage_asks_for_no_labeling() -> None:
    assert retried_request(2, "training") is None
    assert retried_request(2, "deployment") is None


def test_an_attempt_a_later_retry_replaced_starts_no_labeling_job() -> None:
    store = make_run()
    claim_attempt(store, 3, "labeling", run_id=RUN_ID)
    request = retried_request(2)
    assert request is not None
    with sagemaker() as (jobs, _, calls):
        publisher = RecordingPublisher()
        with pytest.raises(StaleAttemptError, match="replaced by attempt 3"):
            start_labeling(request, store, jobs, publisher, ROLE)

    assert calls["CreateLabelingJob"] == 0
    assert publisher.events == []


def test_a_late_input_manifest_of_a_stopped_run_starts_no_labeling_job() -> None:
    store = make_run()
    stop_attempt(store, 1, run_id=RUN_ID)
    with sagemaker() as (jobs, _, calls):
        publisher = RecordingPublisher()
        with pytest.raises(StaleAttemptError, match="was stopped"):
            start_labeling(request_for(), store, jobs, publisher, ROLE)

    assert calls["CreateLabelingJob"] == 0
    assert f"runs/{RUN_ID}/labeling/label-categories.json" not in store.objects


def test_each_attempt_has_its_own_valid_labeling_job_name() -> None:
    assert labeling_job_name("sagechain", RUN_ID) == JOB
    assert labeling_job_name("sagechain", RUN_ID, 2) == f"{JOB}-a2"
    long_run = "a-very-long-dataset-name-that-goes-on-and-on-0123456789ab"
    assert len(labeling_job_name("sagechain", long_run, 12)) <= 63
    assert labeling_job_name("sagechain", long_run, 12) != labeling_job_name("sagechain", long_run, 2)


def test_a_label_studio_run_gets_tasks_and_a_config_and_no_labeling_job() -> None:
    store = make_run(task="object-detection", labels=("car", "bus"), mode="label-studio")
    store.objects[f"runs/{RUN_ID}/input.manifest"] += (
        b'{"source-ref": "s3://data/datasets/pets/images/b.jpg"}\n'
    )

    with sagemaker() as (jobs, stub, _):
        event, _ = start(store, jobs)
        stub.assert_no_pending_responses()

    assert isinstance(event, LabelingRequested)
    assert (event.tool, event.objects, event.labels) == ("label-studio", 40, ["car", "bus"])
    tasks = json.loads(store.objects[f"runs/{RUN_ID}/label-studio/tasks.json"])
    assert tasks == [
        {"data": {"image": "s3://data/datasets/pets/images/a.jpg"}},
        {"data": {"image": "s3://data/datasets/pets/images/b.jpg"}},
    ]
    assert (
        b'<RectangleLabels name="label" toName="image">'
        in store.objects[f"runs/{RUN_ID}/label-studio/config.xml"]
    )
    assert event.annotations_uri == f"s3://{BUCKET}/runs/{RUN_ID}/label-studio/annotations/"
    assert not any(key.startswith(f"runs/{RUN_ID}/labeling/") for key in store.objects)


def test_a_cvat_run_gets_the_task_label_specification() -> None:
    store = make_run(labels=("cat", "dog"), mode="cvat")

    with sagemaker() as (jobs, _, _):
        event, _ = start(store, jobs)

    assert isinstance(event, LabelingRequested)
    assert event.tool == "cvat"
    assert event.tasks_uri is None
    labels = json.loads(store.objects[f"runs/{RUN_ID}/cvat/labels.json"])
    assert [(label["name"], label["type"]) for label in labels] == [("cat", "tag"), ("dog", "tag")]
