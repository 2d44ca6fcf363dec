"""Dataset archives: checked entry by entry, then unpacked into datasets/<name>/ as a stream.

The archive is read through a seekable ranged view of the S3 object, never whole. Before
zipfile parses the central directory, its end records and record count are checked (the
parsed directory is held in memory). Before anything is written, every entry is checked:
unsafe paths (absolute, '..', drive letters, links), a name held twice, entries that share
bytes and zip bombs (total size, compression ratio) reject the archive. Only images are
unpacked from images/.
"""

import io
import itertools
import stat
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from sagechain.errors import DatasetRejectedError
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import skip_reason
from sagechain.layout import SPEC_FILE, dataset_prefix
from sagechain.ports import ObjectStore, StoredObject

SPEC_MAX_BYTES = 1024 * 1024
# A ratio says little about one tiny entry (a 4 KiB text file can deflate 100x, and zip's
# own headers outweigh it), so an entry is held to the ratio from 64 KiB up. The archive
# as a whole is held to it at every size, or many entries under any floor add up (entries
# of exactly 1 MiB once got through, 1,015x). Together they bound what one invocation
# writes to the ratio times the archive's size.
_RATIO_FLOOR_BYTES = 64 * 1024
_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
_IGNORED_ROOTS = ("__MACOSX/",)

# The zip format's records (PKWARE APPNOTE 4.3), as zipfile reads them.
_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_SIGNATURE = b"PK\x06\x06"
_DIRECTORY_RECORD = struct.Struct("<4s4B4HL2L5H2L")
_DIRECTORY_SIGNATURE = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
_LOCAL_HEADER_BYTES = 30
# zipfile reads the whole directory into memory, then keeps each entry's name and extra
# fields: its size is capped as well as its count. 320 bytes a record on average is a
# 46-byte header, a 250-byte path and the usual extra fields; 200,000 entries allow 61 MiB.
_DIRECTORY_BYTES_PER_ENTRY = 320


@dataclass
class ArchivePlan:
    """What an archive holds, after the safety checks."""

    root: str
    spec: zipfile.ZipInfo
    images: list[zipfile.ZipInfo]
    others: dict[str, zipfile.ZipInfo]
    skipped: Counter[str] = field(default_factory=Counter)


def _too_many_entries(archive_name: str, entries: str, limit: int) -> DatasetRejectedError:
    return DatasetRejectedError(
        f"{archive_name} has {entries} entries; at most {limit} are unpacked. "
        "Upload a larger dataset as a folder (datasets/<name>/images/) instead."
    )


@dataclass(frozen=True)
class _Directory:
    """Where the central directory is, and how many entries the end record declares."""

    start: int
    size: int
    declared_entries: int


def _find_directory(source: BinaryIO) -> _Directory:
    """The central directory, found the way zipfile finds it, so both see the same one."""
    archive_size = source.seek(0, io.SEEK_END)
    tail_start = max(archive_size - _MAX_COMMENT - _END.size, 0)
    source.seek(tail_start)
    tail = source.read()
    # zipfile takes an end record with no comment at the very end first, else the last one.
    at = len(tail) - _END.size
    if at < 0 or tail[at : at + 4] != _END_SIGNATURE or tail[-2:] != b"\0\0":
        at = tail.rfind(_END_SIGNATURE)
        if at < 0 or len(tail) - at < _END.size:
            raise zipfile.BadZipFile("File is not a zip file")
    end_at = tail_start + at
    _, _, _, _, entries, size, offset, _ = _END.unpack_from(tail, at)
    zip64 = False
    if end_at >= _END64_LOCATOR.size + _END64.size:
        source.seek(end_at - _END64_LOCATOR.size)
        signature, disk, _, disks = _END64_LOCATOR.unpack(source.read(_END64_LOCATOR.size))
        if signature == _END64_LOCATOR_SIGNATURE:
            if disk != 0 or disks > 1:
                raise zipfile.BadZipFile("zipfiles that span multiple disks are not supported")
            source.seek(end_at - _END64_LOCATOR.size - _END64.size)
            record = _END64.unpack(source.read(_END64.size))
            if record[0] == _END64_SIGNATURE:
                entries, size, offset = record[7], record[8], record[9]
                zip64 = True
    # Bytes before the archive (a self-extractor's stub) shift every offset, as in zipfile.
    prefix = end_at - size - offset - (_END64_LOCATOR.size + _END64.size if zip64 else 0)
    start = offset + prefix
    if start < 0:
        raise zipfile.BadZipFile("Bad offset for central directory")
    return _Directory(start=start, size=size, declared_entries=entries)


