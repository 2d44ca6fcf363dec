"""GET /runs/{run_id}/artifacts: what a run produced, as short-lived download links.

For each training job of the run, where SageMaker writes them under the run's output path
(OutputDataConfig.S3OutputPath = runs/<run_id>/training/,
https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage.html):
    runs/<run_id>/training/<job>/output/model.tar.gz    the model (/opt/ml/model)
    runs/<run_id>/training/<job>/output/output.tar.gz   the output data (/opt/ml/output/data)
plus the run's manifests (input, labeled, train, validation, and each labeling job's output
manifest) and the CloudWatch Logs page of each job's log streams. Only objects that exist are
listed, each with its size.

Links are presigned GETs valid for ARTIFACT_URL_SECONDS. They are signed with the status
API's role; a URL signed with temporary credentials stops working when they expire, even
before its own expiry (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html),
so they are meant to be fetched at once, not kept: ask the route again for fresh ones. No
email ever carries one: emails link to this route.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import RunNotFoundError
from sagechain.console import s3_console_url
from sagechain.event_sources.sagemaker import JobKind
from sagechain.layout import INPUT_MANIFEST, LABELED_MANIFEST, run_key
from sagechain.ports import ObjectStore, RunStore, SageMakerLookup, StoredObject

ARTIFACT_URL_SECONDS = 900
_RUN_MANIFESTS = (INPUT_MANIFEST, LABELED_MANIFEST, "train.manifest", "validation.manifest")
_JOB_FILES: dict[str, Literal["model", "output_data"]] = {
    "model.tar.gz": "model",
    "output.tar.gz": "output_data",
}

ArtifactKind = Literal["model", "output_data", "manifest", "labeling_manifest"]


class ObjectLinks(Protocol):
    """Presigned downloads of the data bucket's objects."""

    region: str

    def presigned_get(self, key: str, expires_in: int) -> str:
        """An HTTPS URL that GETs the object (as an attachment) until it expires."""


class Artifact(BaseModel):
    """One object the run produced."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: ArtifactKind
    name: str = Field(description="The object's file name.")
    s3_uri: str
    size_bytes: int
    download_url: str = Field(description="A presigned HTTPS GET, valid until urls_expire_at.")
    console_url: str = Field(description="The object in the S3 console.")


class JobArtifacts(BaseModel):
    """A training job's model, output data and logs."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    job_name: str
    status: str | None = Field(default=None, description="As the run's history last saw it.")
    model: Artifact | None = Field(default=None, description="model.tar.gz; absent until the job uploads it.")
    output_data: Artifact | None = Field(
        default=None, description="output.tar.gz: what the container wrote to /opt/ml/output/data."
    )
    logs_url: str = Field(description="The CloudWatch Logs console, filtered to the job's log streams.")
    console_url: str = Field(description="The job in the SageMaker console.")


class RunArtifacts(BaseModel):
    """Everything a run produced that can be downloaded."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    run_id: str
    dataset: str | None = None
    urls_expire_at: datetime = Field(
        description="When the download URLs stop working (sooner if the signing credentials expire)."
    )
    jobs: list[JobArtifacts]
    manifests: list[Artifact]


class ArtifactService:
    """Lists a run's artifacts and signs a download link for each."""

    def __init__(
        self,
        runs: RunStore,
        store: ObjectStore,
        links: ObjectLinks,
        sagemaker: SageMakerLookup,
        now: Callable[[], datetime],
    ) -> None:
        self._runs = runs
        self._store = store
        self._links = links
        self._sagemaker = sagemaker
        self._now = now

    def run_artifacts(self, run_id: str) -> RunArtifacts:
        """The run's artifacts; RunNotFoundError for an unknown run."""
        record = self._runs.get_run(run_id)
        if record is None:
            raise RunNotFoundError(f"No run has the id {run_id!r}. GET /runs lists the runs.")
        expires_at = self._now() + timedelta(seconds=ARTIFACT_URL_SECONDS)
        jobs = [
            self._job(run_id, job.name, job.status)
            for job in sorted(record.jobs, key=lambda job: job.name)
            if job.kind is JobKind.TRAINING
        ]
        manifests = [
            self._artifact("manifest", stored)
            for name in _RUN_MANIFESTS
            for stored in self._exactly(run_key(run_id, name))
        ]
        for job in sorted(record.jobs, key=lambda job: job.name):
            if job.kind is JobKind.LABELING:
                key = run_key(run_id, f"labeling/{job.name}/manifests/output/output.manifest")
                manifests.extend(self._artifact("labeling_manifest", stored) for stored in self._exactly(key))
        return RunArtifacts(
            run_id=run_id,
            dataset=record.run.dataset,
            urls_expire_at=expires_at,
            jobs=jobs,
            manifests=manifests,
        )

    def _job(self, run_id: str, name: str, status: str) -> JobArtifacts:
        found: dict[str, Artifact] = {}
        prefix = run_key(run_id, f"training/{name}/output/")
        for stored in self._store.iter_objects(prefix):
            kind = _JOB_FILES.get(stored.key[len(prefix) :])
            if kind is not None:
                found[kind] = self._artifact(kind, stored)
        return JobArtifacts(
            job_name=name,
            status=status,
            model=found.get("model"),
            output_data=found.get("output_data"),
            logs_url=self._sagemaker.training_log_url(name),
            console_url=self._sagemaker.console_url(JobKind.TRAINING, name),
        )

    def _exactly(self, key: str) -> list[StoredObject]:
        """The object with exactly this key, if it exists (a listing matches longer keys too)."""
        return [stored for stored in self._store.iter_objects(key) if stored.key == key]

    def _artifact(self, kind: ArtifactKind, stored: StoredObject) -> Artifact:
        return Artifact(
            kind=kind,
            name=stored.key.rsplit("/", 1)[-1],
            s3_uri=self._store.uri(stored.key),
            size_bytes=stored.size,
            download_url=self._links.presigned_get(stored.key, ARTIFACT_URL_SECONDS),
            console_url=s3_console_url(self._links.region, self._store.bucket, stored.key),
        )
