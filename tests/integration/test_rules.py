"""The template's EventBridge rules bring each function exactly the events it is for, in every
status and spelling its source sends."""

import json
import re
from functools import cache
from typing import Any

import pytest
from local.stack import PHYSICAL
from local.template import STACK_ID as LOCAL_STACK_ID
from local.template import Template
from moto.events.models import EventPattern

from sagechain.events import RetryStage
from tests.aws import ROOT, sample_event
from tests.runs import STACK_ID, bus_event, run_retried

pytestmark = pytest.mark.integration
CASES = sorted(
    {path.stem for folder in ("notify", "track_run") for path in (ROOT / "events" / folder).glob("*.json")}
)


@cache
def rules(function: str) -> dict[str, EventPattern]:
    template = Template(PHYSICAL, {})
    events = template.document["Resources"][function]["Properties"]["Events"]
    return {
        name: EventPattern.load(json.dumps(template.resolve(event["Properties"]["Pattern"])))
        for name, event in events.items()
        if event["Type"] == "EventBridgeRule"
    }


def event(case: str) -> dict[str, Any]:
    """A sample as the stack the rules are read for (the local one, AWS::StackId resolved) sent it."""
    folders = [f for f in ("notify", "collect_batch") if (ROOT / "events" / f / f"{case}.json").exists()]
    folder = folders[0] if folders else "track_run"
    sample = sample_event(folder, case)
    sample["resources"] = [LOCAL_STACK_ID if arn == STACK_ID else arn for arn in sample["resources"]]
    return sample


def matching(function: str, sample: dict[str, Any]) -> list[str]:
    return [name for name, pattern in rules(function).items() if pattern.matches_event(sample)]


# What the observer (track_run, which also emails) need not hear: a job or endpoint starting (the
# stage's own "... Started" says it), and an endpoint coming into service (configure_autoscaling
# hears it and its event carries the change, sagemaker_change).
NOT_OBSERVED = {"labeling_job_in_progress", "endpoint_creating", "endpoint_in_service"}


@pytest.mark.parametrize("case", CASES)
def test_the_observer_hears_every_event_of_our_runs_once_but_starts_and_arrivals_in_service(
    case: str,
) -> None:
    heard = matching("TrackRunFunction", event(case))

    if case in NOT_OBSERVED:
        assert heard == []
    else:
        assert len(heard) == 1
    if event(case)["source"] == "sagechain":
        assert heard == ["SagechainEvents"]


def test_a_training_jobs_progress_is_heard_once_per_secondary_status_change() -> None:
    """SageMaker sends an InProgress event each time the secondary status changes: the observer
    hears each one (the run's progress), and no stage does."""
    sample = event("training_job_in_progress")
    heard = [rule for rule, pattern in every_rule().items() if _matches(pattern, sample)]

    assert heard == ["TrackRunFunction.TrainingJobChanged"]


