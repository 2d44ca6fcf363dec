"""The shared package's imports run one way: functions -> stages -> core; adapters -> core."""

import ast
from pathlib import Path

import pytest

from tests.aws import ROOT

PACKAGE = ROOT / "layers" / "common" / "sagechain"
STAGES = ("ingest", "labeling", "training", "deployment", "observers", "inference", "run_control", "batch")


def _part_of(path: Path) -> str:
    """The stage or 'adapters' a module belongs to, else 'core'."""
    first = path.relative_to(PACKAGE).parts[0]
    return first if first in (*STAGES, "adapters") else "core"


def _imported_parts(path: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            segments = name.split(".")
            if segments[0] == "sagechain" and len(segments) > 1:
                parts.add(segments[1] if segments[1] in (*STAGES, "adapters") else "core")
    return parts


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_part_and_the_core(path: Path) -> None:
    own = _part_of(path)

    foreign = _imported_parts(path) - {own, "core"}

    assert not foreign, f"{path.relative_to(PACKAGE)} ({own}) imports {sorted(foreign)}"


def _imports_the_sdk(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name.split(".")[0] in {"boto3", "botocore"} for name in names):
            return True
    return False


def test_the_aws_sdk_is_imported_only_by_adapters() -> None:
    importers = [
        str(path.relative_to(PACKAGE))
        for path in MODULES
        if _part_of(path) != "adapters" and _imports_the_sdk(path)
    ]

    assert importers == []


def test_every_stage_is_a_folder() -> None:
    assert all((PACKAGE / stage / "__init__.py").is_file() for stage in STAGES)
