"""The S3 adapter's streaming pieces against moto: multipart writes and ranged reads."""

import io
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sagechain.adapters.s3 import S3MultipartWriter, S3ObjectStore, S3RangeReader
from sagechain.errors import ObjectNotFoundError
from tests.aws import BUCKET, create_stack_resources

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        create_stack_resources()
        yield boto3.client("s3")


def test_multipart_writer_uploads_parts_and_the_object_reads_back_whole(s3: object) -> None:
    client = boto3.client("s3")
    writer = S3MultipartWriter(
        client, BUCKET, "runs/r/big.manifest", "application/x-ndjson", part_size=5 * MIB
    )
    line = b"x" * 1023 + b"\n"
    for _ in range(12 * 1024):  # 12 MiB: two full parts and a short last one
        writer.write(line)

    writer.commit()

    body = client.get_object(Bucket=BUCKET, Key="runs/r/big.manifest")["Body"].read()
    assert body == line * 12 * 1024


def test_aborted_writer_leaves_no_object_and_no_pending_upload(s3: object) -> None:
    client = boto3.client("s3")
    writer = S3MultipartWriter(client, BUCKET, "runs/r/x.manifest", "application/x-ndjson", part_size=5 * MIB)
    writer.write(b"y" * 6 * MIB)

    writer.abort()

    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix="runs/")
    assert "Uploads" not in client.list_multipart_uploads(Bucket=BUCKET)


def test_range_reader_lets_zipfile_read_a_member_without_fetching_the_archive_whole(s3: object) -> None:
    client = boto3.client("s3")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(40):
            archive.writestr(f"images/{i}.png", bytes([i]) * 100_000)
    client.put_object(Bucket=BUCKET, Key="datasets/x.zip", Body=buffer.getvalue())
    size = len(buffer.getvalue())
    reader = S3RangeReader(client, BUCKET, "datasets/x.zip", size, block_size=256 * 1024)

    with zipfile.ZipFile(reader) as archive:
        assert archive.read("images/0.png") == bytes([0]) * 100_000

    assert reader.range_requests == 2  # the directory at the end, then the member: not 4 MB


def test_store_reports_missing_objects_as_not_found(s3: object) -> None:
    store = S3ObjectStore(BUCKET, boto3.client("s3"))

    assert store.exists("datasets/nope.json") is False
    with pytest.raises(ObjectNotFoundError):
        store.read_bytes("datasets/nope.json", 10)


def test_copy_duplicates_an_object_within_the_bucket_and_a_missing_source_is_not_found(s3: object) -> None:
    client = boto3.client("s3")
    client.put_object(Bucket=BUCKET, Key="datasets/d/images/rose/0.png", Body=b"png bytes")
    store = S3ObjectStore(BUCKET, client)

    store.copy("datasets/d/images/rose/0.png", "runs/r/channels/train/rose/0.png")

    assert (
        client.get_object(Bucket=BUCKET, Key="runs/r/channels/train/rose/0.png")["Body"].read()
        == b"png bytes"
    )
    with pytest.raises(ObjectNotFoundError):
        store.copy("datasets/d/images/gone.png", "runs/r/channels/train/gone.png")
