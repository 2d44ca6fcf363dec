"""What a run costs in Lambda invocations, upload to Model Live (issue 20): every one event-driven,
counted by the offline stack as Lambda would bill them (each attempt, each SQS batch)."""

import pytest
from local.outbox import published
from local.stack import PHYSICAL, LocalStack

from sagechain.adapters.runs_table import DynamoRunStore
from tests.e2e.test_full_chain import upload_flowers
from tests.e2e.test_paths import class_folders

pytestmark = pytest.mark.e2e

# The budgets: a Ground Truth run in at most 12 invocations, a run with provided labels in 9.
GROUND_TRUTH_BUDGET = 12
PROVIDED_BUDGET = 9


def history(stack: LocalStack) -> list[str]:
    record = DynamoRunStore(PHYSICAL["RunsTable"]).get_run(stack.observed[0]["detail"]["run_id"])
    assert record is not None
    return [entry.event for entry in record.history]


def test_a_ground_truth_run_goes_live_in_twelve_invocations_with_every_email_and_history_entry(
    stack: LocalStack,
) -> None:
    upload_flowers(stack)

    stack.run_until_quiet()

    assert stack.failures == []
    assert stack.observed[-1]["detail-type"] == "Model Live"
    # One invocation per stage, and one observer (history, then email) per event worth telling.
    assert dict(stack.invocations) == {
        "PrepareDatasetFunction": 1,
        "StartLabelingFunction": 1,
        "StartTrainingFunction": 1,
        "DeployModelFunction": 1,
        "ConfigureAutoscalingFunction": 1,
        "TrackRunFunction": 7,
    }
    assert sum(stack.invocations.values()) <= GROUND_TRUTH_BUDGET
    assert len(published(PHYSICAL["NotificationTopic"])) == 5
    # SageMaker's own state changes are in the history, the endpoint's too although only
    # configure_autoscaling heard it (Model Live carries it).
    assert history(stack) == [
        "Dataset Prepared",
        "Labeling Started",
        "Labeling job Completed",
        "Training Started",
        "Training job Completed",
        "Deployment Started",
        "Endpoint InService",
        "Model Live",
    ]


def test_a_run_with_provided_labels_goes_live_in_nine_invocations(stack: LocalStack) -> None:
    class_folders(stack, {})

    stack.run_until_quiet()

    assert stack.failures == []
    assert stack.observed[-1]["detail-type"] == "Model Live"
    assert sum(stack.invocations.values()) <= PROVIDED_BUDGET
    assert stack.invocations["TrackRunFunction"] == 5
    assert len(published(PHYSICAL["NotificationTopic"])) == 4
    assert "Endpoint InService" in history(stack)
