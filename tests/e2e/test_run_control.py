"""Run control offline: stop a run, delete a model; through the API, emulated SageMaker, observers."""

import json
from typing import Any

import boto3
import pytest
from local import iam_guard
from local.api import ApiResponse
from local.sample_data import FLOWER_COLOURS, png
from local.stack import LocalStack

from tests.e2e.test_full_chain import kinds, subjects, upload_flowers

pytestmark = pytest.mark.e2e


def stop(stack: LocalStack, run_id: str) -> ApiResponse:
    return stack.api().handle("POST", f"/runs/{run_id}/stop", {}, b"")


def body(response: ApiResponse) -> dict[str, Any]:
    return dict(json.loads(response.body))


def test_stopping_a_run_mid_training_stops_the_job_and_ends_the_run_stopped(stack: LocalStack) -> None:
    answers: list[ApiResponse] = []

    def stop_once_training_runs() -> None:
        started = [e for e in stack.observed if e["detail-type"] == "Training Started"]
        if started and not answers:
            answers.append(stop(stack, started[0]["detail"]["run_id"]))

    upload_flowers(stack)
    stack.run_until_quiet(on_round=stop_once_training_runs)

    [answer] = answers
    accepted = body(answer)
    run_id = accepted["run_id"]
    [job] = accepted["stopped_jobs"]
    assert (answer.status, accepted["status"], accepted["stage"]) == (202, "stopped", "training")
    assert stack.sagemaker.training[job["name"]]["TrainingJobStatus"] == "Stopped"
    assert "Run Stopped" in kinds(stack)
    assert "Deployment Started" not in kinds(stack)
    assert any("Run stopped" in subject for subject in subjects())
    run = body(stack.api().handle("GET", f"/runs/{run_id}", {}, b""))
    assert (run["stage"], run["status"]) == ("training", "stopped")
    assert "Run Stopped" in [entry["event"] for entry in run["history"]]
    assert stack.failures == []


def test_stopping_a_run_mid_labeling_stops_the_labeling_job_and_no_training_starts(stack: LocalStack) -> None:
    answers: list[ApiResponse] = []

    def stop_once_labeling_runs() -> None:
        started = [e for e in stack.observed if e["detail-type"] == "Labeling Started"]
        if started and not answers:
            answers.append(stop(stack, started[0]["detail"]["run_id"]))

    upload_flowers(stack)
    stack.run_until_quiet(on_round=stop_once_labeling_runs)

    [answer] = answers
    accepted = body(answer)
    [job] = accepted["stopped_jobs"]
    assert (answer.status, accepted["stage"]) == (202, "labeling")
    assert stack.sagemaker.labeling[job["name"]]["LabelingJobStatus"] == "Stopped"
    assert "Training Started" not in kinds(stack)
    run = body(stack.api().handle("GET", f"/runs/{accepted['run_id']}", {}, b""))
    assert (run["stage"], run["status"]) == ("labeling", "stopped")


def test_stopping_an_ended_run_is_a_conflict_that_names_its_state(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    run_id = stack.observed[-1]["detail"]["run_id"]

    answer = stop(stack, run_id)

    assert answer.status == 409
    error = body(answer)["error"]
    assert error["code"] == "conflict"
    assert "is live at its live stage" in error["message"]


def test_a_second_stop_of_a_stopped_run_is_a_conflict_and_stops_nothing(stack: LocalStack) -> None:
    stopped: list[ApiResponse] = []

    def stop_once_training_runs() -> None:
        started = [e for e in stack.observed if e["detail-type"] == "Training Started"]
        if started and not stopped:
            stopped.append(stop(stack, started[0]["detail"]["run_id"]))

    upload_flowers(stack)
    stack.run_until_quiet(on_round=stop_once_training_runs)
    calls = stack.sagemaker.calls["StopTrainingJob"]

    again = stop(stack, body(stopped[0])["run_id"])

    assert (again.status, body(again)["error"]["code"]) == (409, "conflict")
    assert "stopped at its training stage" in body(again)["error"]["message"]
    assert stack.sagemaker.calls["StopTrainingJob"] == calls == 1
    assert kinds(stack).count("Run Stopped") == 1


def test_stopping_an_unknown_run_is_not_found(stack: LocalStack) -> None:
    answer = stop(stack, "nosuch-000000000000")

    assert (answer.status, body(answer)["error"]["code"]) == (404, "run_not_found")
    assert answer.headers["Content-Type"] == "application/json"
    assert boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def predict(stack: LocalStack, model: str) -> ApiResponse:
    return stack.api().handle(
        "POST", f"/models/{model}/predict", {"Content-Type": "image/png"}, png(16, 16, FLOWER_COLOURS["rose"])
    )


def test_deleting_a_live_model_deletes_its_endpoint_and_expiry_and_predict_then_answers_404(
    stack: LocalStack,
) -> None:
    # Given a live model whose endpoint expires in an hour (an EventBridge Scheduler schedule)
    upload_flowers(
        stack,
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "deployment": {"ttl_hours": 1},
        },
    )
    stack.run_until_quiet()
    live = stack.observed[-1]["detail"]
    model = live["endpoint_name"]
    assert predict(stack, model).status == 200
    scheduler = boto3.client("scheduler")
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == [model]

    answer = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    stack.run_until_quiet()

    deleted = body(answer)
    assert (answer.status, deleted["status"], deleted["model_name"]) == (200, "deleted", live["model_name"])
    # The expiry schedule went with the model: the answer says so, and nothing fires after the hour
    assert deleted["deleted_expiry_schedule"] == model
    assert scheduler.list_schedules()["Schedules"] == []
    stack.wait(3600 + 60)
    assert stack.fire_schedules() == []
    assert model not in stack.sagemaker.endpoints
    assert stack.sagemaker.endpoint_configs == {}
    assert live["model_name"] not in stack.sagemaker.models
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []
    after = predict(stack, model)
    assert (after.status, body(after)["error"]["code"]) == (404, "model_deleted")
    # As on AWS: InvokeEndpoint is allowed only on endpoints tagged for this stack, and a deleted
    # endpoint has no tags left, so the warm container's call is denied; predict then rechecks
    # model.json and answers 404. That one denial is expected; any other still fails the test.
    denied = [problem for problem in iam_guard.PROBLEMS if "sagemaker:InvokeEndpoint" in problem]
    assert denied
    iam_guard.PROBLEMS[:] = [problem for problem in iam_guard.PROBLEMS if problem not in denied]
    assert "was deleted at" in body(after)["error"]["message"]
    status = body(stack.api().handle("GET", f"/models/{model}", {}, b""))
    assert status["deleted_at"] is not None
    assert status.get("endpoint") is None
    run = body(stack.api().handle("GET", f"/runs/{live['run_id']}", {}, b""))
    assert (run["stage"], run["status"]) == ("live", "deleted")
    assert run["summary"].endswith(f", and its expiry schedule {model}")
    assert any("Model deleted" in subject for subject in subjects())
    assert stack.failures == []


