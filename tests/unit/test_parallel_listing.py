"""The S3 adapter lists a prefix's folders side by side and hands the keys over exactly as one
listing of the prefix would: same keys, same order, bounded memory, errors raised."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sagechain.adapters import s3
from sagechain.adapters.s3 import S3ObjectStore

PAGE = 3  # keys a page (S3 sends 1,000): small, so folders span several pages


class ListingClient:
    """ListObjectsV2 as S3 answers it (Prefix, Delimiter, key order, pages of PAGE entries)."""

    def __init__(self, keys: list[str], fail_under: str | None = None) -> None:
        self.keys = sorted(keys)
        self.fail_under = fail_under
        self.calls: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    def get_paginator(self, name: str) -> "ListingClient":
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str, Delimiter: str | None = None) -> Iterator[dict[str, Any]]:  # noqa: N803
        with self.lock:
            self.calls.append((Prefix, Delimiter))
        entries: list[tuple[str, bool]] = []  # (key or common prefix, is a prefix)
        for key in self.keys:
            if not key.startswith(Prefix):
                continue
            rest = key[len(Prefix) :]
            if Delimiter and Delimiter in rest:
                folder = Prefix + rest[: rest.index(Delimiter) + 1]
                if not entries or entries[-1] != (folder, True):
                    entries.append((folder, True))
            else:
                entries.append((key, False))
        for start in range(0, max(len(entries), 1), PAGE):
            if self.fail_under and Prefix.startswith(self.fail_under) and start >= PAGE:
                raise RuntimeError(f"listing {Prefix} failed")
            chunk = entries[start : start + PAGE]
            yield {
                "Contents": [{"Key": key, "Size": len(key)} for key, folder in chunk if not folder],
                "CommonPrefixes": [{"Prefix": key} for key, folder in chunk if folder],
            }


KEYS = [
    "images/a.jpg",
    "images/a/1.jpg",
    "images/a/2.jpg",
    "images/a/b/3.jpg",
    "images/a0.jpg",
    "images/b/x.png",
    *[f"images/c/{i:02}.jpg" for i in range(10)],
    "images/c.jpg",
    *[f"images/d{i}/{j}.jpg" for i in range(12) for j in range(4)],
    "images/z.jpg",
    "other/images/not-this.jpg",
]


@pytest.mark.parametrize(("workers", "ahead"), [(1, 1), (2, 1), (16, 16)])
def test_a_listing_gives_every_key_under_the_prefix_once_in_key_order(
    monkeypatch: pytest.MonkeyPatch, workers: int, ahead: int
) -> None:
    monkeypatch.setattr(s3, "LIST_WORKERS", workers)
    monkeypatch.setattr(s3, "PAGES_AHEAD", ahead)
    client = ListingClient(KEYS)

    listed = [obj.key for obj in S3ObjectStore("bucket", client).iter_objects("images/")]  # type: ignore[arg-type]

    assert listed == sorted(key for key in KEYS if key.startswith("images/"))
    # The folders were listed on their own, not the whole prefix again.
    assert ("images/d3/", None) in client.calls
    assert ("images/", None) not in client.calls


def test_a_flat_folder_is_one_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [f"images/{i:03}.jpg" for i in range(20)]
    client = ListingClient(keys)

    pages = list(S3ObjectStore("bucket", client).iter_object_pages("images/"))  # type: ignore[arg-type]

    assert [key for page in pages for key in page.keys] == keys
    assert [size for page in pages for size in page.sizes] == [len(key) for key in keys]
    assert client.calls == [("images/", "/")]


def test_a_folder_that_fails_to_list_fails_the_listing() -> None:
    client = ListingClient(KEYS, fail_under="images/c/")

    with pytest.raises(RuntimeError, match="listing images/c/ failed"):
        list(S3ObjectStore("bucket", client).iter_objects("images/"))  # type: ignore[arg-type]


def test_a_listing_left_early_stops_its_workers() -> None:
    client = ListingClient(KEYS)
    before = threading.active_count()
    listing = S3ObjectStore("bucket", client).iter_objects("images/")  # type: ignore[arg-type]

    first = next(listing)
    listing.close()

    assert first.key == "images/a.jpg"
    assert threading.active_count() == before
