"""Custom containers that run for real offline: a training job's code as a local process, an
endpoint's answers from the container's own serving code.

A container is registered by image URI (LocalStack(containers={uri: LocalContainer(path)})): a
folder with a `train` script, run as `python train` (SageMaker runs `docker run <image> train`),
and a serving module with `load_model(model_dir)` and `invocations(model, body, content_type)`,
imported in-process (the `serve` web server is what a real endpoint runs; calling its functions
keeps the emulation fast). The job runs under SageMaker's directory and environment contract,
docs/container.md, in a temporary folder shaped like /opt/ml whose path the process gets in
SAGECHAIN_ML_ROOT (SageMaker never sets it: in a container the root is /opt/ml):

    input/config/hyperparameters.json, inputdataconfig.json, resourceconfig.json
    input/data/<channel>/...     File and FastFile channels, materialised from moto S3
    input/data/<channel>_0       Pipe channels: the objects one after another (a file, not a FIFO)
    model/  output/data/  output/failure  checkpoints/

What SageMaker documents (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html,
.../your-algorithms-training-algo-output.html) is what the job gets and gives back: the env holds the
request's Environment plus TRAINING_JOB_NAME and TRAINING_JOB_ARN; model/ becomes model.tar.gz and
output/data/ output.tar.gz under <S3OutputPath>/<job>/output/; the metric definitions' regexes read the
job's log (stdout and stderr), the last match of each giving its final value; a non-zero exit fails the
job with output/failure as its FailureReason.
"""

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import boto3

from local.template import REGION

# FailureReason is at most 1,024 characters (DescribeTrainingJob,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html).
FAILURE_REASON_MAX = 1_024
# A local run is a demo's or a test's: it never needs the hours a real job may take.
LOCAL_TIMEOUT_SECONDS = 120
ROOT_VARIABLE = "SAGECHAIN_ML_ROOT"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class LocalContainer:
    """A container image's code on this machine: its train script and its serving module."""

    directory: Path
    train_script: str = "train"
    serving_module: str = "histogram_classifier.py"


def histogram_classifier() -> LocalContainer:
    """examples/histogram-classifier, the example container."""
    return LocalContainer(EXAMPLES / "histogram-classifier")


@dataclass(frozen=True)
class TrainingRun:
    """What a local training run gave back."""

    exit_code: int
    seconds: int
    log: str
    metrics: list[dict[str, Any]]
    failure_reason: str | None
    model_tar: bytes
    output_tar: bytes | None


def _s3_split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def _channel_objects(s3: Any, source: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(bucket, key, path in the channel) of every object a channel's S3DataSource names."""
    bucket, prefix = _s3_split(source["S3Uri"])
    kind = source.get("S3DataType", "S3Prefix")
    if kind == "S3Prefix":
        # Paths relative to the prefix, as SageMaker downloads them: S3DataSource.S3Uri, "S3Prefix".
        base = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] + "/"
        return [(bucket, key, key[len(base) :]) for key in _keys(s3, bucket, prefix) if not key.endswith("/")]
    if kind == "ManifestFile":
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=prefix)["Body"].read())
        head, entries = manifest[0]["prefix"], manifest[1:]
        common_bucket, common = _s3_split(head)
        return [(common_bucket, common + entry, entry) for entry in entries]
    # AugmentedManifestFile: the manifest itself (the records SageMaker would stream from it).
    return [(bucket, prefix, prefix.rsplit("/", 1)[-1])]


