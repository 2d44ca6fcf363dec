"""Every action a function's policy grants is used by some e2e test; docs/iam.md lists which.

The e2e tests record each (function, action) IAM allowed (local/iam_guard.py EXERCISED). A
grant no test exercised is either missing a test or not needed: add the test or drop the
grant. Run alone or on part of the suite, the report has nothing to judge and skips. Under
pytest-xdist (`make test` runs two workers) the controller judges the merged records at the end
of the session instead (conftest.py), since no one worker ran every test.
`make iam-doc` (IAM_DOC_WRITE=1) rewrites docs/iam.md from a whole e2e run.
"""

import os

import pytest
from local import iam_guard

from tests.e2e.conftest import WHOLE_SUITE
from tests.e2e.grants import doc_problem, grant_problems

pytestmark = pytest.mark.e2e


@pytest.fixture
def whole_suite(request: pytest.FixtureRequest) -> None:
    if hasattr(request.config, "workerinput"):
        pytest.skip("under pytest-xdist the controller judges the grants at the end of the session")
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("the grants report needs every e2e test in the session (pytest tests/e2e, no -k/-m)")


@pytest.mark.usefixtures("whole_suite")
def test_every_granted_action_is_exercised_by_an_e2e_test() -> None:
    problems = grant_problems(iam_guard.EXERCISED)

    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("whole_suite")
def test_the_iam_grants_page_is_current() -> None:
    problem = doc_problem(iam_guard.EXERCISED, write=bool(os.environ.get("IAM_DOC_WRITE")))

    assert problem is None, problem
