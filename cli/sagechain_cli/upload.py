"""Upload a checked dataset: images in parallel with progress, resumable, dataset.json last.

An object already in the bucket with the same size and MD5 (a single-part object's ETag under
the bucket's SSE-S3, or the `md5` metadata this command writes) is skipped, so running the same
upload again after an interruption sends only what is missing (one listing per 1,000 objects
finds what is there). dataset.json goes last and alone: its arrival seals
the dataset and starts the run, whose id is derived from its version as the stack derives it
(sagechain.names.run_id).
"""

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sagechain import names
from sagechain_cli.dataset import DatasetPlan, LocalFile
from sagechain_cli.errors import FAILED, REFUSED, CliError

CHUNK = 1024 * 1024


@dataclass
class UploadResult:
    """What an upload did and the run it started."""

    run_id: str
    uploaded: int
    already_there: int
    uploaded_bytes: int
    seconds: float


def _md5(path: LocalFile) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _listed(s3: Any, bucket: str, prefix: str) -> dict[str, tuple[int, str]] | None:
    """key -> (size, ETag) of what is already under the dataset's prefix, one page per 1,000
    objects instead of one HEAD per file; None when listing is not allowed (HEAD each file)."""
    found: dict[str, tuple[int, str]] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
            return None
        raise
    return found


def _already_there(
    s3: Any, bucket: str, file: LocalFile, md5: str, listed: dict[str, tuple[int, str]] | None
) -> bool:
    if listed is not None:
        size, etag = listed.get(file.key, (-1, ""))
        if size != file.size:
            return False
        # The bucket encrypts with SSE-S3: a single-part object's ETag is its MD5. A multipart
        # one's is not (aws s3 cp splits large files): its `md5` metadata, if this CLI wrote it.
        if etag == md5:
            return True
    try:
        head = s3.head_object(Bucket=bucket, Key=file.key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    if int(head.get("ContentLength", -1)) != file.size:
        return False
    return bool(head.get("Metadata", {}).get("md5") == md5 or head.get("ETag", "").strip('"') == md5)


def _put(s3: Any, bucket: str, file: LocalFile, md5: str) -> dict[str, Any]:
    with file.path.open("rb") as body:
        answer: dict[str, Any] = s3.put_object(Bucket=bucket, Key=file.key, Body=body, Metadata={"md5": md5})
    return answer


def upload_dataset(
    s3: Any,
    bucket: str,
    plan: DatasetPlan,
    jobs: int,
    on_file: Callable[[LocalFile, bool], None],
) -> UploadResult:
    """Send the plan's files (on_file(file, skipped) after each), then dataset.json; the run id."""
    started = time.perf_counter()
    uploaded = already = sent = 0

    try:
        listed = _listed(s3, bucket, plan.spec_file.key.rsplit("/", 1)[0] + "/")
    except ClientError as err:
        raise CliError(f"S3 refused to list s3://{bucket}: {err}", FAILED) from None

    def send(file: LocalFile) -> bool:
        md5 = _md5(file)
        if _already_there(s3, bucket, file, md5, listed):
            return False
        _put(s3, bucket, file, md5)
        return True

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(send, file): file for file in plan.files}
            for future in as_completed(futures):
                file = futures[future]
                if future.result():
                    uploaded += 1
                    sent += file.size
                    on_file(file, False)
                else:
                    already += 1
                    on_file(file, True)
        # Last, once every image is there: this object starts the run.
        answer = _put(s3, bucket, plan.spec_file, _md5(plan.spec_file))
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code", "")
        exit_code = REFUSED if code in ("AccessDenied", "403") else FAILED
        raise CliError(
            f"S3 refused the upload to s3://{bucket}: {code}: {error.get('Message', '')}. Nothing is "
            "lost: run the same upload again to send what is missing",
            exit_code,
        ) from None
    sent += plan.spec_file.size
    on_file(plan.spec_file, False)
    version = answer.get("VersionId") or str(answer.get("ETag", "")).strip('"') or None
    run = names.run_id(plan.name, bucket, plan.spec_file.key, version)
    return UploadResult(run, uploaded + 1, already, sent, time.perf_counter() - started)
