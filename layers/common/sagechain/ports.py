"""What services need from the outside world, as protocols: adapters implement them, tests fake them."""

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple, Protocol

from sagechain.models.events import SagechainEvent


class StoredObject(NamedTuple):
    """One listed object: key as stored, size in bytes."""

    key: str
    size: int


class ObjectWriter(Protocol):
    """A streamed upload: nothing is visible until commit; abort leaves nothing behind."""

    def write(self, data: bytes) -> None:
        """Append bytes."""

    def commit(self) -> None:
        """Make the object visible."""

    def abort(self) -> None:
        """Discard everything written."""


class ObjectStore(Protocol):
    """The data bucket."""

    bucket: str

    def uri(self, key: str) -> str:
        """s3://bucket/key for a key as stored."""

    def read_bytes(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        """A whole small object (the given version, else the latest); ObjectNotFoundError or
        ObjectTooLargeError otherwise."""

    def exists(self, key: str) -> bool:
        """Whether the object exists."""

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under prefix, page by page, in key order."""

    def iter_lines(self, key: str) -> Iterator[bytes]:
        """An object's lines, streamed."""

    def open_writer(self, key: str, content_type: str) -> ObjectWriter:
        """A streamed upload to key."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """A small object in one request."""

    def open_random_access(self, key: str, version_id: str | None = None) -> BinaryIO:
        """A read-only, seekable view of an object that fetches ranges on demand."""

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str) -> None:
        """Copy a readable stream to key without holding it whole in memory."""


class EventPublisher(Protocol):
    """The event bus."""

    def publish(self, event: SagechainEvent) -> None:
        """Put one `sagechain` event on the bus."""


class EndpointAnswer(NamedTuple):
    """What a SageMaker endpoint answered: the body and its content type."""

    body: bytes
    content_type: str | None


class EndpointInvoker(Protocol):
    """SageMaker real-time endpoints (InvokeEndpoint)."""

    def invoke(
        self, endpoint: str, body: bytes, content_type: str, accept: str | None, timeout_seconds: float
    ) -> EndpointAnswer:
        """One invocation, answered within timeout_seconds; failures are sagechain.api.errors
        (ThrottledError and ModelUnavailableError are retryable)."""
