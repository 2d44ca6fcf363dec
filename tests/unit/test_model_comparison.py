"""How a run's jobs are compared: best first, only the hyperparameters that differ, and why the winner won."""

from datetime import UTC, datetime

from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.deployment.comparison import MAX_ROWS, Candidate, differing_hyperparameters, model_choice
from sagechain.deployment.pending import waiting_deployments
from sagechain.events import DeploymentRejected, DeploymentStarted, DeploymentWaiting
from sagechain.names import resource_tags
from sagechain.ports import TuningOutcome, TuningTrial
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    RUN,
    completed_job,
    ended_job,
    plan,
    store_with_run,
    training_change,
)
from tests.deploy_fakes import tuning_change as tuning_state_change
from tests.runs import STACK_NAME
from tests.stubs import stubbed
from tests.unit.test_deploy_model import OLD_CONFIG, Stage, _with_live

SETS = [f"sagechain-{RUN}-set-{i}" for i in (1, 2, 3)]
GIVEN = [
    {"epochs": "10", "learning_rate": "0.01", "num_classes": "2"},
    {"epochs": "10", "learning_rate": "0.05", "num_classes": "2"},
    {"epochs": "20", "learning_rate": "0.1", "num_classes": "2"},
]


def test_only_hyperparameters_that_differ_are_kept_and_long_values_are_shortened() -> None:
    sets = [{"a": "1", "same": "x", "long": "v" * 300}, {"a": "2", "same": "x"}]

    reduced = differing_hyperparameters(sets)

    assert reduced[1] == {"a": "2"}
    assert reduced[0]["a"] == "1"
    assert len(reduced[0]["long"]) == 64
    assert reduced[0]["long"].endswith("…")


def test_the_comparison_is_best_first_with_the_chosen_job_marked_and_the_reason_in_words() -> None:
    candidates = [
        Candidate(SETS[0], "Completed", 0.91, GIVEN[0], 600),
        Candidate(SETS[1], "Failed", None, GIVEN[1], 120),
        Candidate(SETS[2], "Completed", 0.93, GIVEN[2], 610),
    ]

    choice = model_choice(
        candidates, SETS[2], "validation:accuracy", "Maximize", {"validation:accuracy": 0.93}
    )

    assert [row.job_name for row in choice.comparison] == [SETS[2], SETS[0], SETS[1]]
    assert [row.chosen for row in choice.comparison] == [True, False, False]
    assert choice.comparison[0].hyperparameters == {"epochs": "20", "learning_rate": "0.1"}
    assert choice.comparison[2].hyperparameters == {"epochs": "10", "learning_rate": "0.05"}
    assert choice.comparison[0].training_seconds == 610
    assert choice.chosen_because == "highest validation:accuracy of 2 completed jobs (0.93 vs 0.91); 1 failed"
    assert choice.jobs_compared == 3


def test_for_a_loss_the_lowest_comes_first_and_a_tie_says_the_earlier_set_wins() -> None:
    candidates = [
        Candidate(SETS[0], "Completed", 0.2, GIVEN[0]),
        Candidate(SETS[1], "Completed", 0.2, GIVEN[1]),
        Candidate(SETS[2], "Completed", None, GIVEN[2]),
    ]

    choice = model_choice(candidates, SETS[0], "validation:loss", "Minimize", {})

    assert [row.job_name for row in choice.comparison] == SETS
    assert choice.chosen_because == (
        f"lowest validation:loss of 2 completed jobs (0.2 vs 0.2); tied with {SETS[1]}: the first in "
        "hyperparameter-set order wins a tie; 1 completed job reported no validation:loss"
    )


def test_a_choice_without_the_metric_says_so() -> None:
    candidates = [Candidate(name, "Completed", None, {}) for name in SETS]

    choice = model_choice(candidates, SETS[0], "validation:accuracy", "Maximize", {})

    assert choice.chosen_because == (
        "no completed job reported validation:accuracy, so none could be ranked: the first in "
        "hyperparameter-set order"
    )


def test_the_table_is_capped_and_keeps_the_chosen_job() -> None:
    candidates = [Candidate(f"job-{i:03}", "Completed", i / 100, {"x": str(i)}) for i in range(30)]

    # A tuning job's own choice may rank low on a value it did not choose by.
    choice = model_choice(candidates, "job-000", "m", "Maximize", {}, by_tuning=True)

    assert len(choice.comparison) == MAX_ROWS
    assert choice.comparison[0].job_name == "job-029"
    assert choice.comparison[-1].job_name == "job-000"
    assert choice.jobs_compared == 30


def test_the_last_sibling_deploys_the_best_with_every_sibling_compared() -> None:
    # Given three hyperparameter sets whose jobs have ended
    stage = Stage(store_with_run(plan(job_names=SETS, mode="sets", hyperparameters=GIVEN)))
    for name, accuracy in zip(SETS, (0.91, 0.93, 0.88), strict=True):
        metrics = {"validation:accuracy": accuracy, "train:accuracy": 0.98}
        stage.sagemaker.add_job(completed_job(name, accuracy)._replace(metrics=metrics, training_seconds=600))

    # When their state changes arrive
    for name in SETS:
        stage.run(training_change(name))

    # Then the best goes live, and its event carries its metrics and the table, best first
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.training_job_name == SETS[1]
    assert event.final_metrics == {"validation:accuracy": 0.93, "train:accuracy": 0.98}
    assert [(row.job_name, row.objective_value) for row in event.comparison] == [
        (SETS[1], 0.93),
        (SETS[0], 0.91),
        (SETS[2], 0.88),
    ]
    assert event.comparison[0].hyperparameters == {"epochs": "10", "learning_rate": "0.05"}
    assert event.chosen_because == "highest validation:accuracy of 3 completed jobs (0.93 vs 0.91, 0.88)"


