"""SageMaker for the offline chain: what moto lacks, shaped like AWS.

Installed on boto3's default session, it answers the SageMaker and SageMaker Runtime
calls the stages make. botocore validates every request against the service model
before the emulation sees it, and the emulation validates every response it returns
against the operation's output shape (as botocore's Stubber does), so a handler that
works here sends requests the real API accepts and reads responses the real API gives.

Jobs and endpoints do not finish inside the call that starts them: `advance()` moves
each pending resource one step (labeling: a simulated workforce answers from the
labels it was taught; training: metrics and a model artifact; endpoints: InService)
and puts AWS's state-change event for it on the default bus, as SageMaker does.
"""

import io
import json
import logging
import re
import struct
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.model import OperationModel, Shape
from botocore.response import StreamingBody
from botocore.validate import validate_parameters

from local.containers import LocalContainer, LocalServing, TrainingRun, run_training
from local.template import ACCOUNT, REGION
from sagechain.manifest import Box, LabeledLineBuilder
from sagechain.spec import TaskType

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
logger = logging.getLogger(__name__)
# Ground Truth's built-in task Lambdas are named after the task (PRE-/ACS-<task>).
_TASK_BY_LAMBDA = {
    "ImageMultiClassMultiLabel": TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
    "ImageMultiClass": TaskType.IMAGE_CLASSIFICATION,
    "BoundingBox": TaskType.OBJECT_DETECTION,
}
_OBJECTIVE = {"image-classification": "validation:accuracy", "object-detection": "validation:mAP"}
EMULATED_MODEL_FILE = "emulated-model.json"
# Built-in algorithms that train only on GPU instances, by the name in their image URI:
# image classification, "EC2 Instance Recommendation" (GPU only for training):
# https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html#IC-instances
# object detection, "EC2 Instance Recommendation for the Object Detection Algorithm":
# https://docs.aws.amazon.com/sagemaker/latest/dg/object-detection.html#object-detection-instances
GPU_ONLY_ALGORITHMS = ("image-classification", "object-detection")
# GPU instance families (P and G: accelerated computing), https://aws.amazon.com/sagemaker/pricing/
_GPU_FAMILY = re.compile(r"^ml\.[pg]\d")

# What a simulated worker answers for an image: class names, or (width, height, boxes).
Answer = list[str] | tuple[int, int, list[Box]]


class ApiError(Exception):
    """An error SageMaker would answer with (code and message as AWS sends them)."""

    def __init__(self, code: str, message: str, original_status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        # InvokeEndpoint's ModelError: the status the container answered (OriginalStatusCode).
        self.original_status = original_status


def _member_path(path: str, name: str) -> str:
    # AWS names members lowerCamelCase, list items .member.N (1-based), in validation messages.
    member = name[:1].lower() + name[1:]
    return f"{path}.{member}" if path else member


def _violation(shown: Any, at: str, rule: str) -> str:
    return f"Value '{shown}' at '{at}' failed to satisfy constraint: {rule}"


def _scalar_violations(value: Any, shape: Shape, path: str) -> list[str]:
    meta = shape.metadata
    rules = []
    if isinstance(value, str):
        enum = getattr(shape, "enum", None)
        pattern = _compiled(meta.get("pattern"))
        if "max" in meta and len(value) > meta["max"]:
            rules.append(f"Member must have length less than or equal to {meta['max']}")
        if enum and value not in enum:
            rules.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        if pattern is not None and not pattern.fullmatch(value):
            rules.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif isinstance(value, int) and "max" in meta and value > meta["max"]:
        rules.append(f"Member must have value less than or equal to {meta['max']}")
    return [_violation(value, path, rule) for rule in rules]


def _shape_violations(value: Any, shape: Any, path: str) -> list[str]:
    """What botocore's client leaves unchecked (maximum lengths and counts, enums, patterns)."""
    kind = shape.type_name
    if kind not in {"list", "map", "structure"}:
        return _scalar_violations(value, shape, path)
    if not isinstance(value, list | dict):
        return []
    found = []
    if kind != "structure" and "max" in shape.metadata and len(value) > shape.metadata["max"]:
        found.append(
            _violation(value, path, f"Member must have length less than or equal to {shape.metadata['max']}")
        )
    if kind == "list":
        for index, item in enumerate(value, start=1):
            found += _shape_violations(item, shape.member, f"{path}.{index}.member")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            for part, entry, inner in (("key", key, shape.key), ("value", item, shape.value)):
                rules = [v.split("constraint: ", 1)[1] for v in _shape_violations(entry, inner, path)]
                if rules:
                    found.append(
                        _violation(entry, path, f"Map {part} must satisfy constraint: [{', '.join(rules)}]")
                    )
    elif isinstance(value, dict):
        for name, item in value.items():
            if name in shape.members:
                found += _shape_violations(item, shape.members[name], _member_path(path, name))
    return found


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    """The model's pattern as Python reads it; None for Java-only ones (\\p{L}: tags, free text)."""
    if pattern is None:
        return None
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except re.error:
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def check_constraints(params: dict[str, Any], shape: Shape) -> None:
    """ValidationException, in AWS's words, for a request outside the service model's constraints.

    botocore validates only required members and minimums client-side (botocore.validate); SageMaker
    checks the rest. Among them: the instance types each API takes (the enums TrainingInstanceType,
    ProductionVariantInstanceType, TransformInstanceType: ResourceConfig.InstanceType in
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformResources.html); name
    lengths (training, labeling jobs, models, endpoint configs, endpoints 63; tuning jobs 32:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html);
    hyperparameters (at most 100, keys 256 and values 2500 characters: HyperParameters in
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html).
    """
    violations = _shape_violations(params, shape, "")
    if violations:
        count = len(violations)
        raise ApiError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(violations)}",
        )


def _gpu_only(algorithm: dict[str, Any], instance_type: str) -> None:
    """What CreateTrainingJob answers when a GPU-only built-in algorithm is asked for a CPU instance."""
    image = algorithm.get("TrainingImage", "")
    for name in GPU_ONLY_ALGORITHMS:
        if f"/{name}:" in image and not _GPU_FAMILY.match(instance_type):
            raise ApiError(
                "ValidationException",
                f"Instance type {instance_type} is not supported by algorithm {name}; "
                "only GPU instances are supported.",
            )


def _now() -> datetime:
    return datetime.now(UTC)


def _s3_split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _tags(params: dict[str, Any]) -> list[dict[str, str]]:
    return list(params.get("Tags", []))


