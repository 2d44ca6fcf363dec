"""S3: the data bucket as an ObjectStore, with streamed writes and ranged reads."""

import io
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import ClientError

from sagechain.adapters.clients import s3_client, s3_listing_client, s3_signing_client
from sagechain.errors import ObjectNotFoundError, ObjectTooLargeError
from sagechain.ports import ObjectPage, StoredObject

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, GetObjectRequestTypeDef

MIB = 1024 * 1024
# S3's minimum part is 5 MiB; 8 MiB parts keep a 512 MB function far from its limit.
PART_SIZE = 8 * MIB
READ_BLOCK = 8 * MIB
LINE_CHUNK = 64 * 1024
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


# A listing walks the folders directly under its prefix side by side: each page of a listing is a
# round trip of tens of milliseconds, so one after another a 10,000,000-key folder takes longer
# than a function may run. LIST_WORKERS folders are listed at once (the client's connection pool
# holds as many, clients.py), each at most PAGES_AHEAD pages ahead of the one being read: memory
# stays bounded (LIST_WORKERS x PAGES_AHEAD pages of 1,000 keys) whatever the folder's size.
# Reading a page (listing_parser.py) holds the GIL for as long as S3 takes to send one, give or
# take: with two workers the waits still showed (a 1,000,000-key folder at 30 ms a page took 92 s
# wall against 54 s with four, for the same 46 s of CPU), four hide them, more only contend for
# the GIL (bench/manifest_build.py --workers).
LIST_WORKERS = 4
PAGES_AHEAD = 16
_DONE = object()


@cache
def _transfer_config() -> "TransferConfig":
    """The managed upload's settings, made on first use: boto3.s3.transfer imports s3transfer's
    manager, which only the zip import's upload needs."""
    from boto3.s3.transfer import TransferConfig  # noqa: PLC0415  # see the docstring

    return TransferConfig(multipart_chunksize=PART_SIZE, max_concurrency=4)


def _get_request(
    bucket: str, key: str, version_id: str | None = None, byte_range: str | None = None
) -> "GetObjectRequestTypeDef":
    request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    if byte_range:
        request["Range"] = byte_range
    return request


