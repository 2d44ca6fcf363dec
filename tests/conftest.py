"""Test environment: no AWS credentials, no tracing, the settings every handler reads."""

import os

TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "sagechain-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "sagechain",
    "POWERTOOLS_DEV": "false",
    "DATA_BUCKET": "sagechain-data-example",
    "IDEMPOTENCY_TABLE": "sagechain-idempotency",
    "EVENT_BUS_NAME": "default",
    "NAME_PREFIX": "sagechain",
    "STACK_NAME": "sagechain",
    # AWS::StackId: every sagechain event the stack emits names it in resources (tests/runs.py).
    "STACK_ID": (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/sagechain/9e3a1d20-7a4f-11ef-8b2c-0a1b2c3d4e5f"
    ),
    "ALLOW_CUSTOM_NETWORK_ACCESS": "false",
    "DEFAULT_WORKTEAM_ARN": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
    "DEFAULT_MAX_LABELING_COST_USD": "100",
    "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.p3.2xlarge",
    "DEFAULT_ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    "DEFAULT_ENDPOINT_TTL_HOURS": "0",
    # The guardrails at the template's defaults (what `sam deploy` sets without overrides).
    "ACCOUNT_ID": "123456789012",
    "ALLOWED_TRAINING_IMAGE_REPOSITORIES": "",
    "ALLOWED_TRAINING_INSTANCE_TYPES": (
        "ml.p3.2xlarge,ml.g4dn.xlarge,ml.g4dn.2xlarge,ml.g5.xlarge,ml.g5.2xlarge"
    ),
    "ALLOWED_ENDPOINT_INSTANCE_TYPES": "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge,ml.g4dn.xlarge",
    "MAX_TRAINING_HOURS": "24",
    "MAX_TRAINING_INSTANCES": "2",
    "MAX_TRAINING_VOLUME_GB": "100",
    "MAX_SPOT_WAIT_HOURS": "48",
    "MAX_HYPERPARAMETER_SETS": "3",
    "MAX_TUNING_JOBS": "20",
    "MAX_PARALLEL_TUNING_JOBS": "2",
    "MAX_ENDPOINT_INSTANCES": "4",
    "MAX_ENDPOINT_TTL_HOURS": "0",
    "ALLOW_PUBLIC_WORKFORCE": "false",
    "ALLOWED_WORKTEAM_ARNS": "",
    "ALLOW_WORSE_MODEL": "false",
    "MAX_RUN_COST_USD": "500",
    "INSTANCE_PRICE_OVERRIDES": "",
    # configure_autoscaling's expiry schedules (deployment.ttl_hours) invoke this function as this role.
    "EXPIRY_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:sagechain-ExpireEndpointFunction",
    "EXPIRY_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/sagechain-ExpirySchedulerRole",
    "RUNS_TABLE": "sagechain-runs",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sagechain-notifications",
    "STALE_RUN_HOURS": "24",
}
# Set before any test module imports boto3 or a handler: nothing may reach AWS.
os.environ.update(TEST_ENV)


# ---------------------------------------------------------------- the IAM grants report under xdist
# Each pytest-xdist worker runs a share of the e2e tests and records what IAM allowed in its own
# process; the grants report must see them all (tests/e2e/grants.py). Workers save theirs when
# their session ends; the controller, once every worker has finished, merges and judges them.
import tempfile  # noqa: E402 - the report's part of the test environment, kept together
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

_E2E = Path(__file__).parent / "e2e"
_GRANTS_REPORT = "test_iam_grants.py"
_IAM_DIR = pytest.StashKey[Path]()
_WHOLE_E2E = pytest.StashKey[bool]()


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config):
        config.stash[_IAM_DIR] = Path(tempfile.mkdtemp(prefix="sagechain-iam-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: "pytest.Item") -> None:  # an xdist WorkerController
    workerinput = node.workerinput  # type: ignore[attr-defined]
    workerinput["sagechain_iam_dir"] = str(node.config.stash[_IAM_DIR])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    files = {Path(nodeid.split("::", 1)[0]).name for nodeid in ids if nodeid.startswith("tests/e2e/")}
    expected = {path.name for path in _E2E.glob("test_*.py")}
    config.stash[_WHOLE_E2E] = (
        files == expected and not config.getoption("keyword") and not config.getoption("markexpr")
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        from local import iam_guard  # noqa: PLC0415 - only e2e workers have recorded anything

        from tests.e2e.grants import save  # noqa: PLC0415

        save(iam_guard.EXERCISED, Path(workerinput["sagechain_iam_dir"]) / f"{workerinput['workerid']}.json")
        return
    if not _is_controller(config) or not config.stash.get(_WHOLE_E2E, False):
        return
    from tests.e2e.grants import doc_problem, grant_problems, merged  # noqa: PLC0415

    exercised = merged(sorted(config.stash[_IAM_DIR].glob("*.json")))
    problems = grant_problems(exercised)
    stale = doc_problem(exercised, write=bool(os.environ.get("IAM_DOC_WRITE")))
    problems += [stale] if stale else []
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "IAM grants report (merged from the workers)", red=bool(problems))
        reporter.write_line(
            "\n".join(problems) if problems else "every grant is exercised; docs/iam.md is current"
        )
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