def test_deleting_a_deleted_model_is_a_conflict_and_an_unknown_model_is_not_found(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    model = stack.observed[-1]["detail"]["endpoint_name"]
    stack.api().handle("DELETE", f"/models/{model}", {}, b"")

    again = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    unknown = stack.api().handle("DELETE", "/models/sagechain-nosuch", {}, b"")
    stack.run_until_quiet()

    assert (again.status, body(again)["error"]["code"]) == (409, "conflict")
    assert "was deleted at" in body(again)["error"]["message"]
    assert (unknown.status, body(unknown)["error"]["code"]) == (404, "model_not_found")
    assert kinds(stack).count("Model Deleted") == 1


def two_runs_on_one_endpoint(stack: LocalStack) -> tuple[dict[str, Any], dict[str, Any]]:
    """The flowers dataset uploaded twice: the second run's model replaces the first's."""
    upload_flowers(stack)
    stack.run_until_quiet()
    upload_flowers(
        stack,
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "labeling": {"mode": "ground-truth"},
            "training": {},
        },
    )
    stack.run_until_quiet()
    first, second = [e["detail"] for e in stack.observed if e["detail-type"] == "Deployment Started"]
    return first, second


def test_rolling_back_puts_the_first_runs_model_back_on_the_endpoint_with_autoscaling(
    stack: LocalStack,
) -> None:
    first, second = two_runs_on_one_endpoint(stack)
    model = first["endpoint_name"]

    # The first model's own configuration is deleted once the rollback's copy is live (cleanup
    # keeps only the live and previous deployments): compare with it as it was.
    original = stack.sagemaker.endpoint_configs[first["endpoint_config_name"]]

    answer = stack.api().handle("POST", f"/models/{model}/rollback", {}, b"")
    stack.run_until_quiet()

    started = body(answer)
    assert (answer.status, started["model_name"], started["replaced_model_name"]) == (
        202,
        first["model_name"],
        second["model_name"],
    )
    # A copy of the first model's own configuration, tagged with its run (a new configuration is
    # a new deployment to configure_autoscaling).
    config = stack.sagemaker.endpoint_configs[stack.sagemaker.endpoints[model]["EndpointConfigName"]]
    assert config["ProductionVariants"] == original["ProductionVariants"]
    assert config["ProductionVariants"][0]["ModelName"] == first["model_name"]
    assert stack.sagemaker.endpoints[model]["EndpointStatus"] == "InService"
    status = body(stack.api().handle("GET", f"/models/{model}", {}, b""))
    assert status["current_model"]["model_name"] == first["model_name"]
    assert status["endpoint"]["autoscaling"] is not None
    assert "Model Rolled Back" in kinds(stack)
    assert any("Model rolled back" in subject for subject in subjects())
    assert predict(stack, model).status == 200
    assert stack.failures == []


def test_rolling_back_with_no_previous_model_is_a_conflict_and_an_unknown_model_is_not_found(
    stack: LocalStack,
) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    model = stack.observed[-1]["detail"]["endpoint_name"]

    only = stack.api().handle("POST", f"/models/{model}/rollback", {}, b"")
    unknown = stack.api().handle("POST", "/models/sagechain-nosuch/rollback", {}, b"")

    assert (only.status, body(only)["error"]["code"]) == (409, "conflict")
    assert "no previous model to roll back to" in body(only)["error"]["message"]
    assert (unknown.status, body(unknown)["error"]["code"]) == (404, "model_not_found")
    assert stack.sagemaker.calls["UpdateEndpoint"] == 0
