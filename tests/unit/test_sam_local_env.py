"""`sam local invoke -e events/<function>/<case>.json --env-vars events/env.json` works as written.

Docker is not here, so this runs what `sam local invoke` does before it starts a container: SAM
CLI's own providers read template.yaml and resolve each function's environment (a Ref to a
resource becomes its logical id, e.g. DATA_BUCKET=DataBucket), events/env.json overrides it as
SAM applies it (its "Parameters" object to every function), and then each function's module is
imported, which validates its settings at cold start. The sample events name the bucket and
stack env.json names, so the handlers act on them instead of ignoring them.
"""

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.lambdafn.env_vars import EnvironmentVariables

from tests.aws import ROOT, load_handler

ENV_FILE = ROOT / "events" / "env.json"
# SAM CLI's template validation warns about its own dependencies' deprecations.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _functions() -> list[Any]:
    with warnings.catch_warnings():  # at collection, before pytestmark applies
        warnings.simplefilter("ignore", DeprecationWarning)
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(ROOT / "template.yaml"), parameter_overrides={"NotificationEmail": "ml-team@example.com"}
        )
        return list(SamFunctionProvider(stacks).get_all())


FUNCTIONS = _functions()


def _environment(function: Any) -> dict[str, str]:
    """The function's environment as `sam local invoke --env-vars events/env.json` sets it."""
    overrides = json.loads(ENV_FILE.read_text())
    resolved: dict[str, str] = EnvironmentVariables(
        function.name,
        function.memory,
        function.timeout,
        function.handler,
        variables=(function.environment or {}).get("Variables"),
        shell_env_values={},
        override_values={**overrides.get("Parameters", {}), **overrides.get(function.name, {})},
    ).resolve()
    return resolved


@pytest.fixture
def lambda_environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.name)
@pytest.mark.usefixtures("lambda_environment")
def test_each_function_starts_with_the_shipped_env_file(function: Any) -> None:
    environment = _environment(function)
    os.environ.clear()
    os.environ.update({**environment, "POWERTOOLS_TRACE_DISABLED": "true"})
    directory = Path(function.codeuri).name

    with mock_aws():
        load_handler(directory)  # settings validate at import: a missing or bad value raises here

    assert environment.get("DATA_BUCKET", "sagechain-data-example") == "sagechain-data-example"


def test_the_sample_events_name_the_bucket_and_stack_the_env_file_names() -> None:
    shared = json.loads(ENV_FILE.read_text())["Parameters"]
    buckets, stacks = set(), set()
    for path in (ROOT / "events").glob("*/*.json"):
        text = path.read_text()
        document = json.loads(text)
        detail = document.get("detail") if isinstance(document, dict) else None
        if isinstance(detail, dict) and isinstance(detail.get("bucket"), dict):
            buckets.add(detail["bucket"]["name"])
        stacks |= {part for part in document.get("resources", []) if ":cloudformation:" in part}

    assert buckets == {shared["DATA_BUCKET"]}
    assert stacks <= {shared["STACK_ID"]}