def test_a_single_job_carries_its_final_metrics_and_no_comparison() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.final_metrics, event.comparison, event.chosen_because) == (
        {"validation:accuracy": 0.91},
        [],
        None,
    )


def test_siblings_that_all_failed_are_compared_in_the_rejection() -> None:
    stage = Stage(store_with_run(plan(job_names=SETS, mode="sets", hyperparameters=GIVEN)))
    for name in SETS:
        stage.sagemaker.add_job(ended_job(name, "InProgress"))
    for name in SETS:
        stage.sagemaker.add_job(ended_job(name, "Failed"))
        stage.run(training_change(name, "Failed"))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert [row.status for row in event.comparison] == ["Failed"] * 3
    assert not any(row.chosen for row in event.comparison)


TUNING = "sagechain-flowers-8b39944c-tune"
TRIALS = [f"{TUNING}-00{i}-abcdef12" for i in (1, 2, 3)]


def test_a_tuning_jobs_trials_are_compared_and_its_best_goes_live() -> None:
    stage = Stage(store_with_run(plan(job_names=[], tuning_job_name=TUNING, mode="tuning")))
    tuning_arn = f"{ARN}:hyper-parameter-tuning-job/{TUNING}"
    stage.sagemaker.add_job(completed_job(TRIALS[1], 0.94, tuning=tuning_arn))
    stage.sagemaker.tuning[TUNING] = TuningOutcome(
        TUNING, tuning_arn, "Completed", TRIALS[1], "validation:accuracy", 0.94
    )
    stage.sagemaker.trials[TUNING] = [
        TuningTrial(TRIALS[0], "Completed", {"learning_rate": "0.01"}, 0.88, 500),
        TuningTrial(TRIALS[1], "Completed", {"learning_rate": "0.04"}, 0.94, 520),
        TuningTrial(TRIALS[2], "Stopped", {"learning_rate": "0.09"}, None, 60),
    ]
    stage.sagemaker.resource_tags[tuning_arn] = resource_tags(RUN, STACK_NAME)

    stage.run(tuning_state_change(TUNING))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert [row.job_name for row in event.comparison] == [TRIALS[1], TRIALS[0], TRIALS[2]]
    assert event.comparison[0].chosen
    assert (
        event.chosen_because == "highest validation:accuracy of 2 completed trials (0.94 vs 0.88); 1 stopped"
    )


def _summary(name: str, value: float | None, status: str = "Completed") -> dict[str, object]:
    summary: dict[str, object] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "CreationTime": datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
        "TrainingStartTime": datetime(2026, 11, 1, 10, 1, tzinfo=UTC),
        "TrainingEndTime": datetime(2026, 11, 1, 10, 11, 30, tzinfo=UTC),
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"learning_rate": "0.01"},
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:accuracy",
            "Value": value,
        }
    return summary


def test_tuning_trials_are_read_from_every_page() -> None:
    with stubbed("sagemaker") as (client, stubber):
        first = {"HyperParameterTuningJobName": TUNING, "MaxResults": 100}
        stubber.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": [_summary(TRIALS[0], 0.9)], "NextToken": "page-2"},
            first,
        )
        stubber.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": [_summary(TRIALS[1], None, "Failed")]},
            {**first, "NextToken": "page-2"},
        )

        trials = SageMakerHosting(client).tuning_trials(TUNING)

    assert trials == [
        TuningTrial(TRIALS[0], "Completed", {"learning_rate": "0.01"}, 0.9, 630),
        TuningTrial(TRIALS[1], "Failed", {"learning_rate": "0.01"}, None, 630),
    ]


def test_a_deployment_that_waits_keeps_its_comparison_for_the_deployment_started_that_follows() -> None:
    # Given three sets whose best model meets its endpoint busy with another update
    stage = Stage(store_with_run(plan(job_names=SETS, mode="sets", hyperparameters=GIVEN)))
    stage.sagemaker.put_endpoint("Updating", OLD_CONFIG)
    for name, accuracy in zip(SETS, (0.91, 0.93, 0.88), strict=True):
        stage.sagemaker.add_job(completed_job(name, accuracy))

    for name in SETS:
        stage.run(training_change(name))

    # Then the queued deployment keeps how its job was chosen, for configure_autoscaling's event
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentWaiting)
    [(_key, pending)] = waiting_deployments(stage.store, ENDPOINT)
    assert pending.choice is not None
    assert [row.job_name for row in pending.choice.comparison] == [SETS[1], SETS[0], SETS[2]]


def test_a_gated_update_shows_the_live_models_value_beside_the_new_one() -> None:
    # Given a live model at 0.90 and a new one at 0.95
    stage = Stage()
    _with_live(stage, accuracy=0.90)
    stage.sagemaker.add_job(completed_job(accuracy=0.95))

    stage.run(training_change())

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.metric_value, event.live_value, event.live_model_name) == (
        0.95,
        0.90,
        "sagechain-older-run-train",
    )
