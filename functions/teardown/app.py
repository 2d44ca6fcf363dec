"""teardown: the stack's custom resource; on stack deletion its endpoints, configurations and models go."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sagechain.adapters.cfn_response import send_response
from sagechain.adapters.sagemaker_hosting import SageMakerHosting
from sagechain.event_sources.cloudformation import CustomResourceRequest
from sagechain.observability import logger, tracer
from sagechain.teardown.service import handle_custom_resource
from sagechain.teardown.settings import TeardownSettings

settings = TeardownSettings.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A CloudFormation custom resource request -> its response, PUT to the ResponseURL."""
    request = CustomResourceRequest.model_validate(event)
    response = handle_custom_resource(request, SageMakerHosting(), settings.name_prefix, settings.stack_name)
    status = send_response(request.response_url, response)
    logger.info(
        "responded", extra={"status": response.status, "reason": response.reason, "http_status": status}
    )
    return {"Status": response.status}
