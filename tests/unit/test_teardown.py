"""Deleting the stack: what the custom resource stops and deletes, in what order, how it answers in time."""

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from local.template import parsed_template

from sagechain.adapters.autoscaling import ApplicationAutoScaling
from sagechain.adapters.sagemaker_control import SageMakerJobStopper
from sagechain.adapters.scheduler import EventBridgeSchedules
from sagechain.errors import RequestRefusedError
from sagechain.event_sources.cloudformation import CustomResourceRequest
from sagechain.event_sources.sagemaker import JobKind
from sagechain.ports import NamedResource
from sagechain.teardown.service import StackResources, endpoint_dependents, handle_custom_resource
from tests.aws import sample_event

STACK = "sagechain"
OURS = {"sagechain:stack": STACK}
THEIRS = {"sagechain:stack": "another-stack"}
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012:"


class Account:
    """SageMaker, Application Auto Scaling and Scheduler of one account, recording what is done in order."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.tagged: dict[str, dict[str, str]] = {}
        self.listed: dict[str, list[NamedResource]] = {"endpoint": [], "config": [], "model": []}
        self.jobs: dict[JobKind, list[NamedResource]] = {kind: [] for kind in JobKind}
        self.scheduled = ["sagechain-flowers"]
        self.scaled = {"sagechain-flowers": ["AllTraffic"]}
        self.refuse: set[str] = set()

    def add(self, kind: str, name: str, tags: dict[str, str]) -> None:
        arn = f"arn:{kind}/{name}"
        self.tagged[arn] = tags
        self.listed[kind].append(NamedResource(name, arn))

    def add_job(self, kind: JobKind, name: str, tags: dict[str, str]) -> None:
        arn = f"arn:{kind}/{name}"
        self.tagged[arn] = tags
        self.jobs[kind].append(NamedResource(name, arn))

    def _do(self, what: str) -> None:
        if what in self.refuse:
            raise RequestRefusedError("Delete", "AccessDeniedException", f"not allowed: {what}")
        self.done.append(what)

    # StackSageMaker
    def endpoints(self, name_contains: str) -> list[NamedResource]:
        return self.listed["endpoint"]

    def endpoint_configs(self, name_contains: str) -> list[NamedResource]:
        return self.listed["config"]

    def models(self, name_contains: str) -> list[NamedResource]:
        return self.listed["model"]

    def tags(self, arn: str) -> dict[str, str]:
        return self.tagged.get(arn, {})

    def delete_endpoint(self, name: str) -> None:
        self._do(f"endpoint {name}")

    def delete_endpoint_config(self, name: str) -> None:
        self._do(f"config {name}")

    def delete_model(self, name: str) -> None:
        self._do(f"model {name}")

    # StackJobs
    def running(self, kind: JobKind, name_contains: str) -> list[NamedResource]:
        return self.jobs[kind]

    def stop(self, kind: JobKind, name: str) -> bool:
        self._do(f"stop {name}")
        return True

    # StackAutoscaling
    def scaled_variants(self, endpoint_prefix: str) -> dict[str, list[str]]:
        return self.scaled

    def deregister(self, endpoint: str, variant: str) -> None:
        self._do(f"deregister {endpoint}/{variant}")

    # StackSchedules
    def pending(self, name_prefix: str) -> list[str]:
        return self.scheduled

    def remove(self, name: str) -> None:
        self._do(f"schedule {name}")


def account() -> Account:
    """This stack's live endpoint and a running training and tuning job, and another stack's of the prefix."""
    aws = Account()
    aws.add("endpoint", "sagechain-flowers", OURS)
    aws.add("endpoint", "sagechain-theirs", THEIRS)
    aws.add("config", "sagechain-flowers-1-config", OURS)
    aws.add("model", "sagechain-flowers-1-train", OURS)
    aws.add("model", "sagechain-theirs-train", THEIRS)
    aws.add("model", "other-prefix-train", OURS)
    aws.add_job(JobKind.TRAINING, "sagechain-flowers-2-train", OURS)
    aws.add_job(JobKind.TRAINING, "sagechain-theirs-2-train", THEIRS)
    aws.add_job(JobKind.TUNING, "sagechain-flowers-3-tune", OURS)
    return aws


def request(retain: str = "false") -> CustomResourceRequest:
    event = sample_event("teardown", "stack_delete")
    event["ResourceProperties"]["RetainEndpointsOnDelete"] = retain
    return CustomResourceRequest.model_validate(event)


def resources(aws: Account) -> StackResources:
    return StackResources(sagemaker=aws, jobs=aws, autoscaling=aws, schedules=aws)


def answer(aws: Account, retain: str = "false", time_left: Any = lambda: 600.0) -> Any:
    return handle_custom_resource(request(retain), resources(aws), "sagechain", STACK, time_left)


def test_jobs_stop_then_schedules_go_then_each_endpoint_after_its_autoscaling_then_configs_and_models() -> (
    None
):
    aws = account()

    response = answer(aws)

    assert aws.done == [
        "stop sagechain-flowers-3-tune",  # tuning first: its training jobs stop with it
        "stop sagechain-flowers-2-train",
        "schedule sagechain-flowers",
        "deregister sagechain-flowers/AllTraffic",
        "endpoint sagechain-flowers",
        "config sagechain-flowers-1-config",
        "model sagechain-flowers-1-train",
    ]
    assert (response.status, response.reason) == ("SUCCESS", "Stopped or deleted 7 resource(s)")


def test_retained_endpoints_keep_hosting_and_autoscaling_but_jobs_stop_and_schedules_go() -> None:
    aws = account()

    response = answer(aws, retain="true")

    assert aws.done == [
        "stop sagechain-flowers-3-tune",
        "stop sagechain-flowers-2-train",
        "schedule sagechain-flowers",
    ]
    assert response.status == "SUCCESS"
    assert response.reason is not None
    assert "RetainEndpointsOnDelete is true" in response.reason


def test_a_refusal_is_reported_failed_by_name_and_the_rest_is_still_done() -> None:
    aws = account()
    aws.refuse = {"deregister sagechain-flowers/AllTraffic"}

    response = answer(aws)

    assert "endpoint sagechain-flowers" in aws.done
    assert "model sagechain-flowers-1-train" in aws.done
    assert response.status == "FAILED"
    assert response.reason is not None
    assert "autoscaling of sagechain-flowers/AllTraffic (AccessDeniedException" in response.reason


def test_when_time_runs_out_it_answers_failed_saying_where_it_stopped_and_starts_nothing_more() -> None:
    aws = account()
    budget = iter([100.0, 100.0, 100.0, 100.0, 100.0])

    response = answer(aws, time_left=lambda: next(budget, 0.0))

    assert aws.done == ["stop sagechain-flowers-3-tune"]
    assert response.status == "FAILED"
    assert response.reason is not None
    assert (
        "Ran out of time before reading the tags of training job sagechain-flowers-2-train" in response.reason
    )
    assert "with 1 step(s) done" in response.reason
    assert "delete the stack again to finish" in response.reason


def test_an_unexpected_error_is_still_answered_failed_with_the_reason() -> None:
    aws = account()

    def unreachable(kind: JobKind, name_contains: str) -> list[NamedResource]:
        raise ConnectionError("SageMaker is unreachable")

    aws.running = unreachable  # type: ignore[method-assign]

    response = answer(aws)

    assert response.status == "FAILED"
    assert response.reason is not None
    assert "SageMaker is unreachable" in response.reason


def test_an_endpoints_dependents_are_its_variants_autoscaling() -> None:
    aws = account()

    steps = endpoint_dependents(resources(aws), "sagechain-flowers", ["AllTraffic", "Canary"])

    assert [what for what, _ in steps] == [
        "autoscaling of sagechain-flowers/AllTraffic",
        "autoscaling of sagechain-flowers/Canary",
    ]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_do_nothing(request_type: str) -> None:
    aws = account()
    event = sample_event("teardown", "stack_delete")
    event["RequestType"] = request_type

    response = handle_custom_resource(
        CustomResourceRequest.model_validate(event), resources(aws), "sagechain", STACK, lambda: 600.0
    )

    assert (response.status, aws.done) == ("SUCCESS", [])


def test_cloudformation_waits_for_every_attempt_lambda_may_make() -> None:
    template = parsed_template()
    timeout = template["Resources"]["TeardownFunction"]["Properties"]["Timeout"]
    service_timeout = template["Resources"]["SageMakerTeardown"]["Properties"]["ServiceTimeout"]

    # An async invocation is tried three times, the retries 1 and 2 minutes after a failure.
    assert 3 * timeout + 60 + 120 <= service_timeout <= 3600


def test_the_adapters_send_valid_list_requests_and_read_every_page() -> None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    autoscaling = boto3.client("application-autoscaling", region_name="us-east-1")
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    target = "arn:aws:lambda:us-east-1:123456789012:function:sagechain-ExpireEndpointFunction"
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with Stubber(sagemaker) as sm, Stubber(autoscaling) as aas, Stubber(scheduler) as sch:
        job = {"TrainingJobName": "sagechain-a-train", "TrainingJobArn": "arn:a", "CreationTime": at}
        expected = {"NameContains": "sagechain", "StatusEquals": "InProgress"}
        sm.add_response(
            "list_training_jobs",
            {"TrainingJobSummaries": [{**job, "TrainingJobStatus": "InProgress"}], "NextToken": "2"},
            expected,
        )
        sm.add_response("list_training_jobs", {"TrainingJobSummaries": []}, {**expected, "NextToken": "2"})
        targets = [
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": resource_id,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": 1,
                "MaxCapacity": 2,
                "RoleARN": "arn:aws:iam::123456789012:role/autoscaling",
                "CreationTime": at,
            }
            for resource_id in (
                "endpoint/sagechain-a/variant/AllTraffic",
                "endpoint/theirs-b/variant/AllTraffic",
            )
        ]
        aas.add_response(
            "describe_scalable_targets",
            {"ScalableTargets": targets},
            {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"},
        )
        summaries = [
            {"Name": "sagechain-a", "Target": {"Arn": target}},
            {
                "Name": "sagechain-b",
                "Target": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:theirs"},
            },
        ]
        sch.add_response(
            "list_schedules", {"Schedules": summaries}, {"GroupName": "default", "NamePrefix": "sagechain-"}
        )

        running = SageMakerJobStopper(sagemaker).running(JobKind.TRAINING, "sagechain")
        scaled = ApplicationAutoScaling({}, autoscaling).scaled_variants("sagechain-")
        pending = EventBridgeSchedules(target, None, scheduler).pending("sagechain-")

    assert running == [NamedResource("sagechain-a-train", "arn:a")]
    assert scaled == {"sagechain-a": ["AllTraffic"]}
    assert pending == ["sagechain-a"]


class BatchDeadlines:
    """The batches' deadline schedules (they send to CollectBatchQueue), kept apart from expiry's."""

    def __init__(self, aws: Account, names: list[str]) -> None:
        self.aws, self.names = aws, names

    def pending(self, name_prefix: str) -> list[str]:
        return [name for name in self.names if name.startswith(name_prefix)]

    def remove(self, name: str) -> None:
        self.aws.done.append(f"deadline {name}")


def test_this_stacks_running_batches_stop_and_their_deadline_schedules_go_before_the_endpoints() -> None:
    aws = account()
    aws.add_job(JobKind.TRANSFORM, "sagechain-batch-tonight-0a1b", OURS)
    aws.add_job(JobKind.TRANSFORM, "sagechain-batch-theirs-2c3d", THEIRS)
    deadlines = BatchDeadlines(aws, ["sagechain-batch-tonight-0a1b"])

    response = handle_custom_resource(
        request(),
        StackResources(sagemaker=aws, jobs=aws, autoscaling=aws, schedules=aws, batch_deadlines=deadlines),
        "sagechain",
        STACK,
        lambda: 600.0,
    )

    assert response.status == "SUCCESS"
    assert "stop sagechain-batch-theirs-2c3d" not in aws.done
    stopped, deadline = (
        aws.done.index("stop sagechain-batch-tonight-0a1b"),
        aws.done.index("deadline sagechain-batch-tonight-0a1b"),
    )
    assert stopped < deadline < aws.done.index("endpoint sagechain-flowers")


def test_a_transform_job_is_stopped_with_stop_transform_job_and_listed_in_progress() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "list_transform_jobs",
        {
            "TransformJobSummaries": [
                {
                    "TransformJobName": "sagechain-batch-tonight-0a1b",
                    "TransformJobArn": f"{ARN_PREFIX}transform-job/sagechain-batch-tonight-0a1b",
                    "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
                    "TransformJobStatus": "InProgress",
                }
            ]
        },
        {"NameContains": "sagechain", "StatusEquals": "InProgress"},
    )
    stubber.add_response("stop_transform_job", {}, {"TransformJobName": "sagechain-batch-tonight-0a1b"})
    stubber.add_client_error(
        "stop_transform_job", "ValidationException", "The transform job is not in progress"
    )
    stopper = SageMakerJobStopper(client)

    with stubber:
        [job] = stopper.running(JobKind.TRANSFORM, "sagechain")
        assert stopper.stop(JobKind.TRANSFORM, job.name) is True
        assert stopper.stop(JobKind.TRANSFORM, job.name) is False
