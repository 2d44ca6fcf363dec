"""status_api: GET /runs, GET /runs/{run_id}, GET /runs/{run_id}/artifacts, GET /models/{model}, and
GET /models/{model}/batches, GET /models/{model}/batches/{name}.

`app` is the Powertools resolver; its routes' types make the OpenAPI schema
(app.get_openapi_json_schema()), so importing this module needs no AWS and no settings.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.adapters.s3 import S3Links, S3ObjectStore
from sagechain.adapters.sagemaker_status import EndpointScaling, SageMakerStatus
from sagechain.adapters.sns_email import SnsEmailSender
from sagechain.event_sources.api_gateway import SagechainResolver, error_responses
from sagechain.observability import logger, tracer
from sagechain.observers.artifacts import ArtifactService, RunArtifacts
from sagechain.observers.email_delivery import EmailDelivery
from sagechain.observers.settings import StatusApiSettings
from sagechain.observers.status_api import StatusService
from sagechain.observers.status_models import BatchList, BatchView, ModelStatus, RunDetail, RunPage

app = SagechainResolver()
ERROR_RESPONSES = error_responses(400, 404, 500)


@cache
def service() -> StatusService:
    """The service of this container, built on first use."""
    settings = StatusApiSettings.from_env()
    return StatusService(
        DynamoRunStore(settings.runs_table),
        S3ObjectStore(settings.data_bucket),
        SageMakerStatus(),
        EndpointScaling(),
        settings.name_prefix,
        EmailDelivery(SnsEmailSender(settings.topic_arn)),
    )


@cache
def artifacts() -> ArtifactService:
    """The artifacts service of this container, built on first use."""
    settings = StatusApiSettings.from_env()
    return ArtifactService(
        DynamoRunStore(settings.runs_table),
        S3ObjectStore(settings.data_bucket),
        S3Links(settings.data_bucket),
        SageMakerStatus(),
        lambda: datetime.now(UTC),
    )


@app.get("/runs", summary="Runs, newest first", responses=ERROR_RESPONSES)
def list_runs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20, next_token: Annotated[str | None, Query()] = None
) -> RunPage:
    return service().list_runs(limit, next_token)


@app.get("/runs/<run_id>", summary="One run, its jobs and its history", responses=ERROR_RESPONSES)
def get_run(run_id: Annotated[str, Path(max_length=128)]) -> RunDetail:
    return service().get_run(run_id)


@app.get(
    "/runs/<run_id>/artifacts",
    summary="A run's models, output data, manifests and logs, as download links valid for 15 minutes",
    responses=ERROR_RESPONSES,
)
def get_run_artifacts(run_id: Annotated[str, Path(max_length=128)]) -> RunArtifacts:
    return artifacts().run_artifacts(run_id)


@app.get(
    "/models/<model>", summary="A model's endpoint, autoscaling and current model", responses=ERROR_RESPONSES
)
def get_model(model: Annotated[str, Path(max_length=128)]) -> ModelStatus:
    return service().model_status(model)


@app.get(
    "/models/<model>/batches",
    summary="A model's batch predictions, newest first, with their cost estimates and status",
    responses=ERROR_RESPONSES,
)
def list_batches(model: Annotated[str, Path(max_length=128)]) -> BatchList:
    return service().list_batches(model)


@app.get(
    "/models/<model>/batches/<name>",
    summary="One batch: its transform job, cost estimate, status and, once done, its counts and predictions",
    responses=ERROR_RESPONSES,
)
def get_batch(
    model: Annotated[str, Path(max_length=128)], name: Annotated[str, Path(max_length=128)]
) -> BatchView:
    return service().get_batch(model, name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An API Gateway (REST, proxy) request -> its JSON response."""
    return app.resolve(event, context)