def _matches(pattern: dict[str, Any], sample: dict[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(sample))


def test_an_ordinary_training_started_reaches_only_the_observer() -> None:
    """deploy_model hears a Training Started only when a job may have ended before it."""
    sample = event("training_started")
    resumed = {**sample, "detail": {**sample["detail"], "may_have_ended": True}}

    ordinary = [rule for rule, pattern in every_rule().items() if _matches(pattern, sample)]
    late = [rule for rule, pattern in every_rule().items() if _matches(pattern, resumed)]

    assert ordinary == ["TrackRunFunction.SagechainEvents"]
    assert late == ["TrackRunFunction.SagechainEvents", "DeployModelFunction.TrainingStarted"]


@pytest.mark.parametrize(
    ("case", "field", "value"),
    [
        ("training_job_failed", "TrainingJobName", "notebook-experiment-7"),
        ("tuning_job_failed", "HyperParameterTuningJobName", "sagechainx-tune"),
        ("endpoint_failed", "EndpointName", "other-team-endpoint"),
    ],
)
def test_the_observer_hears_nothing_about_someone_elses_jobs(case: str, field: str, value: str) -> None:
    sample = event(case)
    sample["detail"][field] = value

    assert matching("TrackRunFunction", sample) == []


def test_the_observer_hears_nothing_about_a_labeling_job_whose_arn_lacks_our_prefix() -> None:
    sample = event("labeling_job_failed")
    sample["resources"] = ["arn:aws:sagemaker:us-east-1:123456789012:labeling-job/someone-elses-job"]

    assert matching("TrackRunFunction", sample) == []


def test_every_rule_may_put_undeliverable_events_in_the_dead_letter_queue() -> None:
    resources = Template(PHYSICAL, {}).document["Resources"]
    allowed = resources["RulesDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    # yaml_parse spells !GetAtt X.Arn as {"Fn::GetAtt": ["X", "Arn"]}.
    arns = {".".join(ref["Fn::GetAtt"]) for ref in allowed["Condition"]["ArnEquals"]["aws:SourceArn"]}

    for name in rules("TrackRunFunction"):
        assert f"TrackRunFunction{name}.Arn" in arns
    # And every rule declared on its own (the stage queues' rules), which must also be allowed
    # to send to their queue.
    stage_rules = [rule.logical_id for rule in Template(PHYSICAL, {}).rules()]
    stage_policy = resources["StageQueuesPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    senders = {".".join(ref["Fn::GetAtt"]) for ref in stage_policy["Condition"]["ArnEquals"]["aws:SourceArn"]}
    assert stage_rules
    for rule in stage_rules:
        assert f"{rule}.Arn" in arns
        assert f"{rule}.Arn" in senders


def test_no_rule_hears_a_parked_event_saved_under_failures() -> None:
    template = Template(PHYSICAL, {})
    saved = sample_event("prepare_dataset", "folder_dataset")
    saved["detail"]["bucket"]["name"] = PHYSICAL["DataBucket"]
    saved["detail"]["object"]["key"] = "failures/2026/03/02/sagechain-PrepareDatasetFunction-x/m-1.json"
    upload = json.loads(json.dumps(saved))
    upload["detail"]["object"]["key"] = "datasets/flowers/dataset.json"
    [statement] = [
        statement
        for statement in template.document["Resources"]["ReportFailuresFunction"]["Properties"]["Policies"][
            0
        ]["Statement"]
        if statement["Action"] == "s3:PutObject"
    ]

    patterns = [pattern for function in template.functions() for pattern in function.patterns]
    patterns += [rule.pattern for rule in template.rules()]

    heard = [pattern for pattern in patterns if EventPattern.load(json.dumps(pattern)).matches_event(saved)]

    assert heard == []
    assert str(template.resolve(statement["Resource"])).endswith("/failures/*")
    # The same check hears an upload: the sample is one the rules can match.
    assert any(EventPattern.load(json.dumps(pattern)).matches_event(upload) for pattern in patterns)


@pytest.mark.parametrize("function", ["TrackRunFunction"])
def test_another_stacks_sagechain_event_matches_no_rule_of_this_stack(function: str) -> None:
    other = {
        **event("dataset_rejected"),
        "resources": ["arn:aws:cloudformation:us-east-1:123456789012:stack/other/1111"],
    }

    assert matching(function, event("dataset_rejected")) != []
    assert matching(function, other) == []


# ---------------------------------------------------------------- every status each source sends
# The statuses each SageMaker source documents ("Events that Amazon SageMaker AI sends to Amazon
# EventBridge", https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html,
# and the *Status enums of the Describe* API reference). Training, tuning and labeling events
# spell them as DescribeTrainingJob does; the endpoint event spells them IN_SERVICE, FAILED, ...
# while DescribeEndpoint says InService, Failed: endpoint rules are tried with both spellings.
STATUSES: dict[str, tuple[str, str, list[str]]] = {
    # detail-type: (sample event, status field, statuses)
    "SageMaker Training Job State Change": (
        "training_job_failed",
        "TrainingJobStatus",
        ["InProgress", "Completed", "Failed", "Stopping", "Stopped"],
    ),
    "SageMaker HyperParameter Tuning Job State Change": (
        "tuning_job_failed",
        "HyperParameterTuningJobStatus",
        ["InProgress", "Completed", "Failed", "Stopping", "Stopped"],
    ),
    "SageMaker Endpoint State Change": (
        "endpoint_failed",
        "EndpointStatus",
        [
            "OutOfService",
            "Creating",
            "Updating",
            "SystemUpdating",
            "RollingBack",
            "InService",
            "Deleting",
            "Failed",
            "UpdateRollbackFailed",
        ],
    ),
    "SageMaker Ground Truth Labeling Job State Change": (
        "labeling_job_failed",
        "LabelingJobStatus",
        ["Initializing", "InProgress", "Completed", "Failed", "Stopping", "Stopped"],
    ),
    "SageMaker Transform Job State Change": (
        "transform_job_failed",
        "TransformJobStatus",
        ["InProgress", "Completed", "Failed", "Stopping", "Stopped"],
    ),
}
ALL = "every status"
# Each rule on a SageMaker source: the statuses it is for (in DescribeX's spelling).
HEARS: dict[str, set[str] | str] = {
    "StartTrainingFunctionLabelingCompleted": {"Completed"},
    "TrackRunFunction.LabelingJobChanged": {"Completed", "Failed", "Stopping", "Stopped"},
    # InProgress: one event per secondary-status change, the run's progress.
    "TrackRunFunction.TrainingJobChanged": {"InProgress", "Completed", "Failed", "Stopping", "Stopped"},
    "TrackRunFunction.TuningJobChanged": {"Completed", "Failed", "Stopping", "Stopped"},
    # Not Creating (Deployment Started says it) nor InService (configure_autoscaling's event carries it).
    "TrackRunFunction.EndpointChanged": {
        "OutOfService",
        "Updating",
        "SystemUpdating",
        "RollingBack",
        "Deleting",
        "Failed",
        "UpdateRollbackFailed",
    },
    "DeployModelFunction.TrainingJobEnded": {"Completed", "Failed", "Stopped"},
    "DeployModelFunction.TuningJobCompleted": {"Completed"},
    "ConfigureAutoscalingFunction.EndpointStateChanged": {"InService", "Failed", "UpdateRollbackFailed"},
    "CollectBatchFunctionTransformJobEnded": {"Completed", "Failed", "Stopped"},
}


@cache
def every_rule() -> dict[str, dict[str, Any]]:
    """Every EventBridge rule in template.yaml, as <function>.<event> (or the rule's logical id):
    its resolved pattern."""
    template = Template(PHYSICAL, {})
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.document["Resources"].items():
        for name, source in resource.get("Properties", {}).get("Events", {}).items():
            if source["Type"] == "EventBridgeRule":
                found[f"{logical_id}.{name}"] = template.resolve(source["Properties"]["Pattern"])
    # And the rules declared on their own (the long stages' queues' rules), by logical id.
    for rule in template.rules():
        found[rule.logical_id] = rule.pattern
    return found


def upper_snake(status: str) -> str:
    """InService -> IN_SERVICE, as the endpoint event spells it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", status).upper()


def spellings(detail_type: str, status: str) -> list[str]:
    if detail_type == "SageMaker Endpoint State Change":
        return [status, upper_snake(status)]
    return [status]


STATUS_CASES = [
    pytest.param(rule, detail_type, spelling, status, id=f"{rule}-{spelling}")
    for rule, pattern in every_rule().items()
    for detail_type in pattern.get("detail-type", [])
    if detail_type in STATUSES
    for status in STATUSES[detail_type][2]
    for spelling in spellings(detail_type, status)
]


def test_every_sagemaker_rule_has_its_statuses_in_the_table_and_the_rest_hear_no_status() -> None:
    sagemaker_rules = {rule for rule, p in every_rule().items() if p["source"] == ["aws.sagemaker"]}

    assert sagemaker_rules == set(HEARS)
    for rule, pattern in every_rule().items():
        if rule not in HEARS:  # uploads and sagechain's own events carry no status
            assert pattern["source"] in (["aws.s3"], ["sagechain"]), rule
    assert {
        d for p in every_rule().values() for d in p.get("detail-type", []) if d.startswith("SageMaker")
    } == set(STATUSES)


@pytest.mark.parametrize(("rule", "detail_type", "spelling", "status"), STATUS_CASES)
def test_each_rule_hears_exactly_the_statuses_it_is_for_in_every_spelling(
    rule: str, detail_type: str, spelling: str, status: str
) -> None:
    case, field, _ = STATUSES[detail_type]
    sample = event(case)
    sample["detail"][field] = spelling
    wanted = HEARS[rule]

    heard = EventPattern.load(json.dumps(every_rule()[rule])).matches_event(sample)

    assert heard == (wanted == ALL or status in wanted)


# ---------------------------------------------------------------- retries (POST /runs/{run_id}/retry)
RETRY_RULES = {
    "labeling": "StartLabelingFunction.RunRetried",
    "training": "StartTrainingFunctionRunRetried",
    "deployment": "DeployModelFunction.RunRetried",
}


def retried(from_stage: RetryStage, stack_id: str = LOCAL_STACK_ID) -> dict[str, Any]:
    retry = run_retried(2, from_stage)
    return {**bus_event(retry), "resources": [stack_id]}


@pytest.mark.parametrize("from_stage", sorted(RETRY_RULES))
def test_a_run_retried_reaches_only_the_stage_it_starts_at(from_stage: RetryStage) -> None:
    heard = [
        rule
        for rule, pattern in every_rule().items()
        if rule in RETRY_RULES.values()
        and EventPattern.load(json.dumps(pattern)).matches_event(retried(from_stage))
    ]
    others = {
        **retried(from_stage),
        "resources": ["arn:aws:cloudformation:us-east-1:123456789012:stack/other/1111"],
    }

    assert heard == [RETRY_RULES[from_stage]]
    assert not any(
        EventPattern.load(json.dumps(every_rule()[rule])).matches_event(others)
        for rule in RETRY_RULES.values()
    )
