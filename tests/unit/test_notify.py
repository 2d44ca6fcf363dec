"""notify's emails: one per event, a subject that names dataset, run and stage, a body for a person."""

import json
from typing import Any

import pytest

from sagechain.observers.email import SUBJECT_MAX, Email, subject_line
from sagechain.observers.notify import compose_email, duration
from sagechain.ports import EndpointFacts, LabelingJobFacts, TrainingJobFacts, TuningJobFacts
from tests.aws import sample_event
from tests.fakes import FakeSageMaker, MemoryStore
from tests.runs import STACK_ID, STACK_NAME

RUN = "flowers-8b39944c64ac"
LABELING = "sagechain-flowers-8b39944c64ac-labeling"
TRAINING = "sagechain-flowers-8b39944c64ac-train-1"
TUNING = "sagechain-flowers-8b39944c-tune"
ENDPOINT = "sagechain-flowers"
CONFIG = "sagechain-flowers-8b39944c64ac-config"
PREDICT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/models/sagechain-flowers/predict"
PING_FAILURE = "The primary container for production variant AllTraffic did not pass the ping health check."
CONSOLE = "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}"


def run_json(run_id: str = RUN, dataset: str = "flowers", **extra: str) -> bytes:
    return json.dumps(
        {
            **extra,
            "run_id": run_id,
            "dataset": dataset,
            "source_uri": f"s3://bucket/datasets/{dataset}/dataset.json",
            "source_version": "v1",
            "task": "image-classification",
            "labeling_mode": "ground-truth",
            "label_attribute": "class",
            "manifest_uri": f"s3://bucket/runs/{run_id}/input.manifest",
            "objects": 8,
            "created_at": "2026-03-02T10:00:00Z",
        }
    ).encode()


def spot_training(status: str = "Failed", secondary: str = "Failed", **extra: Any) -> TrainingJobFacts:
    return TrainingJobFacts(
        name=TRAINING,
        status=status,
        secondary_status=secondary,
        failure_reason="AlgorithmError: ClientError: Data download failed",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        spot=True,
        training_seconds=1200,
        billable_seconds=400,
        **extra,
    )


