"""The IAM grants report's judgment, on the (function, action) pairs the e2e tests exercised.

test_iam_grants.py applies it in a plain session; under pytest-xdist each worker saw only its
share of the tests, so each writes what it exercised to a file and the controller merges them
and judges once at the end of the session (tests/e2e/conftest.py).
"""

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from local.iam_gaps import NOT_YET_EXERCISED
from local.iam_report import DOC, granted_actions, render

Exercised = Mapping[str, Mapping[str, set[str]]]


def grant_problems(exercised: Exercised) -> list[str]:
    """Grants no test exercised and not explained in local/iam_gaps.py, and gaps now exercised."""
    unused = {
        (function, action)
        for function, actions in granted_actions().items()
        for action in actions
        if not exercised.get(function, {}).get(action.lower())
    }
    known = {(function, action) for function, gaps in NOT_YET_EXERCISED.items() for action in gaps}
    problems = []
    if unused - known:
        problems.append(
            "granted but no e2e test made a call needing them (add a test or drop the grant):\n"
            + "\n".join(f"  {function}: {action}" for function, action in sorted(unused - known))
        )
    if known - unused:
        problems.append(
            "exercised now: remove from local/iam_gaps.py:\n"
            + "\n".join(f"  {function}: {action}" for function, action in sorted(known - unused))
        )
    return problems


def doc_problem(exercised: Exercised, write: bool) -> str | None:
    """Why docs/iam.md is stale (None when current); with write, it is rewritten first."""
    text = render(exercised)
    if write:
        DOC.write_text(text)
    return None if DOC.read_text() == text else "docs/iam.md is stale: run `make iam-doc`"


def save(exercised: Exercised, path: Path) -> None:
    """One worker's exercised pairs, as JSON."""
    plain = {
        function: {action: sorted(tests) for action, tests in actions.items()}
        for function, actions in exercised.items()
    }
    path.write_text(json.dumps(plain))


def merged(paths: list[Path]) -> dict[str, dict[str, set[str]]]:
    """Every worker's exercised pairs together."""
    together: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in paths:
        for function, actions in json.loads(path.read_text()).items():
            for action, tests in actions.items():
                together[function][action].update(tests)
    return together
