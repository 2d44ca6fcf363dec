"""Which uploads start a run, and which listed objects are a dataset's images."""

import posixpath
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sagechain import names
from sagechain.event_sources.s3 import ObjectRef
from sagechain.layout import IMAGE_SUFFIXES, uploaded_dataset
from sagechain.ports import ObjectPage, StoredObject


class DatasetUpload(BaseModel):
    """An upload that starts a run: a folder's dataset.json or a dataset zip."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    dataset: str
    kind: Literal["folder", "zip"]
    source: ObjectRef
    run_id: str


def dataset_upload(ref: ObjectRef) -> DatasetUpload | None:
    """The run an object starts, or None when the key is not datasets/<name>/dataset.json
    or datasets/<name>.zip (the rule's wildcards also match deeper keys)."""
    sealed = uploaded_dataset(ref.key)
    if sealed is None:
        return None
    dataset, kind = sealed
    return DatasetUpload(
        dataset=dataset,
        kind=kind,
        source=ref,
        run_id=names.run_id(dataset, ref.bucket, ref.key, ref.version),
    )


def skip_reason(obj: StoredObject) -> str | None:
    """Why a listed object is not an image of the dataset, or None when it is one."""
    if obj.key.endswith("/"):
        return "folder_marker"
    base = posixpath.basename(obj.key)
    if base.startswith("."):
        return "hidden_file"
    if not base.lower().endswith(IMAGE_SUFFIXES):
        return "not_an_image"
    if obj.size == 0:
        return "empty_file"
    return None


def page_images(page: ObjectPage, skipped: Counter[str]) -> list[str]:
    """The keys of a listed page that are the dataset's images (what skip_reason keeps), in order;
    the others counted in skipped by reason."""
    keys, sizes = page.keys, page.sizes
    # An image: a name ending in an image suffix (never "/"), not hidden, not empty.
    images = [
        key
        for key, size in zip(keys, sizes, strict=True)
        if size and key.lower().endswith(IMAGE_SUFFIXES) and key.rpartition("/")[2][:1] != "."
    ]
    if len(images) < len(keys):
        reasons = [skip_reason(StoredObject(key, size)) for key, size in zip(keys, sizes, strict=True)]
        skipped.update(reason for reason in reasons if reason)
    return images