@pytest.fixture
def sagemaker() -> FakeSageMaker:
    run_tag = {"sagechain:run-id": RUN, "sagechain:stack": "sagechain"}
    return FakeSageMaker(
        tags={
            arn("labeling-job", LABELING): run_tag,
            arn("training-job", TRAINING): run_tag,
            arn("endpoint-config", CONFIG): run_tag,
        },
        training={TRAINING: spot_training()},
        labeling={
            LABELING: LabelingJobFacts(
                name=LABELING,
                status="Failed",
                failure_reason="ClientError: The workteam sagechain-demo does not exist.",
                counters={"TotalLabeled": 3, "HumanLabeled": 3, "MachineLabeled": 0, "Unlabeled": 5},
            )
        },
        tuning={
            TUNING: TuningJobFacts(
                name=TUNING, status="Failed", counters={"Completed": 0, "NonRetryableError": 4}
            )
        },
        endpoints={
            ENDPOINT: EndpointFacts(
                name=ENDPOINT,
                status="Failed",
                failure_reason=PING_FAILURE,
            )
        },
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("sagechain-data-example", {f"runs/{RUN}/run.json": run_json()})


def email_for(
    case: str, sagemaker: FakeSageMaker, store: MemoryStore, event: dict[str, Any] | None = None
) -> Email:
    email = compose_email(
        event or sample_event("notify", case), sagemaker, store, "sagechain", STACK_NAME, STACK_ID
    )
    assert email is not None
    return email


# Every sagechain event class and every failed or stopped kind of resource: the subject, and
# lines of the body that carry what happened, the key figures, the reason, links and next steps.
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "dataset_prepared": (
        "Dataset prepared",
        [
            "8 images were listed in the run's Ground Truth input manifest.",
            "Skipped (not used): not_an_image 1.",
            "Labeling cost estimate: $0.64 for 8 images (Ground Truth fees $0.64, workforce $0.00)",
            f"Manifest: s3://sagechain-data-example/runs/{RUN}/input.manifest",
            "Nothing: a Ground Truth labeling job starts next.",
        ],
    ),
    "dataset_rejected": (
        "Dataset rejected",
        [
            "Estimated labeling cost $64.00 for 800 images is above labeling.max_cost_usd $50 (Ground "
            "Truth fees $64.00, workforce $0.00). Raise labeling.max_cost_usd in dataset.json or label "
            "fewer images.",
            "Skipped files:          hidden_file 2",
            "Dataset: s3://sagechain-data-example/datasets/flowers/",
            "then upload dataset.json (or the .zip) again",
        ],
    ),
    "labeling_started": (
        "Labeling started",
        [
            f"Ground Truth labeling job {LABELING} has started for 8 images.",
            "Workforce:              private",
            "Automated labeling:     off",
            f"Labeling job: {CONSOLE}labeling-jobs/{LABELING}",
            "When the job completes, training starts by itself.",
        ],
    ),
    "training_started": (
        "Training started",
        [
            f"1 training job started: {TRAINING}.",
            "Instances:         1 x ml.p3.2xlarge (spot)",
            "Training images:   6",
            "Validation images: 2",
            f"Training job {TRAINING}: {CONSOLE}jobs/{TRAINING}",
            f"Training logs of {TRAINING}: https://us-east-1.console.aws.amazon.com/cloudwatch/",
        ],
    ),
    "training_skipped": (
        "Training skipped",
        [
            "The labeling job labeled 0 of 8 images: workers skipped every task. Nothing to train on.",
            f"Labeling job: {CONSOLE}labeling-jobs/{LABELING}",
        ],
    ),
    "deployment_started": (
        "Deployment started",
        [
            f"The model trained by {TRAINING} passed the quality gate: endpoint {ENDPOINT} is being created.",
            "Metric:                 validation:accuracy = 0.93",
            "Training time:          20 min 00 s",
            "Billable seconds:       400 s (6 min 40 s)",
            "Spot savings:           66.7%",
            f"Endpoint: {CONSOLE}endpoints/{ENDPOINT}",
            'you get "Model live" with the predict URL.',
        ],
    ),
    "deployment_rejected": (
        "Deployment rejected",
        [
            "validation:accuracy 0.61 is below deployment.min_objective_metric 0.8.",
            "Minimum required:   0.8",
            "Spot savings:       66.7%",
            "Whatever is live keeps serving.",
        ],
    ),
    "deployment_failed": (
        "Deployment failed",
        [
            "The account-level service limit 'ml.m5.large for endpoint usage' is 0 Instances, with current "
            "utilization of 0 Instances and a request delta of 1 Instances.",
            f"Endpoint: {CONSOLE}endpoints/{ENDPOINT}",
            f"aws sagemaker delete-endpoint --endpoint-name {ENDPOINT}",
        ],
    ),
    "model_live": (
        "Model live",
        [
            f"Model sagechain-flowers-8b39944c64ac-model is live on endpoint {ENDPOINT}.",
            "Autoscaling:            1 to 4 instances",
            "Endpoint cost:          $0.12/hour at 1, $0.46/hour at 4 x ml.m5.large (on-demand, us-east-1, "
            "price table of 2026-12-01)",
            f"Predict (POST): {PREDICT}",
            f"aws sagemaker delete-endpoint --endpoint-name {ENDPOINT}; aws sagemaker delete-endpoint-config "
            "--endpoint-config-name sagechain-flowers-8b39944c64ac-model-config; aws sagemaker delete-model "
            "--model-name sagechain-flowers-8b39944c64ac-model",
            "DELETE https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/models/sagechain-flowers,",
            f"Send images to POST {PREDICT}, signed with your AWS credentials",
            "Endpoint deleted at:    2026-03-09 11:38:10 UTC (deployment.ttl_hours)",
            "To keep the endpoint longer, upload dataset.json again (the new model going live restarts",
        ],
    ),
    "model_expired": (
        "Model expired",
        [
            f"Endpoint {ENDPOINT} expired: deployment.ttl_hours after model",
            "its predict URL answers 404",
            "Due at:",
            f"endpoint {ENDPOINT}; endpoint configuration sagechain-flowers-8b39944c64ac-model-config",
            "Upload dataset.json again to train and deploy a new model on this endpoint.",
        ],
    ),
    "batch_started": (
        "Batch started",
        [
            "Batch tonight started: transform job sagechain-flowers-tonight-3f2a9c1d0b7e scores 3 images",
            "Worst-case cost:",
            "0.12 USD",
            "s3://sagechain-data/batches/sagechain-flowers/tonight/",
        ],
    ),
    "batch_rejected": (
        "Batch rejected",
        [
            "Batch tonight for model sagechain-flowers was rejected: nothing was started.",
            "instance_count is 9; at most 2 (stack parameter MaxEndpointInstances)",
            "upload batch.json again",
        ],
    ),
    "batch_completed": (
        "Batch completed",
        [
            "Batch tonight completed: 2 of 3 images scored",
            "daisy 1, rose 1",
            "s3://sagechain-data/batches/sagechain-flowers/tonight/predictions.jsonl",
            "s3://sagechain-data/batches/sagechain-flowers/tonight/summary.json",
            "Failed images are listed in the summary",
        ],
    ),
    "batch_failed": (
        "Batch failed",
        [
            "transform job sagechain-flowers-tonight-3f2a9c1d0b7e Failed",
            "ClientError: See job logs for more information",
        ],
    ),
    "labeling_job_failed": (
        "Labeling job failed",
        [
            f"Ground Truth labeling job {LABELING} failed.",
            "ClientError: The workteam sagechain-demo does not exist.",
            "Images labeled:        3",
            "Not labeled yet:       5",
            f"Labeling job: {CONSOLE}labeling-jobs/{LABELING}",
        ],
    ),
    "labeling_job_stopped": ("Labeling job stopped", [f"Ground Truth labeling job {LABELING} was stopped."]),
    "training_job_failed": (
        "Training job failed",
        [
            # The event's own reason, verbatim, wins over DescribeTrainingJob's.
            "AlgorithmError: ClientError: Data download failed: the augmented manifest line 3 has no 'class' "
            "attribute, exit code: 2",
            "Training time:      20 min 00 s",
            "Billable seconds:   400 s (6 min 40 s)",
            "Spot savings:       66.7%",
            f"Training logs of {TRAINING}: https://us-east-1.console.aws.amazon.com/cloudwatch/",
            "Read the training log for the error.",
        ],
    ),
    "tuning_job_failed": (
        "Tuning job failed",
        [
            "All training jobs failed. Please check the training job logs for details.",
            "Training jobs failed:    4",
            f"Tuning job: {CONSOLE}hyper-tuning-jobs/{TUNING}",
        ],
    ),
    "endpoint_failed": (
        "Endpoint failed",
        [
            PING_FAILURE,
            f"Endpoint: {CONSOLE}endpoints/{ENDPOINT}",
            f"Endpoint configuration: {CONFIG}",
        ],
    ),
}


