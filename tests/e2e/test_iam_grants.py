"""Every action a function's policy grants is used by some e2e test; docs/iam.md lists which.

The e2e tests record each (function, action) IAM allowed (local/iam_guard.py EXERCISED). A
grant no test exercised is either missing a test or not needed: add the test or drop the
grant. Run alone or on part of the suite, the report has nothing to judge and skips.
`make iam-doc` (IAM_DOC_WRITE=1) rewrites docs/iam.md from a whole e2e run.
"""

import os

import pytest
from local import iam_guard
from local.iam_gaps import NOT_YET_EXERCISED
from local.iam_report import DOC, granted_actions, render

from tests.e2e.conftest import WHOLE_SUITE

pytestmark = pytest.mark.e2e


@pytest.fixture
def whole_suite(request: pytest.FixtureRequest) -> None:
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("the grants report needs every e2e test in the session (pytest tests/e2e, no -k/-m)")


@pytest.mark.usefixtures("whole_suite")
def test_every_granted_action_is_exercised_by_an_e2e_test() -> None:
    unused = {
        (function, action)
        for function, actions in granted_actions().items()
        for action in actions
        if not iam_guard.EXERCISED[function].get(action.lower())
    }
    known = {(function, action) for function, gaps in NOT_YET_EXERCISED.items() for action in gaps}

    assert not unused - known, (
        "granted but no e2e test made a call needing them (add a test or drop the grant):\n"
        + ("\n".join(f"  {function}: {action}" for function, action in sorted(unused - known)))
    )
    assert not known - unused, "exercised now: remove from local/iam_gaps.py:\n" + "\n".join(
        f"  {function}: {action}" for function, action in sorted(known - unused)
    )


@pytest.mark.usefixtures("whole_suite")
def test_the_iam_grants_page_is_current() -> None:
    text = render(iam_guard.EXERCISED)
    if os.environ.get("IAM_DOC_WRITE"):
        DOC.write_text(text)
    assert DOC.read_text() == text, "docs/iam.md is stale: run `make iam-doc`"