def check_directory(source: BinaryIO, archive_name: str, limits: ZipLimits) -> None:
    """Reject an archive whose directory is too large to parse, before zipfile parses it."""
    directory = _find_directory(source)
    if directory.declared_entries > limits.max_entries:
        raise _too_many_entries(archive_name, str(directory.declared_entries), limits.max_entries)
    max_bytes = limits.max_entries * _DIRECTORY_BYTES_PER_ENTRY
    if directory.size > max_bytes:
        raise DatasetRejectedError(
            f"{archive_name}'s list of entries (its central directory) is {directory.size} bytes; "
            f"at most {max_bytes} are read. Use shorter paths inside the archive, or upload the "
            "dataset as a folder (datasets/<name>/images/)."
        )
    # zipfile walks the directory's bytes and ignores the declared count (old tools write it
    # modulo 65,536; a hostile one understates it), so the records are counted the same way.
    walked, records = 0, 0
    source.seek(directory.start)
    while walked < directory.size:
        header = source.read(_DIRECTORY_RECORD.size)
        if len(header) != _DIRECTORY_RECORD.size or header[:4] != _DIRECTORY_SIGNATURE:
            raise zipfile.BadZipFile("Bad magic number for central directory")
        name, extra, comment = struct.unpack_from("<3H", header, 28)
        source.seek(name + extra + comment, io.SEEK_CUR)
        walked += _DIRECTORY_RECORD.size + name + extra + comment
        records += 1
        if records > limits.max_entries:
            raise _too_many_entries(archive_name, f"more than {limits.max_entries}", limits.max_entries)


def open_archive(source: BinaryIO, archive_name: str, limits: ZipLimits) -> zipfile.ZipFile:
    """The archive, opened once its directory is known to fit the limits."""
    check_directory(source, archive_name, limits)
    return zipfile.ZipFile(source)


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


def _duplicate_name(members: list[zipfile.ZipInfo]) -> str | None:
    """A name that more than one entry has (zipfile keeps the last silently)."""
    seen: set[str] = set()
    for info in members:
        if info.filename in seen:
            return info.filename
        seen.add(info.filename)
    return None


def _local_end(info: zipfile.ZipInfo) -> int:
    """Where an entry's bytes end at the least: its local header, its name, then its data.

    The local header's extra field and a data descriptor would only add to it, so an overlap
    found with this bound is real.
    """
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return (
        info.header_offset
        + _LOCAL_HEADER_BYTES
        + len(info.orig_filename.encode(encoding))
        + info.compress_size
    )


def _overlap(members: list[zipfile.ZipInfo], directory_start: int) -> tuple[str, str] | None:
    """Two entries whose bytes overlap (the overlap zip bomb reads the same bytes many times)."""
    ordered = sorted(members, key=lambda info: info.header_offset)
    for info, following in itertools.pairwise(ordered):
        if _local_end(info) > following.header_offset:
            return info.filename, repr(following.filename)
    if ordered and _local_end(ordered[-1]) > directory_start:
        return ordered[-1].filename, "the archive's directory"
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


# What Python's zipfile decompresses: stored, deflate, bzip2, LZMA (zipfile module docs).
_READABLE_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def _check_entries(
    members: list[zipfile.ZipInfo], directory_start: int, archive_name: str, limits: ZipLimits
) -> None:
    """Reject unsafe paths, duplicate names, overlapping entries and zip bombs."""
    if len(members) > limits.max_entries:  # open_archive counted them already, before parsing
        raise _too_many_entries(archive_name, str(len(members)), limits.max_entries)
    for info in members:
        reason = _unsafe_reason(info)
        if reason:
            raise DatasetRejectedError(
                f"{archive_name}: entry {info.filename!r} is {reason}; nothing was unpacked"
            )
        if info.compress_type not in _READABLE_COMPRESSION:
            # zipfile raises NotImplementedError mid-unpack for these: refuse before writing anything.
            raise DatasetRejectedError(
                f"{archive_name}: entry {info.filename!r} uses compression method {info.compress_type}, "
                "which cannot be read; nothing was unpacked. Rebuild the archive with plain zip (deflate)."
            )
    duplicate = _duplicate_name(members)
    if duplicate is not None:
        raise DatasetRejectedError(
            f"{archive_name} holds {duplicate!r} more than once, so which copy counts would be a guess; "
            "nothing was unpacked. Rebuild the archive with each file in it once."
        )
    overlap = _overlap(members, directory_start)
    if overlap is not None:
        raise DatasetRejectedError(
            f"{archive_name}: entry {overlap[0]!r} shares bytes with {overlap[1]} (overlapping entries "
            "are a zip-bomb technique); nothing was unpacked. Rebuild the archive with a standard zip tool."
        )
    total = 0
    for info in members:
        total += info.file_size
        if info.file_size >= _RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(
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
    # The entries' bytes, headers included: with no overlaps, no entry is counted twice.
    packed = max(directory_start, 1)
    if total > limits.max_ratio * packed:
        raise DatasetRejectedError(
            f"{archive_name} expands {total // packed}x in all ({total} bytes from {packed}; limit "
            f"{limits.max_ratio}x), which looks like a zip bomb; nothing was unpacked"
        )


def inspect_archive(archive: zipfile.ZipFile, archive_name: str, limits: ZipLimits) -> ArchivePlan:
    """The archive's layout; raises DatasetRejectedError for unsafe or oversized content."""
    members = archive.infolist()
    _check_entries(members, archive.start_dir, archive_name, limits)
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
            # Only images are written: a nested dataset.json or .zip would hit this function's
            # own deny on those keys (and its trigger), and the listing skips the rest anyway.
            reason = skip_reason(StoredObject(relative, info.file_size))
            if reason:
                skipped[reason] += 1
            else:
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
