"""The REST API offline, after the chain: predict and the status API through API Gateway events."""

import json

import pytest
from local.sample_data import FLOWER_COLOURS, png
from local.stack import LocalStack

from tests.e2e.test_full_chain import upload_flowers

pytestmark = pytest.mark.e2e


def test_a_live_model_answers_predictions_and_the_status_api_shows_the_run(stack: LocalStack) -> None:
    upload_flowers(stack)
    stack.run_until_quiet()
    model = stack.observed[-1]["detail"]["endpoint_name"]
    api = stack.api()

    predicted = api.handle(
        "POST",
        f"/models/{model}/predict?k=1",
        {"Content-Type": "image/png"},
        png(16, 16, FLOWER_COLOURS["rose"]),
    )
    runs = api.handle("GET", "/runs", {}, b"")
    status = api.handle("GET", f"/models/{model}", {}, b"")

    assert predicted.status == 200
    assert json.loads(predicted.body)["predictions"] == [
        {"label": "rose", "score": pytest.approx(1, abs=0.05)}
    ]
    [run] = json.loads(runs.body)["runs"]
    assert (run["dataset"], run["status"]) == ("flowers", "live")
    assert json.loads(status.body)["endpoint"]["status"] == "InService"


def test_api_errors_are_json_with_the_right_status(stack: LocalStack) -> None:
    api = stack.api()

    unknown_model = api.handle(
        "POST", "/models/nosuch/predict", {"Content-Type": "image/png"}, png(4, 4, (0, 0, 0))
    )
    unknown_run = api.handle("GET", "/runs/nosuch-000000000000", {}, b"")
    unknown_model_status = api.handle("GET", "/models/nosuch", {}, b"")

    assert (unknown_model.status, json.loads(unknown_model.body)["error"]["code"]) == (404, "model_not_found")
    assert (unknown_run.status, json.loads(unknown_run.body)["error"]["code"]) == (404, "run_not_found")
    assert unknown_model_status.status == 404
    assert unknown_model.headers["Content-Type"] == "application/json"


def test_make_demo_runs_the_whole_chain_to_a_prediction(capsys: pytest.CaptureFixture[str]) -> None:
    from local import demo  # noqa: PLC0415 - the demo sets the offline environment itself

    exit_code = demo.main([])

    printed = capsys.readouterr().out
    assert exit_code == 0
    assert "Model Live" in printed
    assert "predict            POST /v1/models/sagechain-flowers/predict?k=2" in printed
    assert "emulated endpoint" in printed
