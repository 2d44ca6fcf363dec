"""One botocore data loader for every session of the process: the offline stack's speed.

Each boto3 session (moto's mock_aws resets the default one for every stack; every function's clients
are created again for every stack) gets a new botocore Loader, which reads and parses endpoints.json
and each service's model (SageMaker's is megabytes of JSON) again: most of an offline stack's start.
The data never changes within a process, so one Loader per data path serves them all. Only the
offline stack installs this; a function on Lambda creates its clients once per container anyway.
"""

import functools

import botocore.loaders
import botocore.session


class _UniquePaths(list[str]):
    """search_paths that boto3 appends its data folder to once per session: kept once."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    loader = botocore.loaders.create_loader(search_path_string)
    loader._search_paths = _UniquePaths(loader.search_paths)  # type: ignore[attr-defined]  # boto3 appends
    return loader


def share_botocore_loader() -> None:
    """Sessions created from now on share one Loader per AWS_DATA_PATH."""
    botocore.session.create_loader = _shared_loader