@dataclass
class EmulatedSageMaker:
    """The SageMaker resources of one offline stack."""

    emit: Callable[[str, dict[str, Any], list[str]], None]
    workforce: dict[str, Answer] = field(default_factory=dict)
    fail_training: Callable[[dict[str, Any]], str | None] = lambda _request: None
    # A CreateEndpoint refusal to inject (e.g. ResourceLimitExceeded: new accounts have a quota
    # of 0 for many endpoint instance types), or None to create the endpoint.
    refuse_endpoint: Callable[[dict[str, Any]], "ApiError | None"] = lambda _request: None
    # Account quotas per (usage, instance type), usage "training job" or "endpoint": a request for
    # more instances than the quota is refused as SageMaker refuses it. Absent = unlimited; new
    # accounts' real default for most GPU types is 0 (SageMaker developer guide, "Quotas").
    instance_quotas: dict[tuple[str, str], int] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    labeling: dict[str, dict[str, Any]] = field(default_factory=dict)
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoint_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    transform: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[Callable[[], None]] = field(default_factory=list)
    # A transform job failure to inject: called with the job, returns its FailureReason or None.
    fail_transform: Callable[[dict[str, Any]], str | None] = lambda _job: None
    # Transform jobs that run until stopped: a batch that outlives its max runtime.
    hold_transforms: bool = False
    # Blue/green updates (added for issue 16): called with (endpoint, phase) as each phase of an update
    # with a DeploymentConfig starts ("creating", "canary", "linear-<n>", "full", "baking",
    # "terminating"), so a test can put an alarm into ALARM mid-canary; and, per endpoint, the
    # instances serving after every step (old and new fleets together while both are up).
    on_phase: Callable[[str, str], None] = lambda _endpoint, _phase: None
    serving: dict[str, list[int]] = field(default_factory=dict)
    # Bring your own container (issue 19): images whose code runs for real offline (local/containers.py).
    # A custom image not listed here is simulated (a score from the hyperparameters, a colour rule for
    # predictions), and says so: a warning in the log and its URI in `simulated_images`.
    containers: dict[str, LocalContainer] = field(default_factory=dict)
    simulated_images: list[str] = field(default_factory=list)
    local_serving: LocalServing = field(default_factory=LocalServing)
    # The local runs, by job name: exit code, log, metrics (what CloudWatch would hold).
    local_runs: dict[str, TrainingRun] = field(default_factory=dict)

    # ------------------------------------------------------------ wiring
    def install(self) -> "EmulatedSageMaker":
        """Give boto3 a fresh default session whose clients ask the emulation first."""
        self._saved_session = boto3.DEFAULT_SESSION
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        for service in ("sagemaker", "sagemaker-runtime"):
            events.register(f"before-parameter-build.{service}", self._keep_params)
            events.register(f"before-call.{service}", self._answer)
        return self

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialized request; the API parameters travel in the context.
        context["emulated_params"] = params

    def uninstall(self) -> None:
        """Restore boto3's previous default session: nothing outside the stack is emulated."""
        boto3.DEFAULT_SESSION = self._saved_session

    def _answer(self, model: OperationModel, context: dict[str, Any], **_: Any) -> Any:
        handler = getattr(self, f"_op_{model.name}", None)
        params = context["emulated_params"]
        url = f"https://{model.metadata['endpointPrefix']}.{REGION}.amazonaws.com/"
        try:
            # Every SageMaker call, moto's too: botocore checks only required members and minimums.
            if model.input_shape is not None:
                check_constraints(params, model.input_shape)
            if handler is None:
                return None  # moto answers the rest
            self.calls[model.name] += 1
            result = handler(params)
        except ApiError as err:
            error: dict[str, Any] = {
                "Error": {"Code": err.code, "Message": err.message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            if err.original_status is not None:
                error["OriginalStatusCode"] = err.original_status
            return AWSResponse(url, 400, HTTPHeaders(), None), error
        if model.output_shape is not None:
            validate_parameters(result, model.output_shape)
        result["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": "emulated"}
        return AWSResponse(url, 200, HTTPHeaders(), None), result

    def advance(self) -> bool:
        """Move every pending resource one step; whether anything moved."""
        steps, self.pending = self.pending, []
        for step in steps:
            step()
        return bool(steps)

    def _create(
        self, store: dict[str, dict[str, Any]], name: str, kind: str, description: dict[str, Any]
    ) -> None:
        """ResourceInUse, as CreateTrainingJob words it, for a job name already used (jobs are never
        deleted, so a name is used once per account and Region): the Errors section of
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html, of
        API_CreateHyperParameterTuningJob.html and of API_CreateLabelingJob.html; the message as
        https://github.com/aws/amazon-sagemaker-examples/pull/3108 quotes it. Tuning job names are not
        case sensitive (HyperParameterTuningJobName, API_CreateHyperParameterTuningJob.html)."""
        fold = str.lower if kind == "hyperparameter tuning job" else str
        taken = {fold(existing): job for existing, job in store.items()}
        if fold(name) in taken:
            arn = next(v for k, v in taken[fold(name)].items() if k.endswith("JobArn"))
            raise ApiError(
                "ResourceInUse",
                f"{kind.capitalize()} names must be unique within an AWS account and region, and a {kind} "
                f"with this name already exists ({arn})",
            )
        store[name] = description

    def _get(self, store: dict[str, dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
        if name not in store:
            raise ApiError("ResourceNotFound", f"{kind} {name} does not exist.")
        return store[name]

    # ------------------------------------------------------------ labeling
    def _op_CreateLabelingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["LabelingJobName"]
        arn = f"{ARN}:labeling-job/{name}"
        now = _now()
        description = {
            **{k: v for k, v in params.items() if k != "LabelingJobName"},
            "LabelingJobName": name,
            "LabelingJobArn": arn,
            "LabelingJobStatus": "InProgress",
            "LabelCounters": {
                "TotalLabeled": 0,
                "HumanLabeled": 0,
                "MachineLabeled": 0,
                "FailedNonRetryableError": 0,
                "Unlabeled": 0,
            },
            "CreationTime": now,
            "LastModifiedTime": now,
            "JobReferenceCode": sha256(name.encode()).hexdigest()[:12],
        }
        self._create(self.labeling, name, "labeling job", description)
        self.pending.append(lambda: self._finish_labeling(name))
        return {"LabelingJobArn": arn}

    def _op_DescribeWorkteam(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # Every private team of the account exists offline, with the portal SageMaker gives it.
        name = params["WorkteamName"]
        portal = sha256(name.encode()).hexdigest()[:10]
        return {
            "Workteam": {
                "WorkteamName": name,
                "WorkteamArn": f"{ARN}:workteam/private-crowd/{name}",
                "WorkforceArn": f"{ARN}:workforce/default",
                "Description": f"Private work team {name}",
                "MemberDefinitions": [
                    {
                        "CognitoMemberDefinition": {
                            "UserPool": f"{REGION}_sagechain",
                            "UserGroup": name,
                            "ClientId": "sagechainclientid0000000000",
                        }
                    }
                ],
                "SubDomain": f"{portal}.labeling.{REGION}.sagemaker.aws",
                "CreateDate": _now(),
            }
        }

    def _op_DescribeLabelingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return dict(self._get(self.labeling, params["LabelingJobName"], "Labeling job"))

    def _finish_labeling(self, name: str) -> None:
        job = self.labeling[name]
        s3 = boto3.client("s3", region_name=REGION)
        task = next(
            (
                task
                for suffix, task in _TASK_BY_LAMBDA.items()
                if job["HumanTaskConfig"].get("PreHumanTaskLambdaArn", "").endswith(f"-{suffix}")
            ),
            TaskType.IMAGE_CLASSIFICATION,
        )
        bucket, key = _s3_split(job["LabelCategoryConfigS3Uri"])
        categories = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        labels = [entry["label"] for entry in categories["labels"]]
        builder = LabeledLineBuilder(
            task, labels, job["LabelAttributeName"], _now().isoformat(), job_name=name
        )
        bucket, key = _s3_split(job["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"])
        lines, labeled, unlabeled = [], 0, 0
        for raw in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines():
            uri = json.loads(raw)["source-ref"]
            answer = self.workforce.get(uri)
            if answer is None:
                unlabeled += 1
                continue
            if isinstance(answer, tuple):
                width, height, boxes = answer
                lines.append(builder.detection(uri, (width, height, 3), boxes, uri))
            else:
                lines.append(builder.classification(uri, answer, uri))
            labeled += 1
        out_bucket, out_prefix = _s3_split(job["OutputConfig"]["S3OutputPath"])
        output_key = f"{out_prefix.rstrip('/')}/{name}/manifests/output/output.manifest"
        s3.put_object(Bucket=out_bucket, Key=output_key, Body=b"".join(lines))
        job.update(
            LabelingJobStatus="Completed",
            LastModifiedTime=_now(),
            LabelCounters={
                "TotalLabeled": labeled,
                "HumanLabeled": labeled,
                "MachineLabeled": 0,
                "FailedNonRetryableError": 0,
                "Unlabeled": unlabeled,
            },
            LabelingJobOutput={"OutputDatasetS3Uri": f"s3://{out_bucket}/{output_key}"},
        )
        self._emit_labeling(job)

    def _emit_labeling(self, job: dict[str, Any]) -> None:
        # As AWS documents it: only the status; the job is named by the event's resources.
        detail = {"LabelingJobStatus": job["LabelingJobStatus"]}
        self.emit("SageMaker Ground Truth Labeling Job State Change", detail, [job["LabelingJobArn"]])

    # ------------------------------------------------------------ training
    def _within_quota(self, usage: str, instance_type: str, count: int) -> None:
        """ResourceLimitExceeded, worded as SageMaker words it, when count is over the quota."""
        quota = self.instance_quotas.get((usage, instance_type))
        if quota is not None and count > quota:
            raise ApiError(
                "ResourceLimitExceeded",
                f"The account-level service limit '{instance_type} for {usage} usage' is {quota} Instances, "
                f"with current utilization of 0 Instances and a request delta of {count} Instances. "
                "Please use AWS Service Quotas to request an increase for this quota.",
            )

    def _op_CreateTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        resources = params["ResourceConfig"]
        _gpu_only(params["AlgorithmSpecification"], resources.get("InstanceType", ""))
        self._within_quota("training job", resources["InstanceType"], resources["InstanceCount"])
        name = params["TrainingJobName"]
        arn = f"{ARN}:training-job/{name}"
        now = _now()
        description = {
            **params,
            "TrainingJobArn": arn,
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "SecondaryStatusTransitions": [
                {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"}
            ],
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        self._create(self.training, name, "training job", description)
        self.pending.append(lambda: self._finish_training(name))
        return {"TrainingJobArn": arn}

    def _op_DescribeTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self._get(self.training, params["TrainingJobName"], "Training job")
        return {k: v for k, v in job.items() if k not in {"Tags"}}

    def _objective(self, job: dict[str, Any]) -> str:
        image = job.get("AlgorithmSpecification", {}).get("TrainingImage", "")
        for algorithm, metric in _OBJECTIVE.items():
            if f"/{algorithm}:" in image:
                return metric
        definitions = job.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        return definitions[0]["Name"] if definitions else "validation:accuracy"

    def _custom_image(self, image: str) -> LocalContainer | None:
        """The registered container of a custom image; None (and a warning, once) when it is simulated."""
        if image in self.containers:
            return self.containers[image]
        builtin = any(f"/{algorithm}:" in image for algorithm in _OBJECTIVE)
        if not builtin and image not in self.simulated_images:
            self.simulated_images.append(image)
            logger.warning(
                "emulated SageMaker: image %s is not registered as locally runnable "
                "(LocalStack(containers=...)); its jobs and endpoints are simulated",
                image,
            )
        return None

    def _finish_training(self, name: str, tuning_job: str | None = None) -> None:
        job = self.training[name]
        container = self._custom_image(job["AlgorithmSpecification"].get("TrainingImage", ""))
        failure = self.fail_training(job)
        if container is not None and not failure:
            self._run_locally(name, container, tuning_job)
            return
        now = _now()
        # The secondary statuses a job goes through (SecondaryStatusTransition); Downloading only
        # for File or FastFile input, which copy the data to the instance before training.
        if _input_modes(job) & {"File", "FastFile"}:
            _secondary(job, "Downloading", "Downloading input data")
        _secondary(job, "Training", "Training image download completed. Training in progress.")
        if failure:
            _secondary(job, "Failed", "Training job failed", ended=True)
        else:
            _secondary(job, "Uploading", "Uploading generated training model")
            _secondary(job, "Completed", "Training job completed", ended=True)
        if failure:
            job.update(
                TrainingJobStatus="Failed",
                SecondaryStatus="Failed",
                FailureReason=failure,
                TrainingEndTime=now,
                LastModifiedTime=now,
            )
        else:
            bucket, prefix = _s3_split(job["OutputDataConfig"]["S3OutputPath"])
            key = f"{prefix.rstrip('/')}/{name}/output/model.tar.gz"
            boto3.client("s3", region_name=REGION).put_object(
                Bucket=bucket, Key=key, Body=self._model_tar(job)
            )
            # A deterministic score per hyperparameter set, so choosing among siblings is visible.
            digest = sha256(json.dumps(job.get("HyperParameters", {}), sort_keys=True).encode()).digest()
            value = round(0.80 + digest[0] / 255 * 0.15, 4)
            spot = job.get("EnableManagedSpotTraining", False)
            job.update(
                TrainingJobStatus="Completed",
                SecondaryStatus="Completed",
                ModelArtifacts={"S3ModelArtifacts": f"s3://{bucket}/{key}"},
                FinalMetricDataList=[{"MetricName": self._objective(job), "Value": value, "Timestamp": now}],
                # The emulated job trains for its TrainingTimeInSeconds, so its start and end agree.
                TrainingStartTime=job["CreationTime"],
                TrainingEndTime=job["CreationTime"] + timedelta(seconds=600),
                LastModifiedTime=now,
                TrainingTimeInSeconds=600,
                BillableTimeInSeconds=180 if spot else 600,
            )
        if tuning_job:
            job["TuningJobArn"] = f"{ARN}:hyper-parameter-tuning-job/{tuning_job}"
        self._emit_training(job)

    def _run_locally(self, name: str, container: LocalContainer, tuning_job: str | None) -> None:
        """The job's code, run for real: its tarballs, final metrics and FailureReason."""
        job = self.training[name]
        if _input_modes(job) & {"File", "FastFile"}:
            _secondary(job, "Downloading", "Downloading input data")
        _secondary(job, "Training", "Training image download completed. Training in progress.")
        run = run_training(container, job)
        self.local_runs[name] = run
        now = _now()
        timing = {
            "TrainingStartTime": job["CreationTime"],
            "TrainingEndTime": job["CreationTime"] + timedelta(seconds=run.seconds),
            "LastModifiedTime": now,
            "TrainingTimeInSeconds": run.seconds,
            "BillableTimeInSeconds": run.seconds,
        }
        if run.failure_reason is not None:
            _secondary(job, "Failed", "Training job failed", ended=True)
            job.update(
                TrainingJobStatus="Failed",
                SecondaryStatus="Failed",
                FailureReason=run.failure_reason,
                **timing,
            )
        else:
            _secondary(job, "Uploading", "Uploading generated training model")
            _secondary(job, "Completed", "Training job completed", ended=True)
            s3 = boto3.client("s3", region_name=REGION)
            bucket, prefix = _s3_split(job["OutputDataConfig"]["S3OutputPath"])
            base = f"{prefix.rstrip('/')}/{name}/output"
            s3.put_object(Bucket=bucket, Key=f"{base}/model.tar.gz", Body=run.model_tar)
            if run.output_tar is not None:
                s3.put_object(Bucket=bucket, Key=f"{base}/output.tar.gz", Body=run.output_tar)
            job.update(
                TrainingJobStatus="Completed",
                SecondaryStatus="Completed",
                ModelArtifacts={"S3ModelArtifacts": f"s3://{bucket}/{base}/model.tar.gz"},
                FinalMetricDataList=[{**metric, "Timestamp": now} for metric in run.metrics],
                **timing,
            )
        if tuning_job:
            job["TuningJobArn"] = f"{ARN}:hyper-parameter-tuning-job/{tuning_job}"
        self._emit_training(job)

    def _model_tar(self, job: dict[str, Any]) -> bytes:
        """A model artifact the emulated endpoint can serve: the class names it was trained on."""
        labels: dict[int, str] = {}
        s3 = boto3.client("s3", region_name=REGION)
        for channel in job.get("InputDataConfig", []):
            source = channel["DataSource"].get("S3DataSource", {})
            if source.get("S3DataType") != "AugmentedManifestFile":
                continue
            bucket, key = _s3_split(source["S3Uri"])
            attribute = source.get("AttributeNames", ["", "label"])[-1]
            for raw in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines():
                line = json.loads(raw)
                metadata = line.get(f"{attribute}-metadata", {})
                if "class-name" in metadata:
                    labels[int(line[attribute])] = metadata["class-name"]
                labels.update({int(k): v for k, v in metadata.get("class-map", {}).items()})
        payload = json.dumps(
            {"labels": [labels.get(i, f"class-{i}") for i in range(max(labels, default=-1) + 1)]}
        )
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            data = payload.encode()
            info = tarfile.TarInfo(EMULATED_MODEL_FILE)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def _emit_training(self, job: dict[str, Any]) -> None:
        detail = {k: v for k, v in job.items() if k not in {"Tags"}}
        detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.get("Tags", [])}
        # As the documented sample writes times: epoch milliseconds, as strings.
        detail["SecondaryStatusTransitions"] = [
            {key: _epoch_ms(value) if key.endswith("Time") else value for key, value in transition.items()}
            for transition in job.get("SecondaryStatusTransitions", [])
        ]
        self.emit("SageMaker Training Job State Change", _jsonable(detail), [job["TrainingJobArn"]])

    def _op_CreateHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        definition = params.get("TrainingJobDefinition", {})
        resources = definition.get("ResourceConfig")
        if resources:
            _gpu_only(definition.get("AlgorithmSpecification", {}), resources.get("InstanceType", ""))
            # Its trials run side by side: the quota must hold all of them at once.
            parallel = params["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
            self._within_quota(
                "training job", resources["InstanceType"], resources["InstanceCount"] * parallel
            )
        name = params["HyperParameterTuningJobName"]
        arn = f"{ARN}:hyper-parameter-tuning-job/{name}"
        now = _now()
        description = {
            **params,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": now,
            "LastModifiedTime": now,
            "TrainingJobStatusCounters": {
                "Completed": 0,
                "InProgress": 0,
                "RetryableError": 0,
                "NonRetryableError": 0,
                "Stopped": 0,
            },
            "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
        }
        self._create(self.tuning, name, "hyperparameter tuning job", description)
        self.pending.append(lambda: self._finish_tuning(name))
        return {"HyperParameterTuningJobArn": arn}

    def _op_DescribeHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # DescribeHyperParameterTuningJob has no Tags (ListTags has them).
        job = self._get(self.tuning, params["HyperParameterTuningJobName"], "Tuning job")
        return {k: v for k, v in job.items() if k != "Tags"}

    def _finish_tuning(self, name: str) -> None:
        tuning = self.tuning[name]
        definition = tuning["TrainingJobDefinition"]
        objective = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        count = min(tuning["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"], 3)
        children = []
        for index in range(count):
            child = f"{name[:28]}-{index + 1:03}-{sha256(name.encode()).hexdigest()[:8]}"
            request = {
                "TrainingJobName": child,
                "AlgorithmSpecification": definition["AlgorithmSpecification"],
                "RoleArn": definition["RoleArn"],
                "InputDataConfig": definition.get("InputDataConfig", []),
                "OutputDataConfig": definition["OutputDataConfig"],
                "ResourceConfig": definition["ResourceConfig"],
                "StoppingCondition": definition["StoppingCondition"],
                "HyperParameters": {
                    **definition.get("StaticHyperParameters", {}),
                    **_tuned_values(tuning["HyperParameterTuningJobConfig"], index, count),
                },
                "Tags": tuning.get("Tags", []),
            }
            self._op_CreateTrainingJob(request)
            self.pending.pop()  # children finish now, inside the tuning job
            self._finish_training(child, tuning_job=name)
            children.append(self.training[child])
        done = [c for c in children if c["TrainingJobStatus"] == "Completed"]
        maximize = objective["Type"] == "Maximize"

        def objective_value(child: dict[str, Any]) -> float | None:
            # A locally run container reports its own metrics: the objective by name, if it printed it.
            values = [m["Value"] for m in child.get("FinalMetricDataList", []) if m["MetricName"] == metric]
            return values[-1] if values else None

        metric = objective["MetricName"]
        scored = [c for c in done if objective_value(c) is not None]
        best = sorted(scored, key=lambda c: objective_value(c) or 0.0, reverse=maximize)[:1]
        tuning.update(
            HyperParameterTuningJobStatus="Completed",
            LastModifiedTime=_now(),
            TrainingJobStatusCounters={
                "Completed": len(done),
                "InProgress": 0,
                "RetryableError": 0,
                "NonRetryableError": len(children) - len(done),
                "Stopped": 0,
            },
            ObjectiveStatusCounters={
                "Succeeded": len(done),
                "Pending": 0,
                "Failed": len(children) - len(done),
            },
        )
        if best:
            job = best[0]
            tuning["BestTrainingJob"] = {
                "TrainingJobName": job["TrainingJobName"],
                "TrainingJobArn": job["TrainingJobArn"],
                "CreationTime": job["CreationTime"],
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": job["HyperParameters"],
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": objective["MetricName"],
                    "Value": objective_value(job),
                },
            }
        # The event carries no best job (AWS documents none): handlers describe the tuning job.
        detail = {k: v for k, v in tuning.items() if k not in {"Tags", "BestTrainingJob"}}
        detail["Tags"] = {tag["Key"]: tag["Value"] for tag in tuning.get("Tags", [])}
        self.emit(
            "SageMaker HyperParameter Tuning Job State Change",
            _jsonable(detail),
            [tuning["HyperParameterTuningJobArn"]],
        )

    def _op_ListTrainingJobsForHyperParameterTuningJob(  # noqa: N802
        self, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The tuning job's trials, a page at a time (MaxResults, default 10; NextToken), sorted and
        filtered as the API documents: SortBy Name (default), CreationTime, Status or
        FinalObjectiveMetricValue (which leaves out trials without one), SortOrder, StatusEquals."""
        tuning = self._get(self.tuning, params["HyperParameterTuningJobName"], "Tuning job")
        config = tuning["HyperParameterTuningJobConfig"]
        objective = config["HyperParameterTuningJobObjective"]
        tuned = set(_range_names(config))
        summaries = []
        for job in self.training.values():
            if job.get("TuningJobArn", "").lower() != tuning["HyperParameterTuningJobArn"].lower():
                continue
            summary: dict[str, Any] = {
                "TrainingJobName": job["TrainingJobName"],
                "TrainingJobArn": job["TrainingJobArn"],
                "TuningJobName": tuning["HyperParameterTuningJobName"],
                "CreationTime": job["CreationTime"],
                "TrainingJobStatus": job["TrainingJobStatus"],
                "TunedHyperParameters": {
                    k: v for k, v in job.get("HyperParameters", {}).items() if k in tuned
                },
            }
            for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
                if key in job:
                    summary[key] = job[key]
            values = [
                m["Value"]
                for m in job.get("FinalMetricDataList", [])
                if m["MetricName"] == objective["MetricName"]
            ]
            if values:
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": values[-1],
                }
                summary["ObjectiveStatus"] = "Succeeded"
            else:
                summary["ObjectiveStatus"] = (
                    "Failed" if job["TrainingJobStatus"] != "InProgress" else "Pending"
                )
            summaries.append(summary)
        status = params.get("StatusEquals")
        summaries = [s for s in summaries if status is None or s["TrainingJobStatus"] == status]
        sort_by = params.get("SortBy", "Name")
        if sort_by == "FinalObjectiveMetricValue":
            summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "Name": lambda s: s["TrainingJobName"],
            "CreationTime": lambda s: s["CreationTime"],
            "Status": lambda s: s["TrainingJobStatus"],
            "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        }
        summaries.sort(key=keys[sort_by], reverse=params.get("SortOrder") == "Descending")
        start = int(params.get("NextToken") or 0)
        end = start + int(params.get("MaxResults", 10))
        page: dict[str, Any] = {"TrainingJobSummaries": summaries[start:end]}
        if end < len(summaries):
            page["NextToken"] = str(end)
        return page

    # ------------------------------------------------------------ models and endpoints
    def _op_CreateModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["ModelName"]
        # Models, endpoint configurations and endpoints can be deleted, so a taken name is not
        # ResourceInUse: SageMaker answers ValidationException "Cannot create already existing ..."
        # (as seen from CreateEndpointConfig in
        # https://github.com/awslabs/spot-tagging-bot-for-digital-assets/issues/2).
        if name in self.models:
            raise ApiError(
                "ValidationException", f'Cannot create already existing model "{ARN}:model/{name}".'
            )
        self.models[name] = {**params, "ModelArn": f"{ARN}:model/{name}", "CreationTime": _now()}
        return {"ModelArn": self.models[name]["ModelArn"]}

    def _op_DescribeModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        model = self._get(self.models, params["ModelName"], "Model")
        return {k: v for k, v in model.items() if k != "Tags"}

    def _op_CreateEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["EndpointConfigName"]
        arn = f"{ARN}:endpoint-config/{name}"
        if name in self.endpoint_configs:
            raise ApiError(
                "ValidationException", f'Cannot create already existing endpoint configuration "{arn}".'
            )
        # Each variant's model must exist (ProductionVariant.ModelName, API_CreateEndpointConfig.html).
        for variant in params.get("ProductionVariants", []):
            if variant.get("ModelName") and variant["ModelName"] not in self.models:
                raise ApiError(
                    "ValidationException", f'Could not find model "{ARN}:model/{variant["ModelName"]}".'
                )
        self.endpoint_configs[name] = {**params, "EndpointConfigArn": arn, "CreationTime": _now()}
        return {"EndpointConfigArn": arn}

    def _op_DescribeEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        config = self._get(self.endpoint_configs, params["EndpointConfigName"], "Endpoint configuration")
        return {k: v for k, v in config.items() if k != "Tags"}

    def _op_DeleteEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._get(self.endpoint_configs, params["EndpointConfigName"], "Endpoint configuration")
        del self.endpoint_configs[params["EndpointConfigName"]]
        return {}

    def _existing_config(self, name: str) -> dict[str, Any]:
        """The endpoint configuration CreateEndpoint or UpdateEndpoint names. Neither API has a
        ResourceNotFound error (Errors: ResourceLimitExceeded only, in
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html and
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html): a missing
        configuration is a ValidationException that names its ARN."""
        if name not in self.endpoint_configs:
            arn = f"{ARN}:endpoint-config/{name}"
            raise ApiError("ValidationException", f'Could not find endpoint configuration "{arn}".')
        return self.endpoint_configs[name]

    def _op_CreateEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["EndpointName"]
        arn = f"{ARN}:endpoint/{name.lower()}"
        if name in self.endpoints:
            raise ApiError("ValidationException", f'Cannot create already existing endpoint "{arn}".')
        config = self._existing_config(params["EndpointConfigName"])
        for variant in config.get("ProductionVariants", []):
            self._within_quota("endpoint", variant["InstanceType"], variant["InitialInstanceCount"])
        refusal = self.refuse_endpoint(params)
        if refusal is not None:
            raise refusal
        now = _now()
        self.endpoints[name] = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": params["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": now,
            "LastModifiedTime": now,
            "Tags": _tags(params),
            "InstanceCount": _initial_count(config),
        }
        self.pending.append(lambda: self._endpoint_in_service(name))
        return {"EndpointArn": arn}

    def _op_UpdateEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        endpoint = self._get(self.endpoints, params["EndpointName"], "Endpoint")
        # AWS updates only an InService endpoint; anything else is refused with this message.
        if endpoint["EndpointStatus"] != "InService":
            raise ApiError(
                "ValidationException",
                f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}".',
            )
        new = self._existing_config(params["EndpointConfigName"])
        old = self.endpoint_configs.get(endpoint["EndpointConfigName"], {})
        same_variants = _variant_names(old) == _variant_names(new)
        # RetainAllVariantProperties keeps each variant's DesiredInstanceCount (autoscaling's) when the
        # variant stays (UpdateEndpoint, API reference); otherwise the configuration's count applies.
        green = (
            endpoint["InstanceCount"]
            if params.get("RetainAllVariantProperties") and same_variants
            else _initial_count(new)
        )
        deployment = params.get("DeploymentConfig")
        phases = (
            None if deployment is None else self._blue_green_phases(endpoint, old, new, deployment, green)
        )
        endpoint.update(
            EndpointStatus="Updating",
            LastModifiedTime=_now(),
            PendingConfig=params["EndpointConfigName"],
            GreenCount=green,
        )
        if deployment is not None:
            endpoint["LastDeploymentConfig"] = deployment
        name = params["EndpointName"]
        if phases is None:
            self.pending.append(lambda: self._endpoint_in_service(name))
        else:
            self.pending.append(lambda: self._phase(name, phases, 0))
        return {"EndpointArn": endpoint["EndpointArn"]}

    def _blue_green_phases(
        self,
        endpoint: dict[str, Any],
        old: dict[str, Any],
        new: dict[str, Any],
        deployment: dict[str, Any],
        green: int,
    ) -> list["_Phase"]:
        """The phases of a blue/green update, after SageMaker's rules for deployment guardrails
        (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html and the
        canary, linear and exclusions pages): the same variant names; a canary of at most half the new
        fleet; linear steps of 10-50 % of it; named alarms that exist. Inf1 endpoints fall back to all at
        once with no final baking. Refusals are ValidationException (their wording is the emulation's)."""
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {
            "Type": "ALL_AT_ONCE",
            "WaitIntervalInSeconds": 0,
        }
        if _variant_names(old) != _variant_names(new):
            raise ApiError(
                "ValidationException",
                "Deployment guardrails require the new endpoint configuration to keep the variant names of "
                f"the current one ({', '.join(_variant_names(old))}); got {', '.join(_variant_names(new))}.",
            )
        alarms = [
            a["AlarmName"] for a in (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
        ]
        if alarms:
            found = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=alarms)
            missing = set(alarms) - {a["AlarmName"] for a in found.get("MetricAlarms", [])}
            if missing:
                raise ApiError(
                    "ValidationException", f"Could not find CloudWatch alarms: {', '.join(sorted(missing))}."
                )
        types = {
            v.get("InstanceType", "")
            for v in [*old.get("ProductionVariants", []), *new.get("ProductionVariants", [])]
        }
        kind, wait = routing["Type"], routing.get("WaitIntervalInSeconds", 0)
        baking = policy.get("TerminationWaitInSeconds", 0)
        if any(t.startswith("ml.inf1.") for t in types):
            kind, baking = "ALL_AT_ONCE", 0  # the documented fallback: all at once, no final baking
        blue = endpoint["InstanceCount"]
        phases = [_Phase("creating", "Creating", f"Launching {green} instance(s).", blue + green)]
        if kind == "CANARY":
            canary = _capacity(routing["CanarySize"], green)
            if _share(routing["CanarySize"], canary, green) > 50:
                raise ApiError(
                    "ValidationException",
                    f"The canary size ({canary} instance(s)) must be at most 50% of the new fleet ({green}).",
                )
            phases += [
                _Phase(
                    "canary",
                    "ActivatingTraffic",
                    f"Activating traffic on canary capacity of {canary} instance(s).",
                    blue + green,
                ),
                _Phase(
                    "canary-baking",
                    "Baking",
                    f"Baking for {wait} seconds (WaitIntervalInSeconds) with traffic enabled on canary "
                    f"capacity of {canary} instance(s).",
                    blue + green,
                    alarms,
                ),
            ]
        elif kind == "LINEAR":
            step = _capacity(routing["LinearStepSize"], green)
            if not 10 <= _share(routing["LinearStepSize"], step, green) <= 50:
                raise ApiError(
                    "ValidationException",
                    f"The linear step size ({step} instance(s)) must be 10-50% of the new fleet ({green}).",
                )
            active = 0
            while active + step < green:
                active += step
                phases += [
                    _Phase(
                        f"linear-{active}",
                        "ActivatingTraffic",
                        f"Activating traffic on {active} instance(s).",
                        blue + green,
                    ),
                    _Phase(
                        f"linear-{active}-baking",
                        "Baking",
                        f"Baking for {wait} seconds (WaitIntervalInSeconds) with traffic enabled on {active} "
                        "instance(s).",
                        blue + green,
                        alarms,
                    ),
                ]
        phases.append(
            _Phase(
                "full",
                "ActivatingTraffic",
                f"Activating traffic on full capacity of {green} instance(s).",
                blue + green,
            )
        )
        if baking:
            phases.append(
                _Phase(
                    "baking",
                    "Baking",
                    f"Baking for {baking} seconds (TerminationWaitInSeconds) with traffic enabled on full "
                    f"capacity of {green} instance(s).",
                    blue + green,
                    alarms,
                )
            )
        phases.append(_Phase("terminating", "Deleting", f"Terminating {blue} instance(s).", green))
        return phases

    def _phase(self, name: str, phases: list["_Phase"], index: int) -> None:
        """One phase of a blue/green update: the deployment state change SageMaker sends, then the alarms
        watched in a baking period (one in ALARM rolls all traffic back), then the next phase."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or "PendingConfig" not in endpoint:
            return  # deleted meanwhile
        phase = phases[index]
        endpoint["Phase"] = phase
        self.on_phase(name, phase.name)
        self.serving.setdefault(name, []).append(phase.serving)
        self.emit(
            "SageMaker Endpoint Deployment State Change",
            _jsonable(self._state_detail(name, "UPDATING")),
            [endpoint["EndpointArn"]],
        )
        if phase.alarms:
            cloudwatch = boto3.client("cloudwatch", region_name=REGION)
            alarms = cloudwatch.describe_alarms(AlarmNames=list(phase.alarms)).get("MetricAlarms", [])
            fired = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
            if fired:
                self._roll_back(name, fired)
                return
        if index + 1 < len(phases):
            self.pending.append(lambda: self._phase(name, phases, index + 1))
        else:
            self.pending.append(lambda: self._endpoint_in_service(name))

    def _roll_back(self, name: str, fired: list[str]) -> None:
        """Auto-rollback: all traffic back on the old fleet, the new one terminated; the endpoint returns to
        service on its previous configuration, DescribeEndpoint's FailureReason naming the alarms."""
        endpoint = self.endpoints[name]
        for key in ("PendingConfig", "Phase", "GreenCount"):
            endpoint.pop(key, None)
        endpoint["FailureReason"] = (
            f"Endpoint update was rolled back because alarm(s) {', '.join(fired)} went into ALARM state "
            "during the deployment."
        )
        self.serving.setdefault(name, []).append(endpoint["InstanceCount"])
        self.pending.append(lambda: self._endpoint_in_service(name))

    def _op_DescribeEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        endpoint = self._get(self.endpoints, params["EndpointName"], "Endpoint")
        config = self.endpoint_configs.get(endpoint["EndpointConfigName"], {})
        variants = (
            [
                {
                    "VariantName": variant["VariantName"],
                    "CurrentWeight": 1.0,
                    "DesiredWeight": 1.0,
                    "CurrentInstanceCount": endpoint.get(
                        "InstanceCount", variant.get("InitialInstanceCount", 1)
                    ),
                    "DesiredInstanceCount": endpoint.get(
                        "InstanceCount", variant.get("InitialInstanceCount", 1)
                    ),
                }
                for variant in config.get("ProductionVariants", [])
            ]
            if endpoint["EndpointStatus"] != "Creating"
            else []
        )
        described = {k: v for k, v in endpoint.items() if k not in _INTERNAL}
        if variants:
            described["ProductionVariants"] = variants
        phase = endpoint.get("Phase")
        if phase is not None:
            green = endpoint["GreenCount"]
            pending_variants = self.endpoint_configs[endpoint["PendingConfig"]].get("ProductionVariants", [])
            described["PendingDeploymentSummary"] = {
                "EndpointConfigName": endpoint["PendingConfig"],
                "StartTime": endpoint["LastModifiedTime"],
                "ProductionVariants": [
                    {
                        "VariantName": v["VariantName"],
                        "CurrentInstanceCount": green,
                        "DesiredInstanceCount": green,
                        "VariantStatus": [
                            {"Status": phase.status, "StatusMessage": phase.message, "StartTime": _now()}
                        ],
                    }
                    for v in pending_variants
                ],
            }
        return described

    def scale(self, name: str, instances: int) -> None:
        """What autoscaling does (UpdateEndpointWeightsAndCapacities): the endpoint now serves `instances`."""
        self.endpoints[name]["InstanceCount"] = instances
        self.serving.setdefault(name, []).append(instances)

    def _endpoint_in_service(self, name: str) -> None:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return  # deleted meanwhile
        if "PendingConfig" in endpoint:
            endpoint["EndpointConfigName"] = endpoint.pop("PendingConfig")
            endpoint["InstanceCount"] = endpoint.pop("GreenCount", endpoint["InstanceCount"])
            endpoint.pop("FailureReason", None)
        endpoint.pop("Phase", None)
        endpoint.update(EndpointStatus="InService", LastModifiedTime=_now())
        self.serving.setdefault(name, []).append(endpoint["InstanceCount"])
        detail = self._state_detail(name, "IN_SERVICE")
        self.emit("SageMaker Endpoint State Change", _jsonable(detail), [endpoint["EndpointArn"]])

    def _state_detail(self, name: str, status: str) -> dict[str, Any]:
        """An endpoint state change's detail, as SageMaker's documented samples shape it."""
        endpoint = self.endpoints[name]
        described = self._op_DescribeEndpoint({"EndpointName": name})
        variants = described.get("ProductionVariants", [])
        detail = {
            "EndpointName": name,
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint["EndpointConfigName"],
            "ProductionVariants": [
                {
                    "VariantName": v["VariantName"],
                    "DesiredWeight": v["DesiredWeight"],
                    "DesiredInstanceCount": v["DesiredInstanceCount"],
                }
                for v in variants
            ],
            # The event spells statuses its own way (IN_SERVICE), not as DescribeEndpoint does.
            "EndpointStatus": status,
            "CreationTime": endpoint["CreationTime"],
            "LastModifiedTime": endpoint["LastModifiedTime"],
            "Tags": {tag["Key"]: tag["Value"] for tag in endpoint["Tags"]},
        }
        for key in ("PendingDeploymentSummary", "FailureReason"):
            if key in described:
                detail[key] = described[key]
        return detail

    def _op_ListTags(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        arn = params["ResourceArn"]
        for store, key in (
            (self.labeling, "LabelingJobArn"),
            (self.training, "TrainingJobArn"),
            (self.tuning, "HyperParameterTuningJobArn"),
            (self.endpoints, "EndpointArn"),
            (self.models, "ModelArn"),
            (self.endpoint_configs, "EndpointConfigArn"),
            (self.transform, "TransformJobArn"),
        ):
            for resource in store.values():
                if resource.get(key) == arn:
                    return {"Tags": list(resource.get("Tags", []))}
        raise ApiError("ValidationException", f"Resource {arn} not found.")

    # ------------------------------------------------------------ inference
    def _op_InvokeEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        endpoint = self.endpoints.get(params["EndpointName"])
        if endpoint is None or endpoint["EndpointStatus"] == "Creating":
            raise ApiError(
                "ValidationError", f"Endpoint {params['EndpointName']} of account {ACCOUNT} not found."
            )
        config = self.endpoint_configs[endpoint["EndpointConfigName"]]
        model = self.models[config["ProductionVariants"][0]["ModelName"]]
        body = params["Body"] if isinstance(params["Body"], bytes) else params["Body"].read()
        variant = config["ProductionVariants"][0]["VariantName"]
        container = self._custom_image(model.get("PrimaryContainer", {}).get("Image", ""))
        if container is not None:
            return self._served_locally(container, model, params, body, variant)
        answer = self._builtin_answer(model, body)
        if isinstance(answer, list):
            answer = {"prediction": answer}
        data = json.dumps(answer).encode()
        return {
            "Body": StreamingBody(io.BytesIO(data), len(data)),
            "ContentType": "application/json",
            "InvokedProductionVariant": config["ProductionVariants"][0]["VariantName"],
        }

    def _served_locally(
        self,
        container: LocalContainer,
        model: dict[str, Any],
        params: dict[str, Any],
        body: bytes,
        variant: str,
    ) -> dict[str, Any]:
        """The container's own /invocations answer; an error status is InvokeEndpoint's ModelError (424)
        with OriginalStatusCode, as https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html
        lists it."""
        status, data, content_type = self.local_serving.invoke(
            container, model["PrimaryContainer"]["ModelDataUrl"], body, params.get("ContentType", "")
        )
        if status != 200:
            raise ApiError(
                "ModelError",
                f"Received client error ({status}) from primary with message "
                f'"{data.decode(errors="replace")}".',
                original_status=status,
            )
        return {
            "Body": StreamingBody(io.BytesIO(data), len(data)),
            "ContentType": content_type,
            "InvokedProductionVariant": variant,
        }

    def _builtin_answer(self, model: dict[str, Any], body: bytes) -> Any:
        """What the built-in algorithm behind model answers for an image, as batch transform writes it:
        image classification a JSON list of probabilities, one per class; object detection
        {"prediction": [[class, score, xmin, ymin, xmax, ymax], ...]} (image-classification.html,
        object-detection-in-formats.html). The endpoint wraps a classification in {"prediction": ...}."""
        scores = _colour_scores(body, self._served_labels(model))
        image = model.get("PrimaryContainer", {}).get("Image", "")
        if "/object-detection:" in image:
            best = max(range(len(scores)), key=scores.__getitem__) if scores else 0
            return {"prediction": [[float(best), scores[best] if scores else 0.0, 0.1, 0.1, 0.9, 0.9]]}
        return scores

    # ------------------------------------------------------------ batch transform (issue 18)
    def _op_CreateTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name, model = params["TransformJobName"], params["ModelName"]
        if model not in self.models:
            raise ApiError("ValidationException", f'Could not find model "{ARN}:model/{model.lower()}".')
        source = params["TransformInput"]["DataSource"]["S3DataSource"]
        # One image per request: an image cannot be split (SplitType None) nor joined with others.
        if (
            params.get("BatchStrategy") == "MultiRecord"
            and params["TransformInput"].get("SplitType", "None") == "None"
        ):
            raise ApiError("ValidationException", "MultiRecord requires a SplitType other than None.")
        if name in self.transform:
            # CreateTransformJob's name rule (API_CreateTransformJob.html): unique per account and Region.
            raise ApiError(
                "ValidationException",
                f"Job name must be unique within an AWS account and region, and a job with this name "
                f"already exists ({ARN}:transform-job/{name})",
            )
        now = _now()
        self.transform[name] = {
            **params,
            "TransformJobArn": f"{ARN}:transform-job/{name}",
            "TransformJobStatus": "InProgress",
            "CreationTime": now,
            "DataSource": source,
        }
        if not self.hold_transforms:
            self.pending.append(lambda: self._finish_transform(name))
        return {"TransformJobArn": self.transform[name]["TransformJobArn"]}

    def _op_DescribeTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self._get(self.transform, params["TransformJobName"], "Transform job")
        return {k: v for k, v in job.items() if k not in {"Tags", "DataSource"}}

    def _op_StopTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["TransformJobName"]
        job = self._get(self.transform, name, "Transform job")
        self._stop(job, "TransformJobStatus", "transform job", name)

        def stopped() -> None:
            job.update(TransformJobStatus="Stopped", TransformEndTime=_now())
            self._emit_transform(job)

        self.pending.append(stopped)
        return {}

    def _finish_transform(self, name: str) -> None:
        """Each manifest entry's answer at <S3OutputPath>/<entry>.out, then the state change."""
        job = self.transform[name]
        s3 = boto3.client("s3", region_name=REGION)
        failure = self.fail_transform(job)
        if failure is None:
            bucket, key = _s3_split(job["DataSource"]["S3Uri"])
            manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            prefix, entries = manifest[0]["prefix"], manifest[1:]
            out_bucket, out_prefix = _s3_split(job["TransformOutput"]["S3OutputPath"])
            model = self.models[job["ModelName"]]
            for entry in entries:
                in_bucket, in_key = _s3_split(prefix + entry)
                body = s3.get_object(Bucket=in_bucket, Key=in_key)["Body"].read()
                s3.put_object(
                    Bucket=out_bucket,
                    Key=f"{out_prefix.rstrip('/')}/{entry}.out",
                    Body=json.dumps(self._builtin_answer(model, body)).encode(),
                )
        now = _now()
        job.update(
            TransformJobStatus="Failed" if failure else "Completed",
            TransformStartTime=job["CreationTime"],
            TransformEndTime=now,
        )
        if failure:
            job["FailureReason"] = failure
        self._emit_transform(job)

    def _emit_transform(self, job: dict[str, Any]) -> None:
        detail = {k: v for k, v in job.items() if k not in {"Tags", "DataSource"}}
        detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.get("Tags", [])}
        self.emit("SageMaker Transform Job State Change", _jsonable(detail), [job["TransformJobArn"]])

    def _served_labels(self, model: dict[str, Any]) -> list[str]:
        uri = model.get("PrimaryContainer", {}).get("ModelDataUrl", "")
        if not uri:
            return []
        bucket, key = _s3_split(uri)
        data = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile(EMULATED_MODEL_FILE)
            return list(json.loads(member.read())["labels"]) if member else []

    # ------------------------------------------------------------ run control: Stop* (added for issue 15)
    # A stop drops the job's pending completion and, one step later, reports it Stopped, as
    # SageMaker does (InProgress -> Stopping -> Stopped). A job that is not InProgress is
    # refused with ValidationException, as SageMaker refuses it.
    def _drop_pending(self, name: str) -> None:
        """Forget the steps scheduled for the named resource (a step closes over its name)."""
        self.pending = [
            step
            for step in self.pending
            if name not in [cell.cell_contents for cell in (getattr(step, "__closure__", None) or ())]
        ]

    def _stop(self, job: dict[str, Any], status_field: str, kind: str, name: str) -> None:
        if job[status_field] != "InProgress":
            status = job[status_field]
            raise ApiError("ValidationException", f"The {kind} {name} is not in progress: {status}.")
        self._drop_pending(name)
        job.update({status_field: "Stopping", "LastModifiedTime": _now()})

    def _op_StopTrainingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["TrainingJobName"]
        job = self._get(self.training, name, "Training job")
        self._stop(job, "TrainingJobStatus", "training job", name)
        _secondary(job, "Stopping", "Stopping the training job")

        def stopped() -> None:
            _secondary(job, "Stopped", "Training job stopped", ended=True)
            job.update(TrainingJobStatus="Stopped", SecondaryStatus="Stopped", TrainingEndTime=_now())
            self._emit_training(job)

        self.pending.append(stopped)
        return {}

    def _op_StopLabelingJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["LabelingJobName"]
        job = self._get(self.labeling, name, "Labeling job")
        self._stop(job, "LabelingJobStatus", "labeling job", name)

        def stopped() -> None:
            job.update(LabelingJobStatus="Stopped", LastModifiedTime=_now())
            self._emit_labeling(job)

        self.pending.append(stopped)
        return {}

    def _op_StopHyperParameterTuningJob(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["HyperParameterTuningJobName"]
        tuning = self._get(self.tuning, name, "Hyperparameter tuning job")
        self._stop(tuning, "HyperParameterTuningJobStatus", "hyperparameter tuning job", name)

        def stopped() -> None:
            tuning.update(HyperParameterTuningJobStatus="Stopped", LastModifiedTime=_now())
            detail = {k: v for k, v in tuning.items() if k not in {"Tags", "BestTrainingJob"}}
            detail["Tags"] = {tag["Key"]: tag["Value"] for tag in tuning.get("Tags", [])}
            self.emit(
                "SageMaker HyperParameter Tuning Job State Change",
                _jsonable(detail),
                [tuning["HyperParameterTuningJobArn"]],
            )

        self.pending.append(stopped)
        return {}

    # ------------------------------------------------------------ deletions (run control and cost, issue 15)
    def _op_DeleteModel(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = params["ModelName"]
        if name not in self.models:
            raise ApiError("ValidationException", f'Could not find model "{ARN}:model/{name.lower()}".')
        del self.models[name]
        return {}

    def _op_DeleteEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # AWS deletes asynchronously (status Deleting); gone at once is enough offline.
        name = params["EndpointName"]
        if name not in self.endpoints:
            raise ApiError("ValidationException", f'Could not find endpoint "{ARN}:endpoint/{name.lower()}".')
        self._drop_pending(name)
        del self.endpoints[name]
        return {}

    def _op_ListEndpoints(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        listed = [{k: e[k] for k in keys} for e in self._named(self.endpoints, params)]
        return {"Endpoints": listed}

    def _op_ListEndpointConfigs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        keys = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
        return {
            "EndpointConfigs": [{k: c[k] for k in keys} for c in self._named(self.endpoint_configs, params)]
        }

    def _op_ListModels(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        keys = ("ModelName", "ModelArn", "CreationTime")
        return {"Models": [{k: m[k] for k in keys} for m in self._named(self.models, params)]}

    # ------------------------------------------------------------ jobs in progress (teardown, issue 15)
    # One page each, filtered as the List* calls filter: NameContains (case-insensitive) and
    # StatusEquals; the summaries carry the members the output shapes require.
    def _op_ListTrainingJobs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        keys = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingJobStatus", "SecondaryStatus")
        jobs = self._with_status(self.training, params, "TrainingJobStatus")
        return {"TrainingJobSummaries": [{k: j[k] for k in keys if k in j} for j in jobs]}

    def _op_ListTransformJobs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        keys = ("TransformJobName", "TransformJobArn", "CreationTime", "TransformJobStatus")
        jobs = self._with_status(self.transform, params, "TransformJobStatus")
        return {"TransformJobSummaries": [{k: j[k] for k in keys if k in j} for j in jobs]}

    def _op_ListLabelingJobs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        summaries = [
            {
                "LabelingJobName": job["LabelingJobName"],
                "LabelingJobArn": job["LabelingJobArn"],
                "CreationTime": job["CreationTime"],
                "LastModifiedTime": job["LastModifiedTime"],
                "LabelingJobStatus": job["LabelingJobStatus"],
                "LabelCounters": job["LabelCounters"],
                "WorkteamArn": job["HumanTaskConfig"]["WorkteamArn"],
            }
            for job in self._with_status(self.labeling, params, "LabelingJobStatus")
        ]
        return {"LabelingJobSummaryList": summaries}

    def _op_ListHyperParameterTuningJobs(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        summaries = [
            {
                "HyperParameterTuningJobName": job["HyperParameterTuningJobName"],
                "HyperParameterTuningJobArn": job["HyperParameterTuningJobArn"],
                "HyperParameterTuningJobStatus": job["HyperParameterTuningJobStatus"],
                "Strategy": job["HyperParameterTuningJobConfig"]["Strategy"],
                "CreationTime": job["CreationTime"],
                "TrainingJobStatusCounters": job["TrainingJobStatusCounters"],
                "ObjectiveStatusCounters": job["ObjectiveStatusCounters"],
            }
            for job in self._with_status(self.tuning, params, "HyperParameterTuningJobStatus")
        ]
        return {"HyperParameterTuningJobSummaries": summaries}

    def _with_status(
        self, store: dict[str, dict[str, Any]], params: dict[str, Any], status_field: str
    ) -> list[dict[str, Any]]:
        status = params.get("StatusEquals")
        return [job for job in self._named(store, params) if status is None or job[status_field] == status]

    @staticmethod
    def _named(store: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        # One page: NameContains filters case-insensitively, as the List* calls do.
        contains = params.get("NameContains", "").lower()
        return [resource for name, resource in sorted(store.items()) if contains in name.lower()]


def _range_names(config: dict[str, Any]) -> list[str]:
    """The hyperparameters a tuning job tunes (its ParameterRanges)."""
    ranges = config.get("ParameterRanges", {})
    return [r["Name"] for kind in ranges.values() if isinstance(kind, list) for r in kind]


def _tuned_values(config: dict[str, Any], index: int, count: int) -> dict[str, str]:
    """Trial index's values of the tuned hyperparameters: evenly spread over each range (or its
    categories), so each trial differs, deterministically."""
    ranges = config.get("ParameterRanges", {})
    values: dict[str, str] = {}
    share = (index + 1) / (count + 1)
    for spread in ranges.get("ContinuousParameterRanges", []):
        low, high = float(spread["MinValue"]), float(spread["MaxValue"])
        values[spread["Name"]] = f"{low + (high - low) * share:.6g}"
    for spread in ranges.get("IntegerParameterRanges", []):
        low, high = int(spread["MinValue"]), int(spread["MaxValue"])
        values[spread["Name"]] = str(round(low + (high - low) * share))
    for spread in ranges.get("CategoricalParameterRanges", []):
        values[spread["Name"]] = spread["Values"][index % len(spread["Values"])]
    return values or {"trial": str(index)}


def _input_modes(job: dict[str, Any]) -> set[str]:
    """The input modes a training job reads its channels in (a channel's own, else the job's)."""
    default = job.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    return {channel.get("InputMode", default) for channel in job.get("InputDataConfig", [])} or {default}


def _secondary(job: dict[str, Any], status: str, message: str, ended: bool = False) -> None:
    """Move a training job to a secondary status: the last transition ends now, the new one starts
    (and, for the job's last status, ends at once, as DescribeTrainingJob shows it)."""
    now = _now()
    transitions = job.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message}
    if ended:
        entry["EndTime"] = now
    transitions.append(entry)
    job["SecondaryStatus"] = status


def _epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@dataclass(frozen=True)
class _Phase:
    """One phase of a blue/green update: its name, the variant status SageMaker reports, the instances
    serving, and the alarms watched (baking periods only)."""

    name: str
    status: str
    message: str
    serving: int
    alarms: tuple[str, ...] | list[str] = ()


# Kept on an emulated endpoint, never part of DescribeEndpoint's answer.
_INTERNAL = {"Tags", "PendingConfig", "Phase", "GreenCount", "InstanceCount"}


def _variant_names(config: dict[str, Any]) -> list[str]:
    return sorted(v["VariantName"] for v in config.get("ProductionVariants", []))


def _initial_count(config: dict[str, Any]) -> int:
    return sum(int(v.get("InitialInstanceCount", 1)) for v in config.get("ProductionVariants", [])) or 1


def _capacity(size: dict[str, Any], fleet: int) -> int:
    """A CapacitySize in instances of the new fleet (CAPACITY_PERCENT rounds down, at least one)."""
    if size["Type"] == "INSTANCE_COUNT":
        return int(size["Value"])
    return max(1, fleet * int(size["Value"]) // 100)


def _share(size: dict[str, Any], instances: int, fleet: int) -> float:
    """The canary's or step's share of the new fleet, in percent, as the request states it."""
    return float(size["Value"]) if size["Type"] == "CAPACITY_PERCENT" else 100 * instances / fleet


def _jsonable(value: Any) -> Any:
    """Event details are JSON: timestamps as AWS writes them."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
    )


def _mean_colour(png: bytes) -> tuple[float, float, float] | None:
    """The mean RGB of a non-interlaced 8-bit RGB PNG with unfiltered rows (what local.sample_data writes)."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position, idat, width = 8, b"", 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, _height, depth, colour_type = struct.unpack(">IIBB", data[:10])
            if (depth, colour_type) != (8, 2):
                return None
        elif kind == b"IDAT":
            idat += data
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    totals, count = [0, 0, 0], 0
    for row in range(len(raw) // stride):
        line = raw[row * stride : (row + 1) * stride]
        if line[0] != 0:
            return None
        for x in range(1, stride, 3):
            if abs(line[x] - 235) + abs(line[x + 1] - 235) + abs(line[x + 2] - 235) < 12:
                continue  # the sample background: only the object counts
            totals[0] += line[x]
            totals[1] += line[x + 1]
            totals[2] += line[x + 2]
            count += 1
    return (totals[0] / count, totals[1] / count, totals[2] / count) if count else None


def _colour_scores(image: bytes, labels: list[str]) -> list[float]:
    """The emulated model: probabilities by nearness to each class's sample colour."""
    from local.sample_data import SAMPLE_COLOURS  # noqa: PLC0415 - only the emulated endpoint needs it

    if not labels:
        return []
    mean = _mean_colour(image)
    if mean is None:
        return [round(1 / len(labels), 4)] * len(labels)
    weights = []
    for label in labels:
        colour = SAMPLE_COLOURS.get(label, (128, 128, 128))
        distance = sum((a - b) ** 2 for a, b in zip(mean, colour, strict=True)) ** 0.5
        weights.append(1 / (1 + distance / 20) ** 4)
    total = sum(weights)
    return [round(w / total, 4) for w in weights]