EXPECTED["labeling_requested"] = (
    "Labeling started",
    [
        "8 images wait to be labeled in Label Studio (image-classification).",
        f"Tasks to import: s3://sagechain-data-example/runs/{RUN}/label-studio/tasks.json",
        "paste config.xml",
        f"prefix runs/{RUN}/label-studio/, file filter regex tasks\\.json",
        "Add Target Storage: Amazon S3, bucket sagechain-data-example, prefix "
        f"runs/{RUN}/label-studio/annotations/.",
        "tasks.json holds s3:// URIs, which never expire",
        f"upload an empty object to s3://sagechain-data-example/runs/{RUN}/label-studio/done",
    ],
)
EXPECTED["labeling_completed"] = (
    "Labeling completed",
    [
        "Labeling is complete: 7 of 8 images are labeled.",
        "Completed by the done marker; the labeled manifest was written.",
        "rose 4, tulip 3",
        "cancelled 1, unknown_label:daisy 1",
        "Nothing: training starts from the labeled manifest.",
    ],
)
EXPECTED["labels_rejected"] = (
    "Labels rejected",
    [
        f"Labels uploaded for run {RUN} could not be used: nothing changed.",
        "export.json is not valid JSON (Expecting value at line 1)",
        f"File: s3://sagechain-data-example/runs/{RUN}/labels/export.json",
        "the run waits for it",
    ],
)
EXPECTED["training_failed"] = (
    "Training failed",
    [
        f"Training did not start for run {RUN}: SageMaker refused to create training job "
        f"sagechain-{RUN}-train because the AWS account's sagemaker quota 'ml.p3.2xlarge for training job "
        "usage' does not allow it (ResourceLimitExceeded).",
        "ResourceLimitExceeded: The account-level service limit 'ml.p3.2xlarge for training job usage'",
        "Quota:",
        "Request a quota increase (Service Quotas): "
        "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas",
        "Instances asked for: 1 x ml.p3.2xlarge",
    ],
)
EXPECTED["labeling_failed"] = (
    "Labeling failed",
    [
        f"Labeling did not start for run {RUN}: SageMaker refused to create labeling job "
        f"sagechain-{RUN}-labeling because the stack's IAM role may not call sagemaker:CreateLabelingJob",
        "AccessDeniedException: User: arn:aws:sts::",
        "template.yaml",
    ],
)