def _materialise(s3: Any, job: dict[str, Any], data: Path) -> dict[str, Any]:
    """Write each channel under data/; inputdataconfig.json's content."""
    job_mode = job["AlgorithmSpecification"].get("TrainingInputMode", "File")
    config: dict[str, Any] = {}
    for channel in job.get("InputDataConfig", []):
        name, mode = channel["ChannelName"], channel.get("InputMode", job_mode)
        source = channel["DataSource"]["S3DataSource"]
        objects = _channel_objects(s3, source)
        if mode == "Pipe":
            with (data / f"{name}_0").open("wb") as pipe:
                for bucket, key, _ in objects:
                    pipe.write(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        else:
            for bucket, key, relative in objects:
                target = data / name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            (data / name).mkdir(parents=True, exist_ok=True)
        config[name] = {
            "TrainingInputMode": mode,
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if "ContentType" in channel:
            config[name]["ContentType"] = channel["ContentType"]
    return config


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def final_metrics(log: str, definitions: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each defined metric's last value in the log (its first group, else the whole match)."""
    found = []
    for definition in definitions:
        values = []
        for match in re.finditer(definition["Regex"], log):
            try:
                values.append(float(match.group(1) if match.groups() else match.group(0)))
            except ValueError:
                continue
        if values:
            found.append({"MetricName": definition["Name"], "Value": values[-1]})
    return found


def run_training(container: LocalContainer, job: dict[str, Any]) -> TrainingRun:
    """Run the job's training as a local process under the /opt/ml contract."""
    s3 = boto3.client("s3", region_name=REGION)
    with tempfile.TemporaryDirectory(prefix="sagechain-opt-ml-") as temp:
        root = Path(temp)
        config, data = root / "input" / "config", root / "input" / "data"
        for folder in (config, data, root / "model", root / "output" / "data", root / "checkpoints"):
            folder.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(job.get("HyperParameters", {})))
        (config / "inputdataconfig.json").write_text(json.dumps(_materialise(s3, job, data)))
        count = int(job["ResourceConfig"].get("InstanceCount", 1))
        hosts = [f"algo-{i + 1}" for i in range(count)]
        resources = {"current_host": hosts[0], "hosts": hosts, "network_interface_name": "eth0"}
        (config / "resourceconfig.json").write_text(json.dumps(resources))
        environment = {
            **job.get("Environment", {}),
            "TRAINING_JOB_NAME": job["TrainingJobName"],
            "TRAINING_JOB_ARN": job["TrainingJobArn"],
            ROOT_VARIABLE: str(root),
            "PATH": os.environ.get("PATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        limit = min(int(job["StoppingCondition"]["MaxRuntimeInSeconds"]), LOCAL_TIMEOUT_SECONDS)
        started = time.monotonic()
        try:
            done = subprocess.run(  # noqa: S603 - the registered container's own script, no shell
                [sys.executable, str(container.directory / container.train_script)],
                cwd=root,
                env=environment,
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
            exit_code, log = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as err:
            parts = [
                part.decode(errors="replace") if isinstance(part, bytes) else part or ""
                for part in (err.stdout, err.stderr)
            ]
            exit_code, log = -1, "".join(parts)
            (root / "output" / "failure").write_text(f"the job ran longer than {limit} s offline")
        seconds = max(1, round(time.monotonic() - started))
        failure = None
        if exit_code != 0:
            file = root / "output" / "failure"
            reason = file.read_text().strip() if file.exists() else "the training process failed"
            failure = f"AlgorithmError: {reason}, exit code: {exit_code}"[:FAILURE_REASON_MAX]
        output = root / "output" / "data"
        return TrainingRun(
            exit_code=exit_code,
            seconds=seconds,
            log=log,
            metrics=final_metrics(log, job["AlgorithmSpecification"].get("MetricDefinitions", [])),
            failure_reason=failure,
            model_tar=_tar(root / "model"),
            output_tar=_tar(output) if any(output.iterdir()) else None,
        )


@dataclass
class LocalServing:
    """Endpoints of registered containers: the serving module's load_model and invocations."""

    modules: dict[Path, ModuleType] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    # Each model's unpacked /opt/ml/model, kept while the endpoint may serve it.
    folders: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)

    def _module(self, container: LocalContainer) -> ModuleType:
        path = container.directory / container.serving_module
        if path not in self.modules:
            name = f"sagechain_container_{sha256(str(path).encode()).hexdigest()[:10]}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.modules[path] = module
        return self.modules[path]

    def invoke(
        self, container: LocalContainer, model_data_url: str, body: bytes, content_type: str
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) the container answers /invocations with."""
        module = self._module(container)
        if model_data_url not in self.models:
            bucket, key = _s3_split(model_data_url)
            archive = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
            folder = tempfile.TemporaryDirectory(prefix="sagechain-model-")
            self.folders.append(folder)
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(folder.name, filter="data")
            self.models[model_data_url] = module.load_model(Path(folder.name))
        try:
            answer, answer_type = module.invocations(self.models[model_data_url], body, content_type)
        except Exception as err:
            return (
                int(getattr(err, "status", 500)),
                json.dumps({"error": str(err)}).encode(),
                "application/json",
            )
        return 200, answer, answer_type
