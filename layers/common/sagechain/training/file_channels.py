"""training.channels' files channels: the split's images copied where the container reads them.

A channel `train` or `validation` with source "files" gets the images its split manifest lists,
copied server-side (CopyObject) to runs/<run_id>/channels/<channel>/, so one S3Prefix channel
serves File mode (downloaded to /opt/ml/input/data/<channel>/) and FastFile mode (mounted there)
alike. The layouts (docs/container.md):

- class-folders: <channel>/<label>/<file>, single-label image classification;
- labels-file:   <channel>/<file> plus <channel>/labels.jsonl, each line the split manifest's line
  with "source-ref" replaced by "file" (the image's name in the channel).

<file> is the image's name prefixed by 8 hex digits of its key's SHA-256, so images of the same
name in different folders stay apart and a repeated delivery writes the same keys (idempotent).
Only images of this run's dataset (datasets/<name>/) in the data bucket are copied; a manifest
that names anything else is refused before any copy.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sagechain.errors import ObjectNotFoundError, TrainingNotStartedError
from sagechain.layout import MANIFEST_CONTENT_TYPE, dataset_prefix, run_key
from sagechain.ports import ObjectStore
from sagechain.spec import ChannelSource, DatasetSpec, FilesLayout

LABELS_FILE = "labels.jsonl"


def channel_prefix(run_id: str, channel: str) -> str:
    """runs/<run_id>/channels/<channel>/"""
    return run_key(run_id, f"channels/{channel}/")


def channel_file_name(key: str) -> str:
    """The image's name in a files channel: <8 hex of sha256(key)>-<basename>."""
    return f"{sha256(key.encode()).hexdigest()[:8]}-{key.rsplit('/', 1)[-1]}"


@dataclass(frozen=True)
class _Image:
    key: str
    line: dict[str, Any]


def _images(store: ObjectStore, manifest_key: str, dataset: str) -> Iterator[_Image]:
    own = f"s3://{store.bucket}/{dataset_prefix(dataset)}"
    for raw in store.iter_lines(manifest_key):
        line = json.loads(raw)
        source = str(line.get("source-ref", ""))
        if not source.startswith(own):
            raise TrainingNotStartedError(
                f"{store.uri(manifest_key)} lists {source}, outside this dataset ({own}); files channels "
                "copy only the dataset's own images. Keep the images under the dataset's folder."
            )
        yield _Image(source[len(f"s3://{store.bucket}/") :], line)


def _class_name(line: dict[str, Any], attribute: str, labels: list[str]) -> str:
    metadata = line.get(f"{attribute}-metadata", {})
    if isinstance(metadata, dict) and isinstance(metadata.get("class-name"), str):
        return str(metadata["class-name"])
    return labels[int(line[attribute])]


def write_files_channels(
    store: ObjectStore,
    spec: DatasetSpec,
    run_id: str,
    dataset: str,
    manifests: dict[str, str],
    attribute: str,
) -> dict[str, str]:
    """Copy each files channel's split into place; channel -> its s3:// prefix."""
    uris: dict[str, str] = {}
    for name, channel in sorted(spec.training.channels.items()):
        if channel.source != ChannelSource.FILES:
            continue
        prefix = channel_prefix(run_id, name)
        # Streamed, like the split manifests: a labels file is as long as the split.
        labels = (
            store.open_writer(f"{prefix}{LABELS_FILE}", MANIFEST_CONTENT_TYPE)
            if channel.layout == FilesLayout.LABELS_FILE
            else None
        )
        try:
            for image in _images(store, manifests[name], dataset):
                file = channel_file_name(image.key)
                if labels is None:
                    store.copy(image.key, f"{prefix}{_class_name(image.line, attribute, spec.labels)}/{file}")
                    continue
                store.copy(image.key, f"{prefix}{file}")
                entry = {"file": file, **{k: v for k, v in image.line.items() if k != "source-ref"}}
                labels.write(json.dumps(entry, sort_keys=True).encode() + b"\n")
        except ObjectNotFoundError as err:
            if labels is not None:
                labels.abort()
            raise TrainingNotStartedError(
                f"{store.uri(err.key)} is listed for channel {name} but is gone: upload the dataset again."
            ) from None
        except BaseException:
            if labels is not None:
                labels.abort()
            raise
        if labels is not None:
            labels.commit()
        uris[name] = store.uri(prefix)
    return uris


def dataset_folder_uris(store: ObjectStore, spec: DatasetSpec, dataset: str) -> dict[str, str]:
    """Each dataset-folder channel's s3:// prefix (TrainingNotStartedError for another dataset's folder)."""
    foreign = spec.foreign_channel_folders(dataset)
    if foreign:
        raise TrainingNotStartedError(f"{'; '.join(foreign)}: a channel reads only this dataset's folders.")
    return {
        name: store.uri(str(channel.source))
        for name, channel in spec.training.channels.items()
        if channel.source not in (ChannelSource.MANIFEST, ChannelSource.FILES)
    }
