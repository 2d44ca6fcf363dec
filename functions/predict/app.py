"""predict: POST /models/{model}/predict, an image in and the model's labels out; GET /openapi.json."""

import random
import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.clients import api_s3_client
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_runtime import SageMakerRuntimeEndpoint
from sagechain.event_sources.api_gateway import (
    JSON,
    DirectRoute,
    SagechainResolver,
    plain_fraction,
    plain_whole_number,
)
from sagechain.inference import openapi
from sagechain.inference import predict as service
from sagechain.inference.settings import PredictSettings
from sagechain.observability import logger, tracer
from sagechain.prediction import Prediction

settings = PredictSettings.from_env()
app = SagechainResolver()
models = service.ModelDirectory(
    S3ObjectStore(settings.data_bucket, factory=api_s3_client), settings.model_cache_ttl_seconds
)
endpoints = SageMakerRuntimeEndpoint()
timing = service.Timing(now=time.monotonic, sleep=time.sleep, jitter=lambda cap: random.uniform(0, cap))  # noqa: S311
policy = service.RetryPolicy(max_attempts=settings.max_attempts)


# No return annotation: Powertools would validate the answer against it as text, and a custom
# container's answer may be binary. Hence the ignore: mypy still checks the body.
@app.post("/models/<model>/predict", **openapi.PREDICT_OPERATION)
def predict(  # type: ignore[no-untyped-def]
    model: Annotated[str, Path(description="The model's name (its endpoint name).")],
    k: Annotated[
        int, Query(ge=1, description="image-classification: how many labels.")
    ] = service.DEFAULT_TOP_K,
    threshold: Annotated[
        float, Query(ge=0, le=1, description="Multi-label and object detection: the lowest score returned.")
    ] = service.DEFAULT_THRESHOLD,
):
    """Run the model on the body."""
    event = app.current_event
    budget = min(settings.deadline_seconds, app.lambda_context.get_remaining_time_in_millis() / 1000 - 1)
    request = service.PredictRequest(
        model=model,
        body=service.body_bytes(event.body, bool(event.is_base64_encoded)),
        content_type=event.headers.get("content-type"),
        accept=event.headers.get("accept"),
        k=k,
        threshold=threshold,
    )
    logger.append_keys(model=model)
    answer = service.predict(request, models, endpoints, timing.now() + budget, timing, policy)
    if isinstance(answer, Prediction):
        return Response(status_code=200, content_type=JSON, body=answer.model_dump_json(exclude_none=True))
    content_type = answer.content_type or "application/octet-stream"
    return Response(status_code=200, content_type=content_type, body=service.answer_body(answer))


@app.get("/openapi.json", **openapi.DOCUMENT_OPERATION)
def openapi_document() -> Response[str]:
    """This API's OpenAPI document."""
    return Response(status_code=200, content_type=JSON, body=openapi.published_document())


# The predict route's requests skip the resolver's per-request machinery; every other request,
# and any predict request with a query value these parsers do not take plainly, goes through it.
direct = DirectRoute(
    app, "POST", "/models/<model>/predict", {"k": plain_whole_number, "threshold": plain_fraction}
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway (REST, proxy integration) -> the route's answer."""
    answer = direct.resolve(event, context)
    return answer if answer is not None else app.resolve(event, context)
