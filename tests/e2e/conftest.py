"""The offline stack, fresh for each test: moto plus the SageMaker emulation, wired from template.yaml.

Every AWS call a function makes is authorized against its policies (local/iam_guard.py); a
test in which any call was denied or had no IAM mapping fails, even if the chain coped.
The IAM grants report (test_iam_grants.py) runs last, after every other e2e test.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from local import iam_guard
from local.stack import LocalStack
from moto import mock_aws

E2E = Path(__file__).parent
GRANTS_REPORT = "test_iam_grants.py"
# Whether this session collected every e2e test (the grants report judges only then).
WHOLE_SUITE = pytest.StashKey[bool]()


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}) as local_stack:
        yield local_stack


@pytest.fixture(autouse=True)
def no_call_is_denied() -> Iterator[None]:
    """Fails a test in which a function's call was denied or unmapped (a test that expects
    a denial clears iam_guard.PROBLEMS itself)."""
    iam_guard.PROBLEMS.clear()
    yield
    problems, iam_guard.PROBLEMS[:] = list(iam_guard.PROBLEMS), []
    assert not problems, "IAM refused calls the functions made:\n" + "\n".join(problems)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The grants report last; it knows whether every e2e file is in this session."""
    report = [item for item in items if item.path.name == GRANTS_REPORT]
    rest = [item for item in items if item.path.name != GRANTS_REPORT]
    items[:] = rest + report
    selected = {item.path.name for item in rest if item.path.parent == E2E}
    expected = {path.name for path in E2E.glob("test_*.py")} - {GRANTS_REPORT}
    config.stash[WHOLE_SUITE] = (
        selected == expected and not config.getoption("keyword") and not config.getoption("markexpr")
    )
