"""The offline stack, fresh for each test: moto plus the SageMaker emulation, wired from template.yaml."""

from collections.abc import Iterator

import pytest
from local.stack import LocalStack
from moto import mock_aws


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with mock_aws(), LocalStack(parameters={"LogLevel": "ERROR"}) as local_stack:
        yield local_stack
