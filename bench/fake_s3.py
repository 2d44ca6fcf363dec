"""The upload half of S3 for the benchmarks: uploads are counted, then dropped.

Each benchmark subclasses it with the reads it needs (generated list pages, a generated
manifest), so the figures measure sagechain's own work, not a store's.
"""

from typing import Any


class CountingUploads:
    """PutObject and multipart uploads that keep only byte and part counts."""

    def __init__(self) -> None:
        self.uploaded_bytes = 0
        self.parts = 0

    def put_object(self, Body: bytes, **request: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.uploaded_bytes += len(Body)
        return {}

    def create_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {"UploadId": "bench"}

    def upload_part(self, Body: bytes, PartNumber: int, **request: Any) -> dict[str, Any]:  # noqa: N803
        self.uploaded_bytes += len(Body)
        self.parts += 1
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {}
