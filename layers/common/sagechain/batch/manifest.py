"""The transform job's input: a SageMaker manifest of the batch's images, written as it is listed.

ManifestFile form (API_S3DataSource: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html):
    [{"prefix": "s3://bucket/batches/<model>/<name>/images/"}, "a.jpg", "b/c.png", ...]
Each listed object is one request (SplitType None: an image cannot be split on lines or records,
API_TransformInput.html) and its answer lands at <S3OutputPath>/<relative key>.out.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sagechain.errors import BatchRejectedError
from sagechain.layout import IMAGE_SUFFIXES
from sagechain.ports import ObjectWriter, StoredObject

# Built-in image classification reads application/x-image (either format) as well as image/jpeg and
# image/png (https://docs.aws.amazon.com/sagemaker/latest/dg/image-classification.html, "Inference
# with the Image Format Algorithm"); object detection reads image/jpeg and image/png only
# (https://docs.aws.amazon.com/sagemaker/latest/dg/object-detection-in-formats.html). A transform
# job has one ContentType for every object, so an object detection batch is one format.
_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
ANY_IMAGE = "application/x-image"
SKIPPED_REASON = "not an image (.jpg, .jpeg, .png)"
# The transform job's MaxPayloadInMB: the built-in algorithms read requests of at most 6 MB.
MAX_IMAGE_MB = 6
TOO_LARGE_REASON = f"larger than {MAX_IMAGE_MB} MB"


def image_content_type(key: str) -> str | None:
    """image/jpeg or image/png by the key's suffix; None for anything else."""
    dot = key.rfind(".")
    return _TYPES.get(key[dot:].lower()) if dot >= 0 else None


@dataclass
class TransformManifestStats:
    """What the manifest holds and what was left out."""

    images: int = 0
    content_types: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def content_type(self, task: str) -> str:
        """The transform job's ContentType for these images and the model's task."""
        if task != "object-detection":
            return ANY_IMAGE
        if len(self.content_types) > 1:
            counts = ", ".join(f"{count} {kind}" for kind, count in sorted(self.content_types.items()))
            raise BatchRejectedError(
                f"an object detection batch is one image format, this one has {counts}: "
                "upload the JPEG and PNG images as two batches",
                skipped=dict(self.skipped),
            )
        return next(iter(self.content_types), "image/jpeg")


def batch_images(listed: Iterable[StoredObject], prefix: str, stats: TransformManifestStats) -> Iterator[str]:
    """The image keys under prefix, relative to it; counts what is skipped and why."""
    for item in listed:
        relative = item.key[len(prefix) :]
        if not relative or relative.endswith("/"):
            continue
        kind = image_content_type(relative)
        if kind is None:
            stats.skipped[SKIPPED_REASON] += 1
            continue
        if item.size == 0 or item.size > MAX_IMAGE_MB * 1024 * 1024:
            stats.skipped["empty file" if item.size == 0 else TOO_LARGE_REASON] += 1
            continue
        stats.images += 1
        stats.content_types[kind] += 1
        yield relative


def write_transform_manifest(
    listed: Iterable[StoredObject], prefix: str, prefix_uri: str, writer: ObjectWriter, task: str
) -> TransformManifestStats:
    """Streams the manifest of the images under prefix into writer (one key in memory at a time);
    a batch without images, or with images the task's model cannot read in one job, is rejected
    and the writer aborted."""
    stats = TransformManifestStats()
    writer.write(b'[{"prefix": ' + json.dumps(prefix_uri).encode() + b"}")
    for relative in batch_images(listed, prefix, stats):
        writer.write(b",\n" + json.dumps(relative, ensure_ascii=False).encode())
    if not stats.images:
        writer.abort()
        skipped = sum(stats.skipped.values())
        raise BatchRejectedError(
            f"no images under {prefix}"
            + (f" ({skipped} other files skipped)" if skipped else "")
            + f": upload {', '.join(IMAGE_SUFFIXES)} files there, then batch.json again",
            skipped=dict(stats.skipped),
        )
    try:
        stats.content_type(task)
    except BatchRejectedError:
        writer.abort()
        raise
    writer.write(b"]\n")
    writer.commit()
    return stats


def manifest_images(lines: Iterable[bytes]) -> Iterator[str]:
    """The relative keys of a manifest write_transform_manifest wrote (one entry a line), streamed."""
    # Lines: [{"prefix": ...},   "a.jpg",   ...   "z.png"]  -- each entry a JSON string.
    for number, line in enumerate(lines):
        entry = line.strip().removesuffix(b"]").removesuffix(b",")
        if number == 0 or not entry:
            continue  # the {"prefix": ...} line
        yield str(json.loads(entry))
