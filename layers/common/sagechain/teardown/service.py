"""The stack's custom resource: on Delete, leave nothing of this stack running, billing or scheduled.

deploy_model creates endpoints, configurations and models at run time, so CloudFormation does not
know them and `sam delete` would leave them billing. Jobs still running would bill on with no stack
left to use what they make, and an expiry schedule would fire into a deleted function. So on Delete,
in this order:
1. the labeling, training, tuning and transform (batch) jobs in progress are stopped (tuning jobs
   first: their training jobs stop with them);
2. the pending expiry schedules are deleted (default group, names starting NamePrefix-, target
   this stack's expiry function: another stack's schedules invoke its own), and the batches'
   deadline schedules (target this stack's CollectBatchQueue);
3. unless the property RetainEndpointsOnDelete (the stack parameter) is "true": each endpoint's
   dependents (endpoint_dependents: its variants' autoscaling), then the endpoint, then the
   endpoint configurations, then the models are deleted.
Only jobs and hosting resources whose names start with NamePrefix- and whose sagechain:stack tag
names this stack are touched; another stack's, even with the same prefix, are left alone. Retained
endpoints keep their autoscaling and no longer expire. Create and Update do nothing.

CloudFormation waits for a response at the request's ResponseURL, so every request gets one before
the function's time is up: a step starts only while time_left() says one more call and the
response still fit. What AWS refused, or what there was no time left for, makes a FAILED response
that names it; the stack deletion then fails and can be run again (what is gone is not listed
again, so the work resumes), or run again retaining the endpoints.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sagechain.errors import RequestRefusedError
from sagechain.event_sources.cloudformation import CustomResourceRequest, CustomResourceResponse, respond
from sagechain.event_sources.sagemaker import JobKind
from sagechain.names import STACK_TAG, rollback_alarm_names
from sagechain.observability import logger
from sagechain.ports import (
    NamedResource,
    RollbackAlarms,
    StackAutoscaling,
    StackJobs,
    StackSageMaker,
    StackSchedules,
)

RETAIN_PROPERTY = "RetainEndpointsOnDelete"
# Tuning jobs first: stopping one stops the training jobs it launched.
_JOBS = (
    (JobKind.TUNING, "tuning job"),
    (JobKind.LABELING, "labeling job"),
    (JobKind.TRAINING, "training job"),
    (JobKind.TRANSFORM, "transform job"),
)

Step = tuple[str, Callable[[], object]]


@dataclass(frozen=True)
class StackResources:
    """The AWS services the teardown works with."""

    sagemaker: StackSageMaker
    jobs: StackJobs
    autoscaling: StackAutoscaling
    schedules: StackSchedules
    alarms: RollbackAlarms | None = None
    batch_deadlines: StackSchedules | None = None


@dataclass
class Teardown:
    """What one Delete request did, what AWS refused, and the first step there was no time left for."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    out_of_time_at: str | None = None


class _OutOfTime(Exception):  # noqa: N818 - internal: ends the work, never leaves this module
    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


class _Work:
    """Runs steps while there is time, recording each."""

    def __init__(self, time_left: Callable[[], float]) -> None:
        self.teardown = Teardown()
        self._time_left = time_left

    def check(self, step: str) -> None:
        if self._time_left() <= 0:
            raise _OutOfTime(step)

    def attempt(self, what: str, action: Callable[[], object]) -> None:
        """One step; a refusal is recorded and the rest goes on. An action answering False did nothing."""
        self.check(what)
        try:
            result = action()
        except RequestRefusedError as err:
            self.teardown.failed.append(f"{what} ({err.code}: {err.message})")
            logger.warning("not done", extra={"step": what, "error": str(err)})
            return
        if result is not False:
            self.teardown.done.append(what)
            logger.info("done", extra={"step": what})


def endpoint_dependents(resources: StackResources, endpoint: str, scaled_variants: list[str]) -> list[Step]:
    """What hangs off one endpoint and goes before it, as (what, delete) steps: its variants' scalable
    targets (their scaling policies and target-tracking alarms go with them), and its rollback alarms
    (names.rollback_alarm_names; deleting a name that is gone is no error)."""
    steps: list[Step] = [
        (f"autoscaling of {endpoint}/{variant}", partial(resources.autoscaling.deregister, endpoint, variant))
        for variant in scaled_variants
    ]
    if resources.alarms is not None:
        steps.append(
            (
                f"rollback alarms of {endpoint}",
                partial(resources.alarms.delete, rollback_alarm_names(endpoint)),
            )
        )
    return steps


