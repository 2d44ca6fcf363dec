"""The OpenAPI document: generated from the resolvers, merged across functions, published current."""

import json

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import OpenAPIMergeError
from local.lambda_context import FakeLambdaContext
from local.openapi import OUTPUTS, api_functions, document, load_app
from local.stack import DEMO_PARAMETERS, PHYSICAL
from local.template import Template

from sagechain.event_sources.api_gateway import SagechainResolver
from sagechain.inference import openapi
from tests.aws import sample_event


def predict_app() -> SagechainResolver:
    [predict] = [
        f for f in api_functions(Template(PHYSICAL, DEMO_PARAMETERS)) if f.logical_id == "PredictFunction"
    ]
    app = load_app(predict)
    assert isinstance(app, SagechainResolver)
    return app


def test_published_documents_match_the_code() -> None:
    text = document()

    for path in OUTPUTS:
        assert path.read_text(encoding="utf-8") == text, "run: make openapi"


def test_get_openapi_json_serves_the_published_document() -> None:
    response = predict_app().resolve(sample_event("predict", "openapi_document"), FakeLambdaContext())

    assert response["statusCode"] == 200
    assert response["body"] == document()


def test_every_function_behind_the_api_is_in_the_document() -> None:
    functions = api_functions(Template(PHYSICAL, DEMO_PARAMETERS))

    paths = json.loads(document())["paths"]

    assert "PredictFunction" in {f.logical_id for f in functions}
    assert {"/models/{model}/predict", "/openapi.json"} <= set(paths)


def test_every_path_names_the_api_that_serves_it() -> None:
    paths = json.loads(document())["paths"]

    def served_by(path: str) -> list[str]:
        return [server["description"].split(",")[0] for server in paths[path]["servers"]]

    assert served_by("/models/{model}/predict") == ["The stack's Api"]
    for operator_path in ("/runs", "/runs/{run_id}", "/models/{model}", "/runs/{run_id}/stop"):
        assert served_by(operator_path) == ["The stack's OperatorApi"]
    assert served_by("/models/{model}/rollback") == ["The stack's OperatorApi"]
    assert served_by("/openapi.json") == ["The stack's Api", "The stack's OperatorApi"]


def test_routes_of_several_resolvers_merge_into_one_document() -> None:
    status = SagechainResolver()

    @status.get("/runs/<run_id>")
    def get_run(run_id: str) -> dict[str, str]:
        return {"run_id": run_id}

    merged = json.loads(openapi.merged_document([predict_app(), status]))

    assert {"/models/{model}/predict", "/openapi.json", "/runs/{run_id}"} == set(merged["paths"])


def test_a_route_claimed_by_two_functions_is_an_error() -> None:
    other = SagechainResolver()

    @other.get("/openapi.json")
    def another_document() -> dict[str, str]:
        return {}

    with pytest.raises(OpenAPIMergeError, match=r"/openapi\.json"):
        openapi.merged_document([predict_app(), other])


def test_invalid_requests_are_documented_as_400_never_422() -> None:
    merged = json.loads(document())

    for item in merged["paths"].values():
        for key, operation in item.items():
            if key != "servers":  # a path item's servers are no operation
                assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in merged["components"]["schemas"]
    assert set(merged["paths"]["/models/{model}/predict"]["post"]["responses"]) == {
        "200",
        "400",
        "404",
        "413",
        "415",
        "424",
        "429",
        "502",
        "503",
        "504",
    }


def test_the_document_names_both_ways_to_authenticate() -> None:
    merged = json.loads(document())

    assert merged["security"] == [{"sigv4": []}, {"api_key": []}]
    assert merged["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
