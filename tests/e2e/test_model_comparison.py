"""A run that trained several hyperparameter sets, offline: the email and the run compare its jobs."""

import json

import pytest
from local.outbox import published
from local.stack import PHYSICAL, LocalStack

from tests.e2e.test_paths import class_folders

pytestmark = pytest.mark.e2e

SETS = [{"learning_rate": 0.01}, {"learning_rate": 0.05}, {"learning_rate": 0.1}]


def test_a_three_set_run_emails_and_shows_the_comparison_best_first(stack: LocalStack) -> None:
    # Given a dataset with provided labels and three hyperparameter sets
    class_folders(stack, {"training": {"hyperparameters": SETS}})

    # When the chain runs to the end
    stack.run_until_quiet()

    # Then the Deployment Started email compares the three jobs, best first, the deployed one marked
    assert stack.failures == []
    jobs = stack.sagemaker.training.values()
    best_first = sorted(jobs, key=lambda job: -job["FinalMetricDataList"][0]["Value"])
    [started] = [
        body
        for subject, body in published(PHYSICAL["NotificationTopic"])
        if "Deployment started" in (subject or "")
    ]
    heading = "How the 3 jobs compared (best first; * deployed)"
    table = started.split(heading, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(table) == 4  # the column names, then one row per job
    assert table[0].split()[:3] == ["Job", "Status", "validation:accuracy"]
    # Each row: the section's indent, the mark column ("*" for the deployed job), then the cells.
    marks = [line[2] for line in table[1:]]
    names = [line[3:].split()[0] for line in table[1:]]
    assert names == [job["TrainingJobName"] for job in best_first]
    assert marks == ["*", " ", " "]
    values = [job["FinalMetricDataList"][0]["Value"] for job in best_first]
    assert (
        f"highest validation:accuracy of 3 completed jobs ({values[0]:g} vs {values[1]:g}, {values[2]:g})"
        in started
    )
    assert "Final metrics" in started
    for job in best_first:
        assert f"learning_rate={job['HyperParameters']['learning_rate']}" in started

    # And Model Live repeats why, with the final metrics
    [live] = [
        body for subject, body in published(PHYSICAL["NotificationTopic"]) if "Model live" in (subject or "")
    ]
    assert "Why this model\n--------------\n  highest validation:accuracy of 3 completed jobs" in live
    assert f"validation:accuracy: {values[0]:g}" in live

    # And GET /runs/{run_id} shows the same comparison
    run_id = stack.observed[0]["detail"]["run_id"]
    run = json.loads(stack.api().handle("GET", f"/runs/{run_id}", {}, b"").body)
    assert [row["job_name"] for row in run["comparison"]] == [job["TrainingJobName"] for job in best_first]
    assert [row["chosen"] for row in run["comparison"]] == [True, False, False]
    assert set(run["comparison"][0]["hyperparameters"]) == {"learning_rate"}
    assert run["final_metrics"] == {"validation:accuracy": values[0]}
    assert run["chosen_because"].startswith("highest validation:accuracy of 3 completed jobs")