def handle_custom_resource(
    request: CustomResourceRequest,
    resources: StackResources,
    name_prefix: str,
    stack_name: str,
    time_left: Callable[[], float],
) -> CustomResourceResponse:
    """The response to one request: Delete stops and deletes what this stack left (see the module)."""
    physical_id = request.physical_resource_id or f"{stack_name}-sagemaker-teardown"
    if request.request_type != "Delete":
        return respond(request, physical_id)
    retain = str(request.resource_properties.get(RETAIN_PROPERTY, "false")).lower() == "true"
    try:
        teardown = delete_stack_resources(resources, name_prefix, stack_name, retain, time_left)
    except Exception as err:  # CloudFormation must hear back, whatever went wrong
        logger.exception("teardown failed")
        return respond(
            request,
            physical_id,
            f"Deleting stack {stack_name}'s SageMaker jobs, endpoints and schedules failed: {err}. Delete "
            "the stack again (what is gone is not repeated), or see README, Costs and teardown.",
            failed=True,
        )
    kept = f"; {RETAIN_PROPERTY} is true: endpoints, configurations and models kept" if retain else ""
    problems = []
    if teardown.failed:
        problems.append(
            f"Could not stop or delete {len(teardown.failed)} resource(s) of stack {stack_name}: "
            f"{'; '.join(teardown.failed)}. Delete them by hand (README, Costs and teardown) and delete the "
            f"stack again, or set {RETAIN_PROPERTY}=true."
        )
    if teardown.out_of_time_at is not None:
        problems.append(
            f"Ran out of time before {teardown.out_of_time_at}, with {len(teardown.done)} step(s) done: "
            "delete the stack again to finish (what is done is not repeated)."
        )
    if problems:
        return respond(request, physical_id, " ".join(problems) + kept, failed=True)
    return respond(request, physical_id, f"Stopped or deleted {len(teardown.done)} resource(s){kept}")


def delete_stack_resources(
    resources: StackResources,
    name_prefix: str,
    stack_name: str,
    retain_endpoints: bool,
    time_left: Callable[[], float],
) -> Teardown:
    """Stop the jobs, delete the schedules, then (unless retained) the hosting resources, while time lasts."""
    work = _Work(time_left)
    sagemaker = resources.sagemaker
    prefix = f"{name_prefix}-"

    def owned(listed: list[NamedResource], kind: str) -> list[NamedResource]:
        mine = []
        for resource in listed:
            if not resource.name.startswith(prefix):
                continue
            work.check(f"reading the tags of {kind} {resource.name}")
            if sagemaker.tags(resource.arn).get(STACK_TAG) == stack_name:
                mine.append(resource)
        return mine

    try:
        for job_kind, label in _JOBS:
            work.check(f"finding running {label}s")
            for job in owned(resources.jobs.running(job_kind, name_prefix), label):
                work.attempt(
                    f"{label} {job.name} (stopped)", partial(resources.jobs.stop, job_kind, job.name)
                )
        work.check("finding expiry schedules")
        for schedule in resources.schedules.pending(prefix):
            work.attempt(f"expiry schedule {schedule}", partial(resources.schedules.remove, schedule))
        if resources.batch_deadlines is not None:
            work.check("finding batch deadline schedules")
            for schedule in resources.batch_deadlines.pending(prefix):
                work.attempt(
                    f"batch deadline schedule {schedule}", partial(resources.batch_deadlines.remove, schedule)
                )
        if retain_endpoints:
            logger.info("endpoints retained", extra={"property": RETAIN_PROPERTY})
            return work.teardown
        work.check("finding autoscaled endpoints")
        scaled = resources.autoscaling.scaled_variants(prefix)
        work.check("finding endpoints")
        for endpoint in owned(sagemaker.endpoints(name_prefix), "endpoint"):
            for what, step in endpoint_dependents(resources, endpoint.name, scaled.get(endpoint.name, [])):
                work.attempt(what, step)
            work.attempt(f"endpoint {endpoint.name}", partial(sagemaker.delete_endpoint, endpoint.name))
        kinds: list[tuple[str, Callable[[str], list[NamedResource]], Callable[[str], None]]] = [
            ("endpoint configuration", sagemaker.endpoint_configs, sagemaker.delete_endpoint_config),
            ("model", sagemaker.models, sagemaker.delete_model),
        ]
        for kind, listed, delete in kinds:
            work.check(f"finding {kind}s")
            for resource in owned(listed(name_prefix), kind):
                work.attempt(f"{kind} {resource.name}", partial(delete, resource.name))
    except _OutOfTime as out:
        work.teardown.out_of_time_at = out.step
        logger.warning("out of time", extra={"step": out.step, "done": len(work.teardown.done)})
    return work.teardown
