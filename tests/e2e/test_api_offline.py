"""The REST API offline, after the chain: predict and the status API through API Gateway events."""

import json

import pytest
from local.sample_data import FLOWER_COLOURS, png
from local.stack import OFFLINE_API_KEYS, LocalStack

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


def test_the_inference_key_is_refused_on_the_operator_routes_and_the_operator_key_on_predict(
    stack: LocalStack,
) -> None:
    api = stack.api()
    [inference_key] = [key for key, name in OFFLINE_API_KEYS.items() if name == "Api"]
    [operator_key] = [key for key, name in OFFLINE_API_KEYS.items() if name == "OperatorApi"]
    image = {"Content-Type": "image/png"}

    refused = [
        api.handle("GET", "/runs", {"x-api-key": inference_key}, b""),
        api.handle("POST", "/runs/nosuch-000000000000/stop", {"x-api-key": inference_key}, b""),
        api.handle("DELETE", "/models/nosuch", {"x-api-key": inference_key}, b""),
        api.handle("POST", "/models/nosuch/rollback", {"x-api-key": inference_key}, b""),
        api.handle(
            "POST", "/models/nosuch/predict", {**image, "x-api-key": operator_key}, png(4, 4, (0, 0, 0))
        ),
    ]
    runs = api.handle("GET", "/runs", {"x-api-key": operator_key}, b"")
    predicted = api.handle(
        "POST", "/models/nosuch/predict", {**image, "x-api-key": inference_key}, png(4, 4, (0, 0, 0))
    )

    assert [answer.status for answer in refused] == [403] * 5
    assert {json.loads(answer.body)["error"]["code"] for answer in refused} == {"INVALID_API_KEY"}
    assert runs.status == 200
    assert (predicted.status, json.loads(predicted.body)["error"]["code"]) == (404, "model_not_found")


def test_make_demo_runs_the_whole_chain_to_a_prediction(capsys: pytest.CaptureFixture[str]) -> None:
    from local import demo  # noqa: PLC0415 - the demo sets the offline environment itself

    exit_code = demo.main([])

    # Each printed line is "[  1.23s] what happened"; the timings go.
    lines = [line.split("] ", 1)[-1] for line in capsys.readouterr().out.splitlines()]
    assert exit_code == 0
    # The COCO zip became one box per image, four of each class
    [fruit_prepared] = [line for line in lines if line.startswith("Dataset Prepared   run fruit-")]
    assert fruit_prepared.endswith("8 images, skipped nothing, labels {'apple': 4, 'blueberry': 4}")
    # Each dataset ended where the demo means it to: the run over a quota failed, then went live
    # once the quota was raised and it was retried (attempt 2, trained without labeling again)
    runs = {line.split()[1].rsplit("-", 1)[0]: line.split()[2] for line in lines if line.startswith("run ")}
    assert runs == {"flowers": "live", "fruit": "live", "typo": "rejected", "pets": "live"}
    assert any(line.startswith("Training Failed    run pets-") for line in lines)
    [retry] = [line for line in lines if line.startswith("retry ")]
    assert retry.endswith("-> 202: attempt 2")
    [artifacts] = [line for line in lines if line.startswith("artifacts ")]
    assert artifacts.endswith("-> 200 (links valid 15 min)")
    # And both live models answer: the blueberry is found in a box, the tulip ranked first
    answers = {
        line.split("/models/")[1].split("/")[0]: json.loads(lines[i + 1].strip())
        for i, line in enumerate(lines)
        if line.startswith("predict ")
    }
    assert "-> 200" in " ".join(line for line in lines if line.startswith("predict "))
    [box] = answers["sagechain-fruit"]["predictions"]
    assert box["label"] == "blueberry"
    assert 0 <= box["xmin"] < box["xmax"] <= 1
    assert 0 <= box["ymin"] < box["ymax"] <= 1
    assert [p["label"] for p in answers["sagechain-flowers"]["predictions"]] == ["tulip", "rose"]
    # And a batch scored the flowers model's images: where its predictions are is printed
    [batch] = [line for line in lines if line.startswith("batch ") and "GET /v1/" in line]
    assert batch.endswith("-> 200: Completed")
    assert any(line.startswith("Batch Completed") and "rose" in line for line in lines)
    assert any("/batches/sagechain-flowers/tonight/predictions.jsonl" in line for line in lines)
