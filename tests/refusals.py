"""What SageMaker and Application Auto Scaling answer when they refuse a request, in one place.

The unit fakes raise what the adapters make of these answers, and tests/unit/test_strict_fakes.py
stubs each answer into the real adapter to check the fake and the adapter raise the same thing.
Codes and messages are the ones AWS sends (and local/sagemaker.py's emulator uses):

- DescribeEndpoint / DescribeEndpointConfig / DescribeModel, and any request naming one, for a
  name that does not exist: ValidationException 'Could not find endpoint "<arn>".' (and
  '... endpoint configuration "<arn>".', '... model "<arn>".'), as SageMaker answers in
  aws/amazon-sagemaker-examples issues 2402 and 2339.
- UpdateEndpoint on an endpoint that is not InService: ValidationException 'Cannot update
  in-progress endpoint "<arn>".' (API_UpdateEndpoint: only an InService endpoint is updated).
- UpdateEndpoint that changes the instance type of, or removes, a variant registered as a
  scalable target fails ("Update endpoints that use auto scaling",
  https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html: deregister the
  scalable target first). The guide names no code or message; ValidationException, SageMaker's
  code for every refused request, is assumed, with a message of our own.
- PutScalingPolicy for a target that is not registered: ObjectNotFoundException ("thrown if the
  scalable target with the specified service namespace, resource ID, and scalable dimension does
  not exist", the Application Auto Scaling API reference).
"""

from dataclasses import dataclass

from sagechain.errors import EndpointBusyError, RequestRefusedError

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@dataclass(frozen=True)
class Refusal:
    """One refused request: the operation, AWS's error code and message."""

    operation: str
    code: str
    message: str
    service: str = "sagemaker"

    def refused(self) -> RequestRefusedError:
        """What the adapters raise for it."""
        return RequestRefusedError(self.operation, self.code, self.message, service=self.service)


def endpoint_arn(name: str) -> str:
    """SageMaker writes endpoint ARNs in lower case."""
    return f"{ARN}:endpoint/{name.lower()}"


def missing_endpoint(operation: str, name: str) -> Refusal:
    """A request naming an endpoint that does not exist."""
    return Refusal(operation, "ValidationException", f'Could not find endpoint "{endpoint_arn(name)}".')


def missing_endpoint_config(operation: str, name: str) -> Refusal:
    """A request naming an endpoint configuration that does not exist."""
    arn = f"{ARN}:endpoint-config/{name}"
    return Refusal(operation, "ValidationException", f'Could not find endpoint configuration "{arn}".')


def missing_model(operation: str, name: str) -> Refusal:
    """A request naming a model that does not exist."""
    return Refusal(operation, "ValidationException", f'Could not find model "{ARN}:model/{name}".')


def endpoint_in_progress(name: str) -> Refusal:
    """UpdateEndpoint on an endpoint that is Creating, Updating, SystemUpdating or RollingBack."""
    return Refusal(
        "UpdateEndpoint",
        "ValidationException",
        f'Cannot update in-progress endpoint "{endpoint_arn(name)}".',
    )


def endpoint_busy(name: str) -> EndpointBusyError:
    """What the hosting adapter raises for endpoint_in_progress."""
    return EndpointBusyError(name, endpoint_in_progress(name).message)


def autoscaled_variant_changed(name: str, variant: str) -> Refusal:
    """UpdateEndpoint that changes the instance type of (or drops) a registered variant."""
    return Refusal(
        "UpdateEndpoint",
        "ValidationException",
        f"The variant {variant} of endpoint {endpoint_arn(name)} is a scalable target: deregister it "
        "before changing its instance type or removing it.",
    )


def no_scalable_target(endpoint: str, variant: str) -> Refusal:
    """PutScalingPolicy for a variant that is not registered."""
    return Refusal(
        "PutScalingPolicy",
        "ObjectNotFoundException",
        "No scalable target registered for service namespace: sagemaker, resource ID: "
        f"endpoint/{endpoint}/variant/{variant}, scalable dimension: sagemaker:variant:DesiredInstanceCount",
        service="application-autoscaling",
    )


# The statuses in which UpdateEndpoint is refused as in progress (API_DescribeEndpoint's
# EndpointStatus values for an operation still executing).
IN_PROGRESS = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
