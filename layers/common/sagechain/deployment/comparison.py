"""How a run's training jobs compared: the table behind "why this model" in the emails and the run.

Several hyperparameter sets (sibling jobs) or a tuning job's trials are ranked best first on the
objective metric: completed jobs with a value by that value (a tie keeps the earlier job, as the
choice does), then completed jobs that reported none, then jobs that failed or were stopped. Each
row keeps only the hyperparameters whose values differ between the jobs, so the table says what
set the winner apart. At most MAX_ROWS rows travel (the chosen job always among them): twenty
rows of short values stay far below EventBridge's 256 KB per event and DynamoDB's 400 KB per item.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sagechain.events import JobComparison, ModelChoice

MAX_ROWS = 20
# A hyperparameter value may be 2500 characters (CreateTrainingJob); a table cell needs far less.
MAX_VALUE_CHARS = 64
MAX_KEYS = 12
_OTHERS_SHOWN = 5


@dataclass(frozen=True)
class Candidate:
    """One job to compare: how it ended and what it was given."""

    job_name: str
    status: str
    value: float | None
    hyperparameters: Mapping[str, str]
    training_seconds: int | None = None


def differing_hyperparameters(sets: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Each set reduced to the keys whose values are not the same in every set (values shortened)."""
    keys = sorted({key for one in sets for key in one})
    differ = [key for key in keys if len({one.get(key) for one in sets}) > 1][:MAX_KEYS]
    return [{key: _short(one[key]) for key in differ if key in one} for one in sets]


def _short(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"


def _rank(candidate: Candidate, direction: Literal["Maximize", "Minimize"]) -> tuple[int, float]:
    if candidate.status != "Completed":
        return (2, 0.0)
    if candidate.value is None:
        return (1, 0.0)
    return (0, -candidate.value if direction == "Maximize" else candidate.value)


def ranked(candidates: Sequence[Candidate], direction: Literal["Maximize", "Minimize"]) -> list[Candidate]:
    """Best first; the sort is stable, so equal jobs keep their given (hyperparameter-set) order."""
    return sorted(candidates, key=lambda candidate: _rank(candidate, direction))


def model_choice(
    candidates: Sequence[Candidate],
    chosen: str | None,
    metric: str | None,
    direction: Literal["Maximize", "Minimize"],
    final_metrics: Mapping[str, float],
    by_tuning: bool = False,
) -> ModelChoice:
    """The comparison of the jobs, best first, and why `chosen` won (by_tuning: trials of a tuning job)."""
    order = ranked(candidates, direction)
    reduced = dict(
        zip(
            [c.job_name for c in order],
            differing_hyperparameters([c.hyperparameters for c in order]),
            strict=True,
        )
    )
    rows = [
        JobComparison(
            job_name=c.job_name,
            status=c.status,
            objective_value=c.value,
            hyperparameters=reduced[c.job_name],
            training_seconds=c.training_seconds,
            chosen=c.job_name == chosen,
        )
        for c in order
    ]
    shown = rows[:MAX_ROWS]
    if chosen is not None and not any(row.chosen for row in shown):
        shown = [*shown[: MAX_ROWS - 1], *[row for row in rows if row.chosen]]
    return ModelChoice(
        final_metrics=dict(final_metrics),
        comparison=shown,
        jobs_compared=len(rows),
        chosen_because=chosen_because(order, chosen, metric, direction, by_tuning) if chosen else None,
    )


def chosen_because(
    order: Sequence[Candidate],
    chosen: str,
    metric: str | None,
    direction: Literal["Maximize", "Minimize"],
    by_tuning: bool = False,
) -> str:
    """Why the chosen job won, in words ("highest validation:accuracy of 3 completed jobs (0.93 vs 0.91)")."""
    noun = "trials" if by_tuning else "jobs"
    completed = [c for c in order if c.status == "Completed"]
    valued = [c for c in completed if c.value is not None]
    ended = Counter(c.status.lower() for c in order if c.status != "Completed")
    tail = "".join(f"; {count} {status}" for status, count in sorted(ended.items()))
    winner = next((c for c in order if c.job_name == chosen), None)
    first = "the tuning job's own choice" if by_tuning else "the first in hyperparameter-set order"
    if metric is None:
        count = len(completed)
        return f"the run names no objective metric to compare its {count} completed {noun} on: {first}{tail}"
    if winner is None or winner.value is None:
        return f"no completed {noun[:-1]} reported {metric}, so none could be ranked: {first}{tail}"
    best = "highest" if direction == "Maximize" else "lowest"
    others = [c for c in valued if c.job_name != chosen]
    if not others:
        text = f"the only one of {len(order)} {noun} to complete with a {metric} ({winner.value:g})"
    else:
        values = ", ".join(f"{c.value:g}" for c in others[:_OTHERS_SHOWN])
        more = ", …" if len(others) > _OTHERS_SHOWN else ""
        text = f"{best} {metric} of {len(valued)} completed {noun} ({winner.value:g} vs {values}{more})"
    ties = [c.job_name for c in others if c.value == winner.value]
    if ties:
        also = f" and {len(ties) - 1} more" if len(ties) > 1 else ""
        text += f"; tied with {ties[0]}{also}: {first} wins a tie"
    missing = len(completed) - len(valued)
    if missing:
        text += f"; {missing} completed {noun[:-1] if missing == 1 else noun} reported no {metric}"
    return text + tail
