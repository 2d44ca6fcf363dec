"""Dataset archives: checked entry by entry, then unpacked into datasets/<name>/ as a stream.

The archive is read through a seekable ranged view of the S3 object, never whole. Before
anything is written, every entry is checked: unsafe paths (absolute, '..', drive letters,
links) and zip bombs (entry count, total size, compression ratio) reject the archive.
"""

import stat
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from sagechain.errors import DatasetRejectedError
from sagechain.ingest.settings import ZipLimits
from sagechain.layout import SPEC_FILE, dataset_prefix
from sagechain.ports import ObjectStore

SPEC_MAX_BYTES = 1024 * 1024
# Ratios are only meaningful for entries big enough to hurt; tiny files compress wildly.
_RATIO_FLOOR_BYTES = 1024 * 1024
_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
_IGNORED_ROOTS = ("__MACOSX/",)


@dataclass
class ArchivePlan:
    """What an archive holds, after the safety checks."""

    root: str
    spec: zipfile.ZipInfo
    images: list[zipfile.ZipInfo]
    others: dict[str, zipfile.ZipInfo]
    skipped: Counter[str] = field(default_factory=Counter)


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "a '..' path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def _common_root(members: list[zipfile.ZipInfo]) -> str:
    """'name/' when every entry sits in one top folder holding dataset.json, else ''."""
    tops = {m.filename.split("/", 1)[0] for m in members if "/" in m.filename}
    files_at_top = any("/" not in m.filename for m in members)
    if len(tops) == 1 and not files_at_top:
        root = tops.pop() + "/"
        if any(m.filename == root + SPEC_FILE for m in members):
            return root
    return ""


def inspect_archive(archive: zipfile.ZipFile, archive_name: str, limits: ZipLimits) -> ArchivePlan:
    """The archive's layout; raises DatasetRejectedError for unsafe or oversized content."""
    members = archive.infolist()
    if len(members) > limits.max_entries:
        raise DatasetRejectedError(
            f"{archive_name} has {len(members)} entries; at most {limits.max_entries} are unpacked. "
            "Upload a larger dataset as a folder (datasets/<name>/images/) instead."
        )
    total = 0
    for info in members:
        reason = _unsafe_reason(info)
        if reason:
            raise DatasetRejectedError(
                f"{archive_name}: entry {info.filename!r} is {reason}; nothing was unpacked"
            )
        total += info.file_size
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise DatasetRejectedError(
                f"{archive_name}: entry {info.filename!r} expands {ratio}x "
                f"(limit {limits.max_ratio}x), which looks like a zip bomb; nothing was unpacked"
            )
    if total > limits.max_total_bytes:
        raise DatasetRejectedError(
            f"{archive_name} expands to {total} bytes (limit {limits.max_total_bytes}); nothing was unpacked"
        )
    files = [m for m in members if not m.is_dir() and not m.filename.startswith(_IGNORED_ROOTS)]
    root = _common_root(files)
    plan_spec: zipfile.ZipInfo | None = None
    images: list[zipfile.ZipInfo] = []
    others: dict[str, zipfile.ZipInfo] = {}
    skipped: Counter[str] = Counter()
    for info in members:
        if not info.is_dir() and info.filename.startswith(_IGNORED_ROOTS):
            skipped["ignored_folder"] += 1
    for info in files:
        relative = info.filename[len(root) :]
        if relative == SPEC_FILE:
            plan_spec = info
        elif relative.startswith("images/"):
            images.append(info)
        else:
            others[relative] = info
    if plan_spec is None:
        raise DatasetRejectedError(
            f"{archive_name} has no {SPEC_FILE} at its top level (or in one top folder)"
        )
    return ArchivePlan(root=root, spec=plan_spec, images=images, others=others, skipped=skipped)


def read_spec(archive: zipfile.ZipFile, plan: ArchivePlan, archive_name: str) -> bytes:
    """dataset.json's bytes, size-limited."""
    if plan.spec.file_size > SPEC_MAX_BYTES:
        raise DatasetRejectedError(f"{archive_name}: {SPEC_FILE} is larger than {SPEC_MAX_BYTES} bytes")
    return archive.read(plan.spec)


def _content_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _CONTENT_TYPES.get(suffix, "application/octet-stream")


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, store: ObjectStore, key: str) -> None:
    with archive.open(info) as source:
        stream: BinaryIO = source  # type: ignore[assignment]
        store.upload_stream(key, stream, _content_type(info.filename))


def unpack(
    archive: zipfile.ZipFile,
    plan: ArchivePlan,
    store: ObjectStore,
    dataset: str,
    extra_files: list[str],
) -> int:
    """Unpack images/ (and the named extra files) under datasets/<name>/; returns the count.

    dataset.json is not written back: it would start a second run.
    """
    prefix = dataset_prefix(dataset)
    for name in extra_files:
        info = plan.others.get(name)
        if info is None:
            raise DatasetRejectedError(f"labeling.labels_file {name!r} is not in the archive")
        _unpack(archive, info, store, prefix + name)
    for info in plan.images:
        _unpack(archive, info, store, prefix + info.filename[len(plan.root) :])
    return len(plan.images) + len(extra_files)
