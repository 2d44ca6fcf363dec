"""The offline API Gateway: requests become the proxy events API Gateway sends."""

import base64
import http.client
import json
import threading
from typing import Any

from local.api import LocalApi, Route, proxy_event, serve
from local.sample_data import png
from local.template import parsed_template


def test_binary_body_arrives_base64_encoded_with_path_and_query_parameters() -> None:
    image = png(4, 4, (1, 2, 3))
    route = Route("PredictFunction", "POST", "/models/{model}/predict")

    event = proxy_event(route, "POST", "/models/flowers/predict?k=3", {"Content-Type": "image/png"}, image)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == image
    assert event["pathParameters"] == {"model": "flowers"}
    assert event["queryStringParameters"] == {"k": "3"}
    assert event["resource"] == "/models/{model}/predict"


def test_json_body_stays_text() -> None:
    event = proxy_event(
        Route("F", "POST", "/x"), "POST", "/x", {"Content-Type": "application/json"}, b'{"a": 1}'
    )

    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"a": 1}


def test_requests_are_routed_by_method_and_path_and_unknown_routes_get_a_404_listing_the_routes() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append((function, event))
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    api = LocalApi(
        [Route("Runs", "GET", "/runs/{run_id}"), Route("Predict", "POST", "/models/{model}/predict")], invoke
    )

    ok = api.handle("GET", "/runs/abc", {}, b"")
    missing = api.handle("GET", "/nowhere", {}, b"")

    assert ok.status == 200
    assert seen[0][0] == "Runs"
    assert seen[0][1]["pathParameters"] == {"run_id": "abc"}
    assert missing.status == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert json.loads(missing.body)["routes"] == ["GET /v1/runs/{run_id}", "POST /v1/models/{model}/predict"]


def test_an_api_key_is_refused_on_the_routes_of_another_apis_usage_plan() -> None:
    seen: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(function)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    api = LocalApi(
        [
            Route("Predict", "POST", "/models/{model}/predict", "Api"),
            Route("Predict", "GET", "/openapi.json", "Api"),
            Route("Control", "POST", "/runs/{run_id}/stop", "OperatorApi"),
            Route("Predict", "GET", "/openapi.json", "OperatorApi"),
        ],
        invoke,
        {"inference": "Api", "operator": "OperatorApi"},
    )

    refused = api.handle("POST", "/runs/r1/stop", {"x-api-key": "inference"}, b"")
    unknown = api.handle("POST", "/models/m/predict", {"x-api-key": "nosuch"}, b"")
    operator_on_predict = api.handle("POST", "/models/m/predict", {"x-api-key": "operator"}, b"")
    stopped = api.handle("POST", "/runs/r1/stop", {"x-api-key": "operator"}, b"")
    predicted = api.handle("POST", "/models/m/predict", {"X-Api-Key": "inference"}, b"")
    documents = [
        api.handle("GET", "/openapi.json", {"x-api-key": key}, b"") for key in ("inference", "operator")
    ]

    assert (refused.status, json.loads(refused.body)["error"]["code"]) == (403, "INVALID_API_KEY")
    assert unknown.status == operator_on_predict.status == 403
    assert stopped.status == predicted.status == 200
    assert [d.status for d in documents] == [200, 200]
    assert seen == ["Control", "Predict", "Predict", "Predict"]


def test_a_key_outside_the_routes_usage_plan_gets_api_gateways_own_403_in_the_templates_shape() -> None:
    # API Gateway answers an API key not in the stage's usage plan 403 with the INVALID_API_KEY
    # gateway response, whose message is "Forbidden" ({"message":"Forbidden"} uncustomized:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
    # The template customizes DEFAULT_4XX, which INVALID_API_KEY falls back to, for both APIs.
    template = parsed_template()
    api = LocalApi(
        [Route("Control", "POST", "/runs/{run_id}/stop", "OperatorApi")], lambda *_: {}, {"k": "Api"}
    )

    refused = api.handle("POST", "/runs/r1/stop", {"x-api-key": "k"}, b"")

    for logical_id in ("Api", "OperatorApi"):
        shape = template["Resources"][logical_id]["Properties"]["GatewayResponses"]["DEFAULT_4XX"]
        rendered = (
            shape["ResponseTemplates"]["application/json"]
            .replace("$context.error.responseType", "INVALID_API_KEY")
            .replace("$context.error.messageString", json.dumps("Forbidden"))
        )
        assert (refused.status, json.loads(refused.body)) == (403, json.loads(rendered))


def test_a_png_posted_as_curls_default_form_content_type_arrives_base64_and_unchanged() -> None:
    # curl --data-binary without -H sends Content-Type: application/x-www-form-urlencoded.
    image = png(4, 4, (1, 2, 3))
    route = Route("PredictFunction", "POST", "/models/{model}/predict")

    for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, {}):
        event = proxy_event(route, "POST", "/models/m/predict", headers, image)

        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == image


def test_the_server_answers_a_png_without_content_type_and_a_crashing_handler_with_json() -> None:
    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        if event["path"] == "/crash":
            raise RuntimeError("boom")
        return {"statusCode": 415, "headers": {"Content-Type": "application/json"}, "body": '{"e": 1}'}

    api = LocalApi([Route("P", "POST", "/models/{model}/predict"), Route("C", "GET", "/crash")], invoke)
    server = serve(api, 0, threading.Lock())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answers = []
    try:
        for method, path, body in (
            ("POST", "/v1/models/m/predict", png(4, 4, (1, 2, 3))),
            ("GET", "/v1/crash", None),
        ):
            # http.client sends no Content-Type unless told: a client that names no type.
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            connection.request(method, path, body=body)
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
            connection.close()
    finally:
        server.shutdown()
        server.server_close()

    assert answers == [(415, {"e": 1}), (502, {"message": "Internal server error"})]


def test_deployed_api_urls_in_answers_become_the_local_servers() -> None:
    deployed = "https://local.execute-api.us-east-1.amazonaws.com/v1"
    body = json.dumps({"predict_url": f"{deployed}/models/m/predict"})
    api = LocalApi(
        [Route("S", "GET", "/models/{model}")],
        lambda *_: {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body},
        deployed_urls={"Api": deployed},
    )
    server = serve(api, 0, threading.Lock())
    server.server_close()

    answer = api.handle("GET", "/models/m", {}, b"")

    local = f"http://127.0.0.1:{server.server_port}/v1/models/m/predict"
    assert json.loads(answer.body) == {"predict_url": local}
