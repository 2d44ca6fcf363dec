"""teardown: the stack's custom resource; on stack deletion its jobs stop, its endpoints and schedules go."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.cfn_response import TIMEOUT_SECONDS, send_response
from sagechain.adapters.clients import TEARDOWN_CALL_MAX_SECONDS, teardown_client
from sagechain.adapters.cloudwatch import CloudWatchAlarms
from sagechain.adapters.sagemaker_control import SageMakerJobStopper
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.event_sources.cloudformation import CustomResourceRequest
from sagechain.observability import logger, tracer
from sagechain.teardown.service import StackResources, handle_custom_resource
from sagechain.teardown.settings import TeardownSettings

settings = TeardownSettings.from_env()
# Kept back from the function's remaining time: one more call at its slowest, and the response.
RESERVE_SECONDS = TEARDOWN_CALL_MAX_SECONDS + TIMEOUT_SECONDS


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A CloudFormation custom resource request -> its response, PUT to the ResponseURL."""
    request = CustomResourceRequest.model_validate(event)
    sagemaker = teardown_client("sagemaker")
    resources = StackResources(
        sagemaker=SageMakerHosting(sagemaker),
        jobs=SageMakerJobStopper(sagemaker),
        autoscaling=ApplicationAutoScaling({}, teardown_client("application-autoscaling")),
        schedules=EventBridgeSchedules(settings.expiry_function_arn, None, teardown_client("scheduler")),
        alarms=CloudWatchAlarms(teardown_client("cloudwatch")),
        batch_deadlines=EventBridgeSchedules(
            settings.collect_batch_queue_arn, None, teardown_client("scheduler")
        ),
    )
    response = handle_custom_resource(
        request,
        resources,
        settings.name_prefix,
        settings.stack_name,
        lambda: context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS,
    )
    status = send_response(request.response_url, response)
    logger.info(
        "responded", extra={"status": response.status, "reason": response.reason, "http_status": status}
    )
    return {"Status": response.status}
