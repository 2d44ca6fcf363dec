"""Retrying a run offline: POST /runs/{run_id}/retry through the API, the stages and the observers."""

import json
from typing import Any

import pytest
from local.api import ApiResponse
from local.outbox import published
from local.sagemaker import ApiError
from local.sample_data import FLOWER_COLOURS, png
from local.stack import PHYSICAL, LocalStack

from tests.e2e.test_full_chain import kinds, subjects, upload_flowers

pytestmark = pytest.mark.e2e

LABELING_CHANGE = "SageMaker Ground Truth Labeling Job State Change"


def post(stack: LocalStack, path: str) -> ApiResponse:
    return stack.api().handle("POST", path, {}, b"")


def body(response: ApiResponse) -> dict[str, Any]:
    return dict(json.loads(response.body))


def run_of(stack: LocalStack, run_id: str) -> dict[str, Any]:
    return body(stack.api().handle("GET", f"/runs/{run_id}", {}, b""))


def first_run_id(stack: LocalStack) -> str:
    return str(stack.observed[0]["detail"]["run_id"])


def predicts(stack: LocalStack, model: str) -> bool:
    image = png(16, 16, FLOWER_COLOURS["rose"])
    answer = stack.api().handle("POST", f"/models/{model}/predict", {"Content-Type": "image/png"}, image)
    return answer.status == 200


def test_a_run_that_failed_at_training_is_retried_to_live_without_a_new_labeling_job(
    stack: LocalStack,
) -> None:
    # The first training job meets a transient failure; the retried one trains.
    failures = ["InternalServerError: An internal error occurred. Try again."]
    stack.sagemaker.fail_training = lambda _job: failures.pop() if failures else None
    upload_flowers(stack)
    stack.run_until_quiet()
    run_id = first_run_id(stack)
    assert (run_of(stack, run_id)["stage"], run_of(stack, run_id)["status"]) == ("training", "failed")
    [failed_email] = [m for s, m in published(PHYSICAL["NotificationTopic"]) if s and "failed" in s.lower()]
    assert f"POST /runs/{run_id}/retry" in failed_email

    answer = post(stack, f"/runs/{run_id}/retry")
    duplicate = post(stack, f"/runs/{run_id}/retry")
    stack.run_until_quiet()

    assert (answer.status, duplicate.status) == (202, 202)
    accepted = body(answer)
    assert (accepted["attempt"], accepted["from_stage"]) == (2, "training")
    assert body(duplicate)["attempt"] == 2
    # Labels reused: one labeling job in all; one new training job, named for its attempt.
    assert stack.sagemaker.calls["CreateLabelingJob"] == 1
    statuses = {name: job["TrainingJobStatus"] for name, job in stack.sagemaker.training.items()}
    assert sorted(statuses.values()) == ["Completed", "Failed"]
    [retrained] = [name for name, status in statuses.items() if status == "Completed"]
    assert retrained.endswith("-a2")
    assert stack.sagemaker.training[retrained]["Tags"][-1] == {"Key": "sagechain:attempt", "Value": "2"}
    run = run_of(stack, run_id)
    assert (run["stage"], run["status"], run["attempt"]) == ("live", "live", 2)
    events = [entry["event"] for entry in run["history"]]
    assert events.count("Training Started") == 2
    assert "Run Retried" in events
    assert kinds(stack).count("Run Retried") == 2  # the duplicate request, same attempt
    assert sum("Run retried" in subject for subject in subjects()) == 1
    assert predicts(stack, stack.observed[-1]["detail"]["endpoint_name"])
    assert stack.failures == []


def test_a_run_stopped_mid_labeling_is_relabeled_only_when_asked(stack: LocalStack) -> None:
    stopped: list[ApiResponse] = []

    def stop_once_labeling_runs() -> None:
        if "Labeling Started" in kinds(stack) and not stopped:
            stopped.append(post(stack, f"/runs/{first_run_id(stack)}/stop"))

    upload_flowers(stack)
    stack.run_until_quiet(on_round=stop_once_labeling_runs)
    run_id = first_run_id(stack)

    refused = post(stack, f"/runs/{run_id}/retry")
    assert (refused.status, body(refused)["error"]["code"]) == (409, "conflict")
    assert "?from=labeling" in body(refused)["error"]["message"]
    assert stack.sagemaker.calls["CreateLabelingJob"] == 1

    answer = post(stack, f"/runs/{run_id}/retry?from=labeling")
    stack.run_until_quiet()

    assert (answer.status, body(answer)["from_stage"]) == (202, "labeling")
    labeling = {name: job["LabelingJobStatus"] for name, job in stack.sagemaker.labeling.items()}
    assert sorted(labeling.values()) == ["Completed", "Stopped"]
    assert any(name.endswith("-labeling-a2") for name, status in labeling.items() if status == "Completed")
    run = run_of(stack, run_id)
    assert (run["status"], run["attempt"]) == ("live", 2)


def test_a_run_stopped_as_its_labeling_completes_does_not_start_training(stack: LocalStack) -> None:
    stopped: list[ApiResponse] = []
    emit = stack.sagemaker.emit

    def stop_as_labeling_completes(detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        # The stop arrives between the stages: the job has completed and its event is on its way.
        if detail_type == LABELING_CHANGE and detail.get("LabelingJobStatus") == "Completed":
            stopped.append(post(stack, f"/runs/{first_run_id(stack)}/stop"))
        emit(detail_type, detail, resources)

    stack.sagemaker.emit = stop_as_labeling_completes
    upload_flowers(stack)
    stack.run_until_quiet()

    [answer] = stopped
    assert (answer.status, body(answer)["stopped_jobs"]) == (202, [])
    assert "Training Started" not in kinds(stack)
    assert stack.sagemaker.training == {}
    run = run_of(stack, first_run_id(stack))
    assert (run["stage"], run["status"]) == ("labeling", "stopped")
    # Retrying it from training reuses the labels that completed.
    stack.sagemaker.emit = emit
    retried = post(stack, f"/runs/{first_run_id(stack)}/retry?from=training")
    stack.run_until_quiet()
    assert retried.status == 202
    assert stack.sagemaker.calls["CreateLabelingJob"] == 1
    assert run_of(stack, first_run_id(stack))["status"] == "live"


def test_a_deployment_refused_for_a_quota_is_retried_without_retraining(stack: LocalStack) -> None:
    refusals = [ApiError("ResourceLimitExceeded", "The account-level service limit is 0 Instances.")]
    stack.sagemaker.refuse_endpoint = lambda _request: refusals.pop() if refusals else None
    upload_flowers(stack)
    stack.run_until_quiet()
    run_id = first_run_id(stack)
    assert "Deployment Failed" in kinds(stack)
    trained = stack.sagemaker.calls["CreateTrainingJob"]

    answer = post(stack, f"/runs/{run_id}/retry")
    stack.run_until_quiet()

    assert (answer.status, body(answer)["from_stage"]) == (202, "deployment")
    assert stack.sagemaker.calls["CreateTrainingJob"] == trained == 1
    run = run_of(stack, run_id)
    assert (run["status"], run["attempt"]) == ("live", 2)
    assert predicts(stack, run["endpoint_name"])


def test_retrying_an_unknown_run_is_not_found_and_a_bad_stage_is_invalid(stack: LocalStack) -> None:
    unknown = post(stack, "/runs/nosuch-000000000000/retry")
    invalid = post(stack, "/runs/nosuch-000000000000/retry?from=dataset")

    assert (unknown.status, body(unknown)["error"]["code"]) == (404, "run_not_found")
    assert (invalid.status, body(invalid)["error"]["code"]) == (400, "invalid_request")
