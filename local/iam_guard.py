"""Every AWS call a function makes offline, authorized against its policies in template.yaml.

Installed as a botocore handler on every session (moto installs itself the same way), so
Powertools' own sessions are checked too. It runs at `before-parameter-build`, before the
SageMaker emulation answers (at `before-call`) and before moto does (at `before-send`). Only
calls made while `acting_as` names a function are checked; calls the emulation or the guard
makes while answering a checked call (reading a model artifact, looking up tags) are not.
A call IAM would refuse raises the ClientError AWS answers with; a call without an IAM
mapping raises NoIamMappingError. Both are kept in `PROBLEMS` for the e2e suite to fail on.
"""

import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.handlers
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.validate import validate_parameters
from moto.s3.models import FakeKey, s3_backends

from local.iam_policy import Policy, Request
from local.iam_requests import Authorization, Call, NoIamMappingError, authorization
from local.template import ACCOUNT, REGION, Template

# (function, action) -> the tests that made a call IAM allowed with it; kept across stacks.
EXERCISED: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
# Denials and unmapped calls since the last clear, as readable lines.
PROBLEMS: list[str] = []

# The error each service answers a denied call with (code, HTTP status).
_DENIED = {
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "iam": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
}
_DENIED_DEFAULT = ("AccessDeniedException", 400)
PARTITION = "aws"


class IamGuard:
    """The functions' policies, and the botocore handlers that enforce them."""

    def __init__(self, template: Template, logical_ids: list[str]):
        self.policies = {
            logical_id: Policy.parse(template.policies(logical_id)) for logical_id in logical_ids
        }
        self._acting: str | None = None
        self._local = threading.local()
        self._clients: dict[str, Any] = {}
        self._target_tags: dict[tuple[str, str, str], dict[str, str]] = {}
        # This stack's denials and unmapped calls (PROBLEMS has every stack's).
        self.problems: list[str] = []
        self._handlers = [
            ("before-parameter-build", self._authorize),
            ("after-call", self._answered),
            ("after-call-error", self._answered),
        ]

    def install(self) -> "IamGuard":
        """Check calls of every botocore session created from now on (install before boto3's)."""
        botocore.handlers.BUILTIN_HANDLERS.extend(self._handlers)
        return self

    def uninstall(self) -> None:
        """Sessions created from now on are not checked."""
        for handler in self._handlers:
            botocore.handlers.BUILTIN_HANDLERS.remove(handler)

    @contextmanager
    def acting_as(self, logical_id: str) -> Iterator[None]:
        """Calls made inside are the function's, made with its role."""
        saved = self._acting
        self._acting = logical_id
        try:
            yield
        finally:
            self._acting = saved
            self._local.depth = 0

    def authorize(self, logical_id: str, client: Any, operation: str, params: dict[str, Any]) -> None:
        """Check (and record) a call as the function's, as if it were made, without making it: the
        offline stack's SQS poller does this for a queue moto holds nothing visible in."""
        model = client.meta.service_model.operation_model(operation)
        with self.acting_as(logical_id):
            self._authorize(params=params, model=model, context={"client_region": client.meta.region_name})

    # ------------------------------------------------------------ botocore handlers
    def _authorize(
        self, params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
    ) -> None:
        function = self._acting
        if function is None or self._depth():
            return
        service = model.service_model.service_name
        call = Call(service, model.name, params, context.get("client_region") or REGION, ACCOUNT)
        self._local.depth = 1  # lookups below are the guard's own calls
        try:
            if model.input_shape is not None:
                # botocore's own error first, as AWS validates before it authorizes.
                validate_parameters(params, model.input_shape)
            needed = authorization(call, self)
            self._enforce(function, call, needed)
        except NoIamMappingError as err:
            self._problem(f"{function}: {err}")
            self._local.depth = 0
            raise
        except BaseException:
            self._local.depth = 0
            raise
        # Answering this call may make calls of its own (the emulation reading S3): not the function's.
        context["iam_guarded"] = True

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    def _answered(self, context: dict[str, Any], **_: Any) -> None:
        if context.get("iam_guarded"):
            self._local.depth = 0

    def _enforce(self, function: str, call: Call, needed: Authorization) -> None:
        policy = self.policies[function]
        requests = list(needed.requests)
        for request in requests:
            self._check(function, call, policy, request)
        if needed.if_missing is not None:
            # S3 tells a missing object (404) only to whom may list the bucket; else 403.
            decision = policy.evaluate(needed.if_missing)
            if not decision.allowed:
                self._deny(function, call, requests[0], explicit=decision.statement is not None)
            self._record(function, needed.if_missing)
        if call.operation == "RegisterScalableTarget" and call.params.get("Tags"):
            # moto keeps no tags on scalable targets: the guard remembers them for aws:ResourceTag.
            key = (
                call.params["ServiceNamespace"],
                call.params["ResourceId"],
                call.params["ScalableDimension"],
            )
            self._target_tags[key] = dict(call.params["Tags"])

    def _check(self, function: str, call: Call, policy: Policy, request: Request) -> None:
        decision = policy.evaluate(request)
        if not decision.allowed:
            self._deny(function, call, request, explicit=decision.statement is not None)
        self._record(function, request)

    @staticmethod
    def _record(function: str, request: Request) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "local.demo").rsplit(" ", 1)[0]
        EXERCISED[function][request.action.lower()].add(test)

    def _problem(self, line: str) -> None:
        self.problems.append(line)
        PROBLEMS.append(line)

    def _deny(self, function: str, call: Call, request: Request, explicit: bool) -> None:
        why = (
            "with an explicit deny in an identity-based policy"
            if explicit
            else f"because no identity-based policy allows the {request.action} action"
        )
        message = (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{function}Role/{function} is not authorized "
            f"to perform: {request.action} on resource: {request.resource} {why}"
        )
        self._problem(f"{function}: {call.service}.{call.operation}: {message}")
        code, status = _DENIED.get(call.service, _DENIED_DEFAULT)
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise ClientError(response, call.operation)

    # ------------------------------------------------------------ Resources (local.iam_requests)
    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    def tags(self, arn: str) -> dict[str, str]:
        """The tags of a SageMaker resource, as the emulation keeps them."""
        try:
            found = self._client("sagemaker").list_tags(ResourceArn=arn)["Tags"]
        except ClientError:
            return {}
        return {tag["Key"]: tag["Value"] for tag in found}

    def object_exists(self, bucket: str, key: str) -> bool:
        """Whether moto holds the S3 object (its latest version, not a delete marker), read from
        moto's state as HeadObject would find it: one HeadObject per GetObject was a large share
        of the offline stack's calls."""
        found = s3_backends[ACCOUNT][PARTITION].buckets.get(bucket)
        return found is not None and isinstance(found.keys.get(key), FakeKey)

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        """The ARN moto gave the scalable target, None when none is registered."""
        found = self._client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension
        )["ScalableTargets"]
        return str(found[0]["ScalableTargetARN"]) if found else None

    def target_tags(self, namespace: str, resource_id: str, dimension: str) -> dict[str, str]:
        """The tags a handler registered the scalable target with."""
        return self._target_tags.get((namespace, resource_id, dimension), {})
