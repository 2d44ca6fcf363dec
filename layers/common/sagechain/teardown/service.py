"""The stack's custom resource: on Delete, delete this stack's endpoints, configurations and models.

deploy_model creates them at run time, so CloudFormation does not know them and `sam delete` would
leave them billing. On Delete the endpoints, then the endpoint configurations, then the models whose
names start with NamePrefix and whose sagechain:stack tag names this stack are deleted; another
stack's (even with the same prefix) are left alone. The property RetainEndpointsOnDelete "true"
(the stack parameter) keeps them. Create and Update do nothing.

CloudFormation waits for a response at the request's ResponseURL (up to an hour by default), so
every request gets one: a failure to delete is a FAILED response naming what is left, never
silence; the stack deletion then fails and can be retried, or retried retaining the resources.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sagechain.errors import RequestRefusedError
from sagechain.event_sources.cloudformation import CustomResourceRequest, CustomResourceResponse, respond
from sagechain.names import STACK_TAG
from sagechain.observability import logger
from sagechain.ports import NamedResource, StackSageMaker

RETAIN_PROPERTY = "RetainEndpointsOnDelete"


@dataclass(frozen=True)
class Teardown:
    """What one Delete request deleted and what it could not."""

    deleted: list[str]
    failed: list[str]


def handle_custom_resource(
    request: CustomResourceRequest, sagemaker: StackSageMaker, name_prefix: str, stack_name: str
) -> CustomResourceResponse:
    """The response to one request: Delete deletes this stack's hosting resources unless retained."""
    physical_id = request.physical_resource_id or f"{stack_name}-sagemaker-teardown"
    if request.request_type != "Delete":
        return respond(request, physical_id)
    if str(request.resource_properties.get(RETAIN_PROPERTY, "false")).lower() == "true":
        logger.info("endpoints retained", extra={"property": RETAIN_PROPERTY})
        return respond(
            request, physical_id, f"{RETAIN_PROPERTY} is true: endpoints, configurations and models kept"
        )
    try:
        teardown = delete_stack_resources(sagemaker, name_prefix, stack_name)
    except Exception as err:  # CloudFormation must hear back, whatever went wrong
        logger.exception("teardown failed")
        return respond(
            request, physical_id, f"Deleting this stack's SageMaker resources failed: {err}", failed=True
        )
    if teardown.failed:
        reason = (
            f"Could not delete {len(teardown.failed)} SageMaker resource(s) of stack {stack_name}: "
            f"{'; '.join(teardown.failed)}. Delete them by hand (README, Costs and teardown) and delete the "
            f"stack again, or set {RETAIN_PROPERTY}=true."
        )
        return respond(request, physical_id, reason, failed=True)
    return respond(request, physical_id, f"Deleted {len(teardown.deleted)} SageMaker resource(s)")


def delete_stack_resources(sagemaker: StackSageMaker, name_prefix: str, stack_name: str) -> Teardown:
    """Delete the endpoints, then the configurations, then the models this stack tagged."""
    deleted: list[str] = []
    failed: list[str] = []
    kinds: list[tuple[str, Callable[[str], list[NamedResource]], Callable[[str], None]]] = [
        ("endpoint", sagemaker.endpoints, sagemaker.delete_endpoint),
        ("endpoint configuration", sagemaker.endpoint_configs, sagemaker.delete_endpoint_config),
        ("model", sagemaker.models, sagemaker.delete_model),
    ]
    for kind, listed, delete in kinds:
        for resource in listed(name_prefix):
            if not resource.name.startswith(f"{name_prefix}-"):
                continue
            if sagemaker.tags(resource.arn).get(STACK_TAG) != stack_name:
                continue
            try:
                delete(resource.name)
            except RequestRefusedError as err:
                failed.append(f"{kind} {resource.name} ({err.code}: {err.message})")
                continue
            deleted.append(f"{kind} {resource.name}")
            logger.info("deleted", extra={"kind": kind, "resource": resource.name})
    return Teardown(deleted, failed)
