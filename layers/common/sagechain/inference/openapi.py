"""The API's OpenAPI document: generated from the functions' resolvers, merged into one.

`make openapi` (local/openapi.py) loads every function with an event on the template's
`Api`, merges their resolvers' documents with merged_document() and writes the result to
docs/openapi.json and next to this module, where GET /openapi.json serves it from.

Powertools' OpenAPI models are imported only to generate the document (about 70 ms at a cold
start): predict imports this module for its routes' descriptions and serves the published copy.
"""

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from sagechain.event_sources.api_gateway import JSON, SagechainResolver, error_responses
from sagechain.inference.predict import CUSTOM_TYPES, IMAGE_TYPES, MAX_PAYLOAD_BYTES
from sagechain.prediction import Prediction

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import Server

PUBLISHED_FILE = "openapi.json"
TITLE = "sagechain inference API"
VERSION = "1"
DESCRIPTION = (
    "Two REST APIs per stack: Api serves inference callers (POST /models/{model}/predict), "
    "OperatorApi serves operators (the status routes and run control); each path's servers "
    "name its API, and both serve GET /openapi.json. Every call is signed with SigV4 "
    "(stack parameter ApiAuth=IAM, the default) by a principal allowed execute-api:Invoke on "
    "that API, or carries that API's key in x-api-key (ApiAuth=API_KEY): the inference key is "
    "refused on OperatorApi and the operator key on Api. "
    'Every error body is {"error": {"code", "message"}}; codes in capitals '
    "come from API Gateway itself (authentication, stage throttling), the others from the functions."
)


def _server(api: str, output: str, who: str) -> "Server":
    from aws_lambda_powertools.event_handler.openapi.models import Server, ServerVariable  # noqa: PLC0415

    return Server(
        url="https://{api_id}.execute-api.{region}.amazonaws.com/v1",
        description=f"The stack's {api}, stage v1 (the stack output {output}): {who}.",
        variables={
            "api_id": ServerVariable(default="api_id", description=f"The {api} REST API's id."),
            "region": ServerVariable(default="us-east-1", description="The stack's region."),
        },
    )


@cache
def servers() -> dict[str, "Server"]:
    """Two APIs for two principals; each path lists the API(s) that serve it (its `servers`)."""
    return {
        "Api": _server("Api", "ApiUrl", "inference callers (predict)"),
        "OperatorApi": _server("OperatorApi", "OperatorApiUrl", "operators (status routes and run control)"),
    }


# Which one applies is the deployment's choice (ApiAuth); the document names both.
SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 (service execute-api); ApiAuth=IAM.",
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
    "api_key": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The key of the path's API (ApiKeyId or OperatorApiKeyId output); ApiAuth=API_KEY.",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"sigv4": []}, {"api_key": []}]
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")

_BINARY = {"schema": {"type": "string", "format": "binary"}}
PREDICT_OPERATION: dict[str, Any] = {
    "summary": "Run a model on an image",
    "description": (
        "Built-in models (image classification, multi-label, object detection) read a JPEG or PNG "
        f"image ({', '.join(IMAGE_TYPES)}) and answer labels or boxes, highest score first. "
        f"Custom containers also read application/json and answer whatever they answer, with its "
        f"content type. The body is at most {MAX_PAYLOAD_BYTES:,} bytes once decoded; in practice "
        "Lambda's 6 MB invocation limit, which counts the image base64-encoded, stops images "
        "larger than about 4.5 MB before the function runs."
    ),
    "tags": ["predict"],
    "operation_id": "predict",
    "responses": {
        200: {
            "description": "The model's answer",
            "content": {
                JSON: {"model": Prediction},
                "*/*": {"schema": {"description": "A custom container's answer, with its own content type."}},
            },
        },
        **error_responses(400, 404, 413, 415, 424, 429, 502, 503, 504),
    },
    "openapi_extensions": {
        "requestBody": {
            "required": True,
            "content": {
                **dict.fromkeys(IMAGE_TYPES, _BINARY),
                CUSTOM_TYPES[-1]: {"schema": {"description": "Custom containers only: any JSON."}},
            },
        }
    },
}
DOCUMENT_OPERATION: dict[str, Any] = {
    "summary": "This OpenAPI document",
    "tags": ["api"],
    "operation_id": "openapi",
    "responses": {200: {"description": "The document", "content": {JSON: {"schema": {"type": "object"}}}}},
}


def resolver_schema(app: APIGatewayRestResolver) -> dict[str, Any]:
    """One resolver's document as a dict; sagechain resolvers answer 400, not 422, to invalid requests."""
    schema = app.get_openapi_schema().model_dump(by_alias=True, exclude_none=True, mode="json")
    if isinstance(app, SagechainResolver):
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
    return schema


def merged_document(apps: list[APIGatewayRestResolver], path_apis: dict[str, list[str]] | None = None) -> str:
    """The APIs' document from their functions' resolvers, as JSON text; a route claimed twice is an
    error. path_apis names the APIs (keys of servers()) that serve each path."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI  # noqa: PLC0415

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=list(servers().values()),
        security=SECURITY,
        on_conflict="error",
    )
    for app in apps:
        merge.add_schema(resolver_schema(app))
    document = merge.get_openapi_schema()
    for path, item in document.get("paths", {}).items():
        if path_apis and path in path_apis:
            item["servers"] = [
                servers()[api].model_dump(mode="json", exclude_none=True) for api in path_apis[path]
            ]
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.get("schemas", {})
    for name in _VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}" not in json.dumps(document):
            schemas.pop(name, None)
    OpenAPI.model_validate(document)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@cache
def published_document() -> str:
    """The document shipped with this package (written by `make openapi`)."""
    return resources.files(__package__).joinpath(PUBLISHED_FILE).read_text(encoding="utf-8")
