"""The common layer's build: a closed, fully pinned dependency set without what Lambda ships, and
nothing left out of it that sagechain imports."""

import ast
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.aws import ROOT

LAYER = ROOT / "layers" / "common"
# What the Lambda Python runtime ships (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included).
RUNTIME_SHIPS = {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "jmespath", "six"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for text in (LAYER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned to one version"
            pins[_canonical(name)] = version
    return pins


def _pruned_modules() -> list[str]:
    makefile = (LAYER / "Makefile").read_text(encoding="utf-8")
    block = re.search(r"^PRUNED = \\\n((?:  .*\n)+)", makefile, re.MULTILINE)
    assert block, "layers/common/Makefile lists what it leaves out in PRUNED"
    paths = [line.strip(" \\") for line in block.group(1).splitlines()]
    return [p.replace("/", ".") for p in paths if not Path(p).suffix]


def test_the_layer_pins_nothing_the_runtime_ships() -> None:
    assert not RUNTIME_SHIPS & set(_pins())


def test_every_dependency_of_a_pinned_package_is_pinned_or_shipped_by_the_runtime() -> None:
    pins = _pins()
    missing = {}
    for name in pins:
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            wanted = _canonical(requirement.name)
            if wanted not in pins and wanted not in RUNTIME_SHIPS:
                missing[wanted] = name
    assert not missing, f"requirements.txt is not closed: add pins for {missing} (needed by)"


def test_the_tests_run_the_pinned_versions() -> None:
    for name, version in _pins().items():
        assert metadata.version(name) == version, name


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


SOURCES = sorted([*(LAYER / "sagechain").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_imports_what_the_layer_leaves_out(path: Path) -> None:
    pruned = _pruned_modules()
    assert pruned
    used = {name for name in _imports(path) for module in pruned if f"{name}.".startswith(f"{module}.")}
    assert not used, f"{path.name} imports {used}, which layers/common/Makefile leaves out (PRUNED)"
