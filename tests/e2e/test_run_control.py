"""Run control offline: stop a run, delete a model; through the API, emulated SageMaker, observers."""

import json
from typing import Any

import boto3
import pytest
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


def test_deleting_a_live_model_deletes_its_endpoint_and_predict_then_answers_404(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    live = stack.observed[-1]["detail"]
    model = live["endpoint_name"]
    assert predict(stack, model).status == 200

    answer = stack.api().handle("DELETE", f"/models/{model}", {}, b"")
    stack.run_until_quiet()

    deleted = body(answer)
    assert (answer.status, deleted["status"], deleted["model_name"]) == (200, "deleted", live["model_name"])
    assert model not in stack.sagemaker.endpoints
    assert stack.sagemaker.endpoint_configs == {}
    assert live["model_name"] not in stack.sagemaker.models
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []
    after = predict(stack, model)
    assert (after.status, body(after)["error"]["code"]) == (404, "model_deleted")
    assert "was deleted at" in body(after)["error"]["message"]
    status = body(stack.api().handle("GET", f"/models/{model}", {}, b""))
    assert status["deleted_at"] is not None
    assert status.get("endpoint") is None
    run = body(stack.api().handle("GET", f"/runs/{live['run_id']}", {}, b""))
    assert (run["stage"], run["status"]) == ("live", "deleted")
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