def _is_not_found(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in _NOT_FOUND


class S3MultipartWriter:
    """Streams an object up in parts; only the current part is held in memory.

    A small object goes up in one PutObject on commit. Nothing is visible before commit,
    and abort removes the parts already uploaded.
    """

    def __init__(
        self,
        client: "S3Client",
        bucket: str,
        key: str,
        content_type: str,
        part_size: int = PART_SIZE,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_size = part_size
        self._buffer = bytearray()
        self._parts: list[CompletedPartTypeDef] = []
        self._upload_id: str | None = None
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        """Append bytes, uploading a part whenever a full one is buffered."""
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self._part_size:
            self._upload_part()

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        part = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        self._buffer.clear()

    def commit(self) -> None:
        """Make the object visible."""
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
            self._buffer.clear()
            return
        if self._buffer:
            self._upload_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        """Discard what was written; safe to call when nothing was uploaded."""
        self._buffer.clear()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None


class S3RangeReader(io.RawIOBase):
    """A seekable, read-only file over an S3 object, fetched one block-sized range at a time.

    zipfile reads the central directory at the end, then each member front to back, so a
    single cached block serves its many small reads without holding the archive in memory.
    """

    def __init__(
        self,
        client: "S3Client",
        bucket: str,
        key: str,
        size: int,
        version_id: str | None = None,
        block_size: int = READ_BLOCK,
    ) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._size = size
        self._version_id = version_id
        self._block_size = block_size
        self._block = b""
        self._block_start = 0
        self._pos = 0
        self.range_requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        block_end = self._block_start + len(self._block)
        if not self._block_start <= self._pos < block_end:
            self._fetch_block(self._pos)
            block_end = self._block_start + len(self._block)
        count = min(len(buffer), block_end - self._pos)
        offset = self._pos - self._block_start
        buffer[:count] = self._block[offset : offset + count]
        self._pos += count
        return count

    def _fetch_block(self, position: int) -> None:
        # Near the end, take the whole last block: the zip directory sits just before the
        # end record, so one request serves both.
        start = min(position, max(0, self._size - self._block_size))
        end = min(start + self._block_size, self._size) - 1
        request = _get_request(self._bucket, self._key, self._version_id, f"bytes={start}-{end}")
        response = self._client.get_object(**request)
        self._block = response["Body"].read()
        self._block_start = start
        self.range_requests += 1


class S3ObjectStore:
    """The data bucket, as the services see it."""

    def __init__(
        self,
        bucket: str,
        client: "S3Client | None" = None,
        factory: Callable[[], "S3Client"] = s3_client,
        listing_client: "S3Client | None" = None,
    ) -> None:
        """client: for every call but listing; listing_client: for ListObjectsV2 (client when only
        it is given, else s3_listing_client(), created at the first listing). Clients (given, or
        the factory's) are made on first use, not at cold start."""
        self._given = client
        self._factory = factory
        self._listing_client = listing_client or client
        self.bucket = bucket

    @property
    def _client(self) -> "S3Client":
        return self._given or self._factory()

    def uri(self, key: str) -> str:
        """s3://bucket/key for a key as stored."""
        return f"s3://{self.bucket}/{key}"

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        """A whole small object: the given version, else the latest."""
        try:
            response = self._client.get_object(**_get_request(self.bucket, key, version_id))
        except ClientError as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        size = response["ContentLength"]
        if size > max_bytes:
            response["Body"].close()
            raise ObjectTooLargeError(key, size, max_bytes)
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _is_not_found(err):
                return False
            raise
        return True

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under prefix, in key order, listed a page of 1,000 at a time."""
        for page in self.iter_object_pages(prefix):
            yield from map(StoredObject, page.keys, page.sizes)

    def iter_object_pages(self, prefix: str) -> Iterator[ObjectPage]:
        """Every object under prefix in key order, as one listing of the prefix gives them, a page at
        a time; the folders directly under prefix are listed side by side (LIST_WORKERS).

        One listing with Delimiter "/" gives the objects directly under prefix and its folders
        (CommonPrefixes), both in key order, and a folder's keys are contiguous in a listing of
        the whole prefix: handing over the direct objects and each folder's pages in that order
        is the whole listing's order (ListObjectsV2,
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html: "objects are
        returned sorted in an ascending order of the respective key names")."""
        if self._listing_client is None:
            self._listing_client = s3_listing_client()
        listing = _ParallelListing(self._listing_client, self.bucket)
        try:
            yield from listing.pages(prefix)
        finally:
            listing.close()

    def iter_lines(self, key: str) -> Iterator[bytes]:
        """An object's lines, streamed in 64 KiB chunks."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        yield from response["Body"].iter_lines(chunk_size=LINE_CHUNK)

    def open_writer(self, key: str, content_type: str) -> S3MultipartWriter:
        """A streamed upload to key."""
        return S3MultipartWriter(self._client, self.bucket, key, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """A small object in one request."""
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def open_random_access(self, key: str, version_id: str | None = None) -> BinaryIO:
        """A seekable view of the object (that version, else the latest) that reads ranges on demand."""
        try:
            head = self._client.head_object(**_get_request(self.bucket, key, version_id))
        except ClientError as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        reader = S3RangeReader(self._client, self.bucket, key, head["ContentLength"], version_id)
        return io.BufferedReader(reader, buffer_size=64 * 1024)

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str) -> None:
        """Copy a stream to key in 8 MiB parts."""
        self._client.upload_fileobj(
            stream, self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=_transfer_config()
        )

    def copy(self, source_key: str, key: str) -> None:
        """CopyObject within the bucket (objects up to 5 GB: larger images are not images we train on)."""
        try:
            self._client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source_key}
            )
        except ClientError as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(source_key) from err
            raise

    def put_bytes_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        """A small object, written only if the key is free (If-None-Match: *); whether it was."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*"
            )
        except ClientError as err:
            # 412 PreconditionFailed: the key exists. A 409 ConditionalRequestConflict (a
            # concurrent write to the key) is re-raised: the retry will find the winner's object.
            if err.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        """Delete an object (a delete marker where the bucket keeps versions); gone is fine."""
        self._client.delete_object(Bucket=self.bucket, Key=key)


def _page(contents: list[Any]) -> ObjectPage:
    return ObjectPage([item["Key"] for item in contents], [item["Size"] for item in contents])


class _Folder:
    """One folder listed by a worker: its pages in order, at most PAGES_AHEAD waiting."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.pages: queue.Queue[Any] = queue.Queue(maxsize=PAGES_AHEAD)


class _ParallelListing:
    """ListObjectsV2 over a prefix, its folders listed side by side and handed over in key order."""

    def __init__(self, client: "S3Client", bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self._stopped = threading.Event()
        self._workers: ThreadPoolExecutor | None = None

    def pages(self, prefix: str) -> Iterator[ObjectPage]:
        """The listing's pages in key order (see S3ObjectStore.iter_object_pages)."""
        # What comes next, in key order: pages of direct objects, and folders being listed.
        ahead: deque[ObjectPage | _Folder] = deque()
        entries = self._top_level(prefix)
        listing = 0  # folders started and not yet handed over
        exhausted = False
        while True:
            while not exhausted and listing < LIST_WORKERS and len(ahead) < PAGES_AHEAD + LIST_WORKERS:
                entry = next(entries, None)
                if entry is None:
                    exhausted = True
                elif isinstance(entry, str):
                    ahead.append(self._start(entry))
                    listing += 1
                else:
                    ahead.append(entry)
            if not ahead:
                return
            head = ahead.popleft()
            if isinstance(head, _Folder):
                listing -= 1
                yield from self._drain(head)
            else:
                yield head

    def _top_level(self, prefix: str) -> Iterator[ObjectPage | str]:
        """The objects directly under prefix (pages) and its folders (their prefixes), merged in
        key order: each page holds both kinds, each sorted."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            contents = page.get("Contents", [])
            folders = [common["Prefix"] for common in page.get("CommonPrefixes", [])]
            if not folders:
                if contents:
                    yield _page(contents)
                continue
            run: list[Any] = []
            index = 0
            for folder in folders:
                while index < len(contents) and contents[index]["Key"] < folder:
                    run.append(contents[index])
                    index += 1
                if run:
                    yield _page(run)
                    run = []
                yield folder
            if index < len(contents):
                yield _page(contents[index:])

    def _start(self, prefix: str) -> _Folder:
        if self._workers is None:
            self._workers = ThreadPoolExecutor(max_workers=LIST_WORKERS, thread_name_prefix="list")
        folder = _Folder(prefix)
        self._workers.submit(self._list, folder)
        return folder

    def _list(self, folder: _Folder) -> None:
        """A worker: the folder's pages into its queue, then _DONE (or the error that stopped it)."""
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder.prefix):
                if not self._put(folder, _page(page.get("Contents", []))):
                    return
        except Exception as err:  # handed to the reader, which raises it
            self._put(folder, err)
            return
        self._put(folder, _DONE)

    def _put(self, folder: _Folder, item: object) -> bool:
        """Queue an item, waiting for room; False once the reader has stopped."""
        while not self._stopped.is_set():
            try:
                folder.pages.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    @staticmethod
    def _drain(folder: _Folder) -> Iterator[ObjectPage]:
        while True:
            item = folder.pages.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            if item.keys:
                yield item

    def close(self) -> None:
        """Stop the workers (the reader is done, or failed)."""
        self._stopped.set()
        if self._workers is not None:
            self._workers.shutdown(wait=True, cancel_futures=True)


class S3Links:
    """Presigned GETs of the data bucket's objects, downloaded as attachments under their names."""

    def __init__(self, bucket: str, client: "S3Client | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start
        self.bucket = bucket
        self.region = self._client.meta.region_name

    @property
    def _client(self) -> "S3Client":
        return self._given or s3_signing_client()

    def presigned_get(self, key: str, expires_in: int) -> str:
        """An HTTPS URL that GETs the object until it expires (no AWS call is made)."""
        name = key.rsplit("/", 1)[-1].replace('"', "")
        return self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{name}"',
            },
            ExpiresIn=expires_in,
        )
