"""Runs as prepare_dataset leaves them (spec.json, run.json, a labeled manifest), for the training tests."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sagechain.attempts import AttemptClaim, StopRecord, attempt_key, stopped_key
from sagechain.events import RetryStage, RunRetried, SagechainEvent
from sagechain.manifest import Box, LabeledLineBuilder
from sagechain.names import RUN_ID_TAG, STACK_TAG
from sagechain.records import RunInfo, TrainingRecord
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec, TaskType
from sagechain.training.settings import TrainingEnvironment
from tests.fakes import MemoryStore

RUN_ID = "garden-d54a8e7725f7"
# The stack the tests' functions belong to (STACK_NAME in tests/conftest.py; samconfig.toml's stack_name).
STACK_NAME = "sagechain"
# Its ARN (STACK_ID in tests/conftest.py): every sagechain event of the stack names it in resources.
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/sagechain/9e3a1d20-7a4f-11ef-8b2c-0a1b2c3d4e5f"
)
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/sagechain-SageMakerExecutionRole-1A2B3C"
ENVIRONMENT = TrainingEnvironment.from_env(
    {
        "AWS_DEFAULT_REGION": REGION,
        "SAGEMAKER_ROLE_ARN": ROLE_ARN,
        "NAME_PREFIX": "sagechain",
        "STACK_NAME": STACK_NAME,
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "ALLOW_CUSTOM_NETWORK_ACCESS": "false",
    }
)
DEFAULTS = SpecDefaults.from_env(
    {
        "DEFAULT_MAX_LABELING_COST_USD": "100",
        "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
        "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
        "DEFAULT_ENDPOINT_TTL_HOURS": "0",
    }
)
CREATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def spec_of(document: dict[str, Any]) -> DatasetSpec:
    """The spec as prepare_dataset stores it: validated, stack defaults filled in."""
    return DatasetSpec.model_validate(document).with_defaults(DEFAULTS)


def builder(spec: DatasetSpec) -> LabeledLineBuilder:
    """Writes lines in the form prepare_dataset and Ground Truth write them."""
    return LabeledLineBuilder(spec.task, spec.labels, spec.labeling.label_attribute, CREATED.isoformat())


def image_uri(bucket: str, i: int) -> str:
    """An image of the garden dataset."""
    return f"s3://{bucket}/datasets/garden/images/{i:04}.jpg"


def classification_lines(spec: DatasetSpec, bucket: str, labels: Iterable[list[str]]) -> bytes:
    """One labeled line per image, with the given label names."""
    lines = builder(spec)
    return b"".join(
        lines.classification(image_uri(bucket, i), names, "test") for i, names in enumerate(labels)
    )


def detection_lines(spec: DatasetSpec, bucket: str, boxes: Iterable[list[str]]) -> bytes:
    """One line per image with a 10x10 box per label name given."""
    lines = builder(spec)
    return b"".join(
        lines.detection(
            image_uri(bucket, i),
            (640, 480, 3),
            [Box(name, 10 * j, 10, 10, 10) for j, name in enumerate(names)],
            "t",
        )
        for i, names in enumerate(boxes)
    )


def run_info(spec: DatasetSpec, bucket: str, run_id: str = RUN_ID) -> RunInfo:
    """run.json of a run of the garden dataset."""
    return RunInfo(
        run_id=run_id,
        dataset="garden",
        source_uri=f"s3://{bucket}/datasets/garden.zip",
        source_version="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        task=spec.task.value,
        labeling_mode=spec.labeling.mode.value,
        label_attribute=spec.labeling.label_attribute,
        manifest_uri=f"s3://{bucket}/runs/{run_id}/labeled.manifest",
        objects=0,
        created_at=CREATED,
    )


def put_run(store: MemoryStore, spec: DatasetSpec, manifest: bytes | None, run_id: str = RUN_ID) -> None:
    """spec.json and run.json, and labeled.manifest when given."""
    store.objects[f"runs/{run_id}/spec.json"] = spec.model_dump_json(indent=2).encode()
    store.objects[f"runs/{run_id}/run.json"] = run_info(spec, store.bucket, run_id).model_dump_json().encode()
    if manifest is not None:
        store.objects[f"runs/{run_id}/labeled.manifest"] = manifest


def two_class_labels(count: int) -> list[list[str]]:
    """rose, tulip, rose, tulip, ..."""
    return [["rose" if i % 2 == 0 else "tulip"] for i in range(count)]


def provided_spec(task: TaskType, labels: list[str], training: dict[str, Any] | None = None) -> DatasetSpec:
    """A provided-labels spec for task."""
    return spec_of(
        {
            "task": task.value,
            "labels": labels,
            "labeling": {"mode": "provided"},
            "training": training or {},
        }
    )


LABELING_JOB = "sagechain-garden-d54a8e7725f7-label"
# The labeling job of the run's second attempt (a retry from labeling).
GROUND_TRUTH_LABELING_JOB_A2 = "sagechain-garden-d54a8e7725f7-labeling-a2"


def labeling_output_key(run_id: str = RUN_ID, job: str = LABELING_JOB) -> str:
    """Where Ground Truth writes a job's output manifest under the run's labeling/ prefix."""
    return f"runs/{run_id}/labeling/{job}/manifests/output/output.manifest"


def describe_labeling_job(
    bucket: str,
    labeled: int,
    run_id: str | None = RUN_ID,
    output_uri: str | None = None,
    job: str = LABELING_JOB,
    attribute: str = "label",
    stack: str = STACK_NAME,
) -> dict[str, Any]:
    """A DescribeLabelingJob answer for a completed job, shaped as the API model requires."""
    tags = (
        [] if run_id is None else [{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": STACK_TAG, "Value": stack}]
    )
    return {
        "LabelingJobStatus": "Completed",
        "LabelCounters": {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 2,
            "Unlabeled": 0,
        },
        "CreationTime": CREATED,
        "LastModifiedTime": CREATED,
        "JobReferenceCode": "a1b2c3d4e5",
        "LabelingJobName": job,
        "LabelingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:labeling-job/{job}",
        "LabelAttributeName": attribute,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{bucket}/runs/{RUN_ID}/input.manifest"}}
        },
        "OutputConfig": {"S3OutputPath": f"s3://{bucket}/runs/{RUN_ID}/labeling/"},
        "RoleArn": ROLE_ARN,
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:123456789012:workteam/private-crowd/team",
            "UiConfig": {
                "HumanTaskUiArn": f"arn:aws:sagemaker:{REGION}:394669845002:human-task-ui/ImageMultiClass"
            },
            "TaskTitle": "Which flower is it?",
            "TaskDescription": "Choose the flower in the picture.",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
        },
        "LabelingJobOutput": {
            "OutputDatasetS3Uri": output_uri or f"s3://{bucket}/{labeling_output_key(run_id or RUN_ID, job)}"
        },
        "Tags": tags,
    }


def training_record(**changes: Any) -> TrainingRecord:
    """runs/<run_id>/training.json as start_training writes it: one built-in classification job."""
    run_id = changes.pop("run_id", RUN_ID)
    document: dict[str, Any] = {
        "run_id": run_id,
        "dataset": "flowers",
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "label_attribute": "label",
        "algorithm": "builtin",
        "training_image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
        "mode": "single",
        "job_names": [f"sagechain-{run_id}-train"],
        "hyperparameters": [{}],
        "objective": {"name": "validation:accuracy", "type": "Maximize"},
        "train_manifest_uri": f"s3://bucket/runs/{run_id}/train.manifest",
        "validation_manifest_uri": f"s3://bucket/runs/{run_id}/validation.manifest",
        "output_uri": f"s3://bucket/runs/{run_id}/training/",
        "train_objects": 6,
        "validation_objects": 2,
        "dropped": {},
        "class_split": {"rose": {"train": 3, "validation": 1}, "tulip": {"train": 3, "validation": 1}},
        "created_at": datetime(2026, 11, 25, tzinfo=UTC),
    }
    document.update(changes)
    return TrainingRecord.model_validate(document)


# ---------------------------------------------------------------- retries and stops (attempts.py)
def claim_attempt(
    store: MemoryStore, attempt: int = 2, from_stage: RetryStage = "training", run_id: str = RUN_ID
) -> None:
    """runs/<run_id>/attempts/<nnnn>.json as POST /runs/{run_id}/retry writes it."""
    claim = AttemptClaim(
        run_id=run_id,
        attempt=attempt,
        from_stage=from_stage,
        previous_status="failed",
        previous_stage=from_stage,
        requested_at=CREATED,
    )
    store.objects[attempt_key(run_id, attempt)] = claim.model_dump_json().encode()


def stop_attempt(store: MemoryStore, attempt: int = 1, run_id: str = RUN_ID) -> None:
    """runs/<run_id>/stopped.json as POST /runs/{run_id}/stop writes it."""
    stop = StopRecord(run_id=run_id, attempt=attempt, stopped_at=CREATED)
    store.objects[stopped_key(run_id)] = stop.model_dump_json().encode()


def run_retried(
    attempt: int = 2,
    from_stage: RetryStage = "training",
    run_id: str = RUN_ID,
    dataset: str = "flowers",
    **fields: Any,
) -> RunRetried:
    """The "Run Retried" POST /runs/{run_id}/retry publishes after claiming the attempt."""
    return RunRetried(
        run_id=run_id,
        dataset=dataset,
        attempt=attempt,
        from_stage=from_stage,
        previous_status="failed",
        previous_stage=from_stage,
        **fields,
    )


def bus_event(event: SagechainEvent, event_id: str = "5f1b7d0e-retry") -> dict[str, Any]:
    """A sagechain event as EventBridge delivers it to a rule's target (the stack in resources)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": event.DETAIL_TYPE,
        "source": "sagechain",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": REGION,
        "resources": [STACK_ID],
        "detail": event.model_dump(mode="json"),
    }
