"""run_control: POST /runs/{run_id}/stop and /retry, DELETE /models/{model}, POST /models/{model}/rollback.

Its own function, so that the status API stays read-only: only this role may stop jobs and
delete endpoints.
`app` is the Powertools resolver; its routes' types make the OpenAPI schema.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.events import EventBridgePublisher
from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.adapters.s3 import S3ObjectStore
from sagechain.adapters.sagemaker_control import SageMakerJobStopper
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.deployment.rollback import ModelRollback, RollbackService
from sagechain.event_sources.api_gateway import JSON, SagechainResolver, error_responses
from sagechain.events import RetryStage
from sagechain.names import STACK_TAG
from sagechain.observability import logger, tracer
from sagechain.run_control.delete_model import DeleteModelService, ModelDeletion
from sagechain.run_control.retry_run import RetryRunService, RunRetryAccepted
from sagechain.run_control.settings import RunControlSettings
from sagechain.run_control.stop_run import RunStopAccepted, StopRunService

app = SagechainResolver()


@cache
def service() -> StopRunService:
    """The service of this container, built on first use."""
    settings = RunControlSettings.from_env()
    return StopRunService(
        DynamoRunStore(settings.runs_table),
        SageMakerJobStopper(),
        S3ObjectStore(settings.data_bucket),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
    )


@cache
def retries() -> RetryRunService:
    """The retry service of this container, built on first use."""
    settings = RunControlSettings.from_env()
    return RetryRunService(
        DynamoRunStore(settings.runs_table),
        S3ObjectStore(settings.data_bucket),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        lambda: datetime.now(UTC),
    )


@cache
def deletion() -> DeleteModelService:
    """The model deletion service of this container, built on first use."""
    settings = RunControlSettings.from_env()
    return DeleteModelService(
        S3ObjectStore(settings.data_bucket),
        SageMakerHosting(),
        ApplicationAutoScaling({}),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        lambda: datetime.now(UTC),
        CloudWatchAlarms(),
        # Only DeleteSchedule: no role to pass.
        EventBridgeSchedules(settings.expiry_function_arn, None),
    )


@cache
def rollbacks() -> RollbackService:
    """The rollback service of this container, built on first use."""
    settings = RunControlSettings.from_env()
    return RollbackService(
        S3ObjectStore(settings.data_bucket),
        SageMakerHosting(),
        ApplicationAutoScaling(tags={STACK_TAG: settings.stack_name}),
        EventBridgePublisher(settings.event_bus_name, settings.stack_id),
        settings.name_prefix,
        settings.stack_name,
    )


def _caller() -> str | None:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.api_key_id


@app.post(
    "/runs/<run_id>/stop",
    summary="Stop a run: its labeling, training or tuning jobs and a waiting deployment",
    responses={
        202: {
            "description": "The jobs are stopping; the run ends stopped and the team is emailed.",
            "content": {JSON: {"model": RunStopAccepted}},
        },
        **error_responses(400, 404, 409, 500),
    },
)
def stop_run(run_id: Annotated[str, Path(max_length=128)]) -> Response[str]:
    accepted = service().stop_run(run_id, _caller())
    return Response(status_code=202, content_type=JSON, body=accepted.model_dump_json())


@app.post(
    "/runs/<run_id>/retry",
    summary="Retry a failed or stopped run from the stage it ended at, reusing what came before",
    responses={
        202: {
            "description": "The run's next attempt is starting; its stage's emails and history follow.",
            "content": {JSON: {"model": RunRetryAccepted}},
        },
        **error_responses(400, 404, 409, 500),
    },
)
def retry_run(
    run_id: Annotated[str, Path(max_length=128)],
    from_stage: Annotated[
        RetryStage | None,
        Query(
            alias="from",
            description="Start at an earlier stage: labeling (buys a new labeling job), training or "
            "deployment. Default: the stage the run ended at (labeling only when asked for).",
        ),
    ] = None,
) -> Response[str]:
    accepted = retries().retry_run(run_id, from_stage, _caller())
    return Response(status_code=202, content_type=JSON, body=accepted.model_dump_json())


@app.delete(
    "/models/<model>",
    summary="Delete a model: its endpoint, autoscaling, endpoint configurations and models",
    responses=error_responses(400, 404, 409, 500),
)
def delete_model(model: Annotated[str, Path(max_length=128)]) -> ModelDeletion:
    return deletion().delete_model(model, _caller())


@app.post(
    "/models/<model>/rollback",
    summary="Put the previous live model back on the endpoint, without retraining",
    responses={
        202: {
            "description": "The endpoint is being updated; Model live follows when it is back in service.",
            "content": {JSON: {"model": ModelRollback}},
        },
        **error_responses(400, 404, 409, 500),
    },
)
def rollback_model(model: Annotated[str, Path(max_length=128)]) -> Response[str]:
    started = rollbacks().rollback(model, _caller())
    return Response(status_code=202, content_type=JSON, body=started.model_dump_json())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An API Gateway (REST, proxy) request -> its JSON response."""
    return app.resolve(event, context)