def test_a_partial_start_says_which_sets_were_refused_and_why(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    event = sample_event("notify", "training_started")
    failed = sample_event("notify", "training_failed")["detail"]
    refused = {**failed["refused"][0], "job_name": f"sagechain-{RUN}-train-2", "hyperparameter_set": 2}
    event["detail"] = {**event["detail"], "refused": [refused]}

    email = email_for("training_started", sagemaker, store, event)

    assert "SageMaker refused 1 hyperparameter set because the AWS account's sagemaker quota" in email.body
    assert f"Set 2 sagechain-{RUN}-train-2: ResourceLimitExceeded: The account-level" in email.body
    assert "Only the jobs that started are compared." in email.body


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_event_is_emailed_with_a_subject_naming_dataset_stage_and_run(
    case: str, sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    stage, lines = EXPECTED[case]

    email = email_for(case, sagemaker, store)

    assert email.subject == f"[sagechain] flowers: {stage} (run {RUN})"
    for line in lines:
        assert line in email.body
    when = sample_event("notify", case)["time"].replace("T", " ").replace("Z", " UTC")
    assert email.body.endswith(f"-- \nsagechain, run {RUN}, dataset flowers, {when}\n")


@pytest.mark.parametrize(
    "case",
    ["labeling_job_completed", "training_job_completed", "tuning_job_completed", "endpoint_in_service"],
)
def test_completed_jobs_and_endpoints_in_service_are_not_emailed(
    case: str, sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    assert (
        compose_email(sample_event("notify", case), sagemaker, store, "sagechain", STACK_NAME, STACK_ID)
        is None
    )


def test_a_stopped_training_job_says_why_it_stopped_and_what_to_raise(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    sagemaker.training[TRAINING] = spot_training("Stopped", "MaxRuntimeExceeded")

    email = email_for("training_job_stopped", sagemaker, store)

    assert email.subject == f"[sagechain] flowers: Training job stopped (run {RUN})"
    assert "Status:             Stopped (MaxRuntimeExceeded)" in email.body
    assert "raise training.max_runtime_seconds" in email.body


def test_a_training_job_that_a_tuning_job_launched_is_left_to_the_tuning_job(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    sagemaker.training[TRAINING] = spot_training(tuning_job_arn=arn("hyper-parameter-tuning-job", TUNING))

    assert (
        compose_email(
            sample_event("notify", "training_job_failed"), sagemaker, store, "sagechain", STACK_NAME, STACK_ID
        )
        is None
    )


def test_the_run_of_a_labeling_job_is_found_by_its_tags_and_its_dataset_in_run_json(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    email_for("labeling_job_failed", sagemaker, store)

    assert f"ListTags {arn('labeling-job', LABELING)}" in sagemaker.asked


def test_an_endpoint_updated_by_a_later_run_reports_to_the_run_whose_configuration_it_deploys(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    event = sample_event("notify", "endpoint_failed")
    event["detail"]["Tags"] = {
        "sagechain:run-id": "flowers-00000000first",
        "sagechain:stack": "sagechain",
    }  # the endpoint's creator

    email = email_for("endpoint_failed", sagemaker, store, event)

    assert email.subject.endswith(f"(run {RUN})")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"TrainingJobName": "someone-else-job"}, "a name without our prefix"),
        ({"Tags": {}, "TrainingJobArn": arn("training-job", "sagechain-untagged")}, "no run tag"),
    ],
)
def test_other_peoples_jobs_are_not_emailed(
    change: dict[str, Any], why: str, sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    event = sample_event("notify", "training_job_failed")
    event["detail"].update(change)

    assert compose_email(event, sagemaker, store, "sagechain", STACK_NAME, STACK_ID) is None, why


def test_duplicate_reports_of_one_failure_are_one_email(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    first = sample_event("notify", "training_job_failed")
    again = {**first, "id": "f00dfeed-0000-4000-8000-000000000000", "time": "2026-03-02T11:20:02Z"}

    assert email_for("", sagemaker, store, first).key == email_for("", sagemaker, store, again).key


def test_every_other_fact_is_its_own_email(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    # Given every kind of email, and the same training job stopped rather than failed
    stopped = sample_event("notify", "training_job_failed")
    stopped["detail"]["TrainingJobStatus"] = "Stopped"
    keys = [email_for(case, sagemaker, store).key for case in sorted(EXPECTED)]
    keys.append(email_for("", sagemaker, store, stopped).key)

    # Then no two share a key, so none is deduplicated away as another's repeat
    assert len(set(keys)) == len(keys), keys


def test_a_run_without_run_json_is_still_emailed_by_its_run_id(sagemaker: FakeSageMaker) -> None:
    email = email_for("labeling_job_failed", sagemaker, MemoryStore())

    assert email.subject == f"[sagechain] Labeling job failed (run {RUN})"


def test_a_long_dataset_name_is_shortened_so_the_subject_stays_under_snss_limit() -> None:
    subject = subject_line("a very long dataset name " * 8, "Deployment rejected", RUN)

    assert len(subject) <= SUBJECT_MAX < 100
    assert subject.startswith("[sagechain] a very long dataset name")
    assert subject.endswith(f"…: Deployment rejected (run {RUN})")


def test_line_breaks_in_a_dataset_name_never_reach_the_subject() -> None:
    assert (
        subject_line("café\nphotos\t2", "Model live", RUN)
        == f"[sagechain] café photos 2: Model live (run {RUN})"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, None), (42, "42 s"), (400, "6 min 40 s"), (3723, "1 h 02 min 03 s")]
)
def test_durations_read_as_a_person_would_say_them(seconds: int | None, text: str | None) -> None:
    assert duration(seconds) == text


def test_every_email_of_a_run_says_who_uploaded_its_dataset(sagemaker: FakeSageMaker) -> None:
    store = MemoryStore(
        "sagechain-data-example",
        {f"runs/{RUN}/run.json": run_json(uploaded_by="AWS:AIDAEXAMPLE", uploaded_from="198.51.100.7")},
    )

    later = email_for("training_started", sagemaker, store)
    failure = email_for("labeling_job_failed", sagemaker, store)
    rejected = sample_event("notify", "dataset_rejected")
    rejected["detail"]["uploaded_by"] = "AWS:AIDAOTHER"
    rejection = email_for("dataset_rejected", sagemaker, MemoryStore(), rejected)

    assert "dataset uploaded by AWS:AIDAEXAMPLE from 198.51.100.7" in later.body
    assert "dataset uploaded by AWS:AIDAEXAMPLE from 198.51.100.7" in failure.body
    assert "dataset uploaded by AWS:AIDAOTHER" in rejection.body


def test_emails_after_training_link_the_artifacts_route_and_s3_locations_get_console_links(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    api = "https://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com/v1"

    failed = compose_email(
        sample_event("notify", "training_job_failed"),
        sagemaker,
        store,
        "sagechain",
        STACK_NAME,
        STACK_ID,
        operator_api_url=api,
    )
    started = compose_email(
        sample_event("notify", "labeling_started"), sagemaker, store, "sagechain", STACK_NAME, STACK_ID
    )

    assert failed is not None
    assert f"Models, output data, manifests and logs: {api}/runs/{RUN}/artifacts" in failed.body
    assert "X-Amz-" not in failed.body  # never a presigned URL in an email
    assert started is not None
    assert "in the S3 console: https://s3.console.aws.amazon.com/s3/" in started.body


def test_the_labeling_started_email_gives_a_private_teams_portal_and_what_a_worker_does_first(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    team = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/sagechain-labelers"
    sagemaker.portals[team] = "https://dlxbnqlv5o.labeling.us-east-1.sagemaker.aws"

    email = email_for("labeling_started", sagemaker, store)

    assert "Workers' labeling portal: https://dlxbnqlv5o.labeling.us-east-1.sagemaker.aws" in email.body
    assert "sign in at https://dlxbnqlv5o.labeling.us-east-1.sagemaker.aws with the user name" in email.body
    assert f"DescribeWorkteam {team}" in sagemaker.asked


def test_a_public_workforce_is_not_asked_for_a_portal(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    event = sample_event("notify", "labeling_started")
    event["detail"].update(
        workforce="public",
        workteam_arn="arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default",
    )

    email = email_for("labeling_started", sagemaker, store, event)

    assert "portal" not in email.body.split("What to do next")[0]
    assert not [asked for asked in sagemaker.asked if asked.startswith("DescribeWorkteam")]


SETS = [f"sagechain-{RUN}-set-{i}" for i in (1, 2, 3)]


def _chosen_among_sets(case: str) -> dict[str, Any]:
    event = sample_event("notify", case)
    event["detail"] = {
        **event["detail"],
        "training_job_name": SETS[1],
        "final_metrics": {"validation:accuracy": 0.93, "train:accuracy": 0.97},
        "comparison": [
            {
                "job_name": SETS[1],
                "status": "Completed",
                "objective_value": 0.93,
                "hyperparameters": {"learning_rate": "0.05"},
                "training_seconds": 610,
                "chosen": True,
            },
            {
                "job_name": SETS[0],
                "status": "Completed",
                "objective_value": 0.91,
                "hyperparameters": {"learning_rate": "0.01"},
                "training_seconds": 600,
            },
            {"job_name": SETS[2], "status": "Failed", "hyperparameters": {"learning_rate": "0.5"}},
        ],
        "jobs_compared": 4,
        "chosen_because": "highest validation:accuracy of 2 completed jobs (0.93 vs 0.91); 1 failed",
        "live_value": 0.9,
        "live_model_name": "sagechain-older-run-train",
    }
    return event


def test_deployment_started_shows_why_the_final_metrics_and_the_comparison_best_first(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    email = email_for("deployment_started", sagemaker, store, _chosen_among_sets("deployment_started"))

    body = email.body
    assert f"{SETS[1]}: highest validation:accuracy of 2 completed jobs (0.93 vs 0.91); 1 failed." in body
    assert "Live model's value:     0.9 (sagechain-older-run-train)" in body
    assert "Final metrics\n-------------\n  train:accuracy:      0.97\n  validation:accuracy: 0.93\n" in body
    job = len(SETS[0])
    table = [
        f"     {'Job':<{job}}  Status     validation:accuracy  Duration     Hyperparameters that differ",
        f"  *  {SETS[1]}  Completed  0.93                 10 min 10 s  learning_rate=0.05",
        f"     {SETS[0]}  Completed  0.91                 10 min 00 s  learning_rate=0.01",
        f"     {SETS[2]}  Failed     -                    -            learning_rate=0.5",
        "  ... and 1 more",
    ]
    assert "How the 4 jobs compared (best first; * deployed)\n" in body
    assert "\n".join(table) in body
    # The reason first, figures next, links last.
    order = ["Why this model", "Key figures", "Final metrics", "How the 4 jobs", "Links"]
    assert [body.index(part) for part in order] == sorted(body.index(part) for part in order)


def test_deployment_rejected_shows_the_comparison_beside_the_live_models_value(
    sagemaker: FakeSageMaker, store: MemoryStore
) -> None:
    email = email_for("deployment_rejected", sagemaker, store, _chosen_among_sets("deployment_rejected"))

    assert "Live model's value: 0.9" in email.body
    assert "(best first; * judged by the quality gate)" in email.body
    assert f"  *  {SETS[1]}  Completed  0.93" in email.body
    assert email.body.index("Reason") < email.body.index("Why this model was the candidate")


def test_labeling_progress_is_not_emailed(sagemaker: FakeSageMaker, store: MemoryStore) -> None:
    event = sample_event("notify", "labeling_progress")

    assert compose_email(event, sagemaker, store, "sagechain", STACK_NAME, STACK_ID) is None
