"""Ground Truth offline: CreateLabelingJob, which moto lacks, answered in-process.

botocore validates every request against SageMaker's API model before this emulator sees
it (`before-call` runs after parameter validation), so a request the real API would refuse
fails here too. Jobs are kept by name, and a second job of the same name (names are not
case sensitive) is answered with ResourceInUse, as SageMaker answers it.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

Answer = tuple[AWSResponse, dict[str, Any]]


def _answer(status: int, body: dict[str, Any]) -> Answer:
    parsed = {**body, "ResponseMetadata": {"HTTPStatusCode": status}}
    return AWSResponse("https://sagemaker.local/", status, {}, None), parsed


@dataclass
class GroundTruthEmulator:
    """The labeling jobs created offline, by name, each with the request that created it."""

    region: str
    account: str
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def install(self) -> "GroundTruthEmulator":
        """Answer CreateLabelingJob for every client made from boto3's default session from now on.

        Inside moto's mock_aws the default session is moto's own, so the emulator ends with it.
        """
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session: boto3.Session = boto3.DEFAULT_SESSION  # type: ignore[assignment]
        session.events.register("before-call.sagemaker.CreateLabelingJob", self._create_labeling_job)
        return self

    def _create_labeling_job(self, params: dict[str, Any], **_: Any) -> Answer:
        request: dict[str, Any] = json.loads(params["body"])
        name = request["LabelingJobName"]
        if name.lower() in (existing.lower() for existing in self.jobs):
            return _answer(
                400, {"Error": {"Code": "ResourceInUse", "Message": f"Job {name} already exists."}}
            )
        self.jobs[name] = request
        arn = f"arn:aws:sagemaker:{self.region}:{self.account}:labeling-job/{name.lower()}"
        return _answer(200, {"LabelingJobArn": arn})
