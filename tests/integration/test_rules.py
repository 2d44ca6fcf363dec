"""The template's EventBridge rules bring notify and track_run exactly the events they are for."""

import json
import re
from functools import cache
from typing import Any

import pytest
from local.stack import PHYSICAL
from local.template import STACK_ID as LOCAL_STACK_ID
from local.template import Template
from moto.events.models import EventPattern

from tests.aws import ROOT, sample_event
from tests.runs import STACK_ID

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
    folder = "notify" if (ROOT / "events" / "notify" / f"{case}.json").exists() else "track_run"
    sample = sample_event(folder, case)
    sample["resources"] = [LOCAL_STACK_ID if arn == STACK_ID else arn for arn in sample["resources"]]
    return sample


def matching(function: str, sample: dict[str, Any]) -> list[str]:
    return [name for name, pattern in rules(function).items() if pattern.matches_event(sample)]


@pytest.mark.parametrize("case", CASES)
def test_notify_hears_every_sagechain_event_and_only_failed_or_stopped_resources(case: str) -> None:
    heard = matching("NotifyFunction", event(case))

    if event(case)["source"] == "sagechain":
        assert heard == ["SagechainEvents"]
    elif re.search(r"_(failed|stopped)$", case):
        assert len(heard) == 1
    else:
        assert heard == []


@pytest.mark.parametrize("case", CASES)
def test_track_run_hears_every_event_of_our_runs_once(case: str) -> None:
    assert len(matching("TrackRunFunction", event(case))) == 1


@pytest.mark.parametrize(
    ("case", "field", "value"),
    [
        ("training_job_failed", "TrainingJobName", "notebook-experiment-7"),
        ("tuning_job_failed", "HyperParameterTuningJobName", "sagechainx-tune"),
        ("endpoint_failed", "EndpointName", "other-team-endpoint"),
    ],
)
def test_neither_hears_about_someone_elses_jobs(case: str, field: str, value: str) -> None:
    sample = event(case)
    sample["detail"][field] = value

    assert matching("NotifyFunction", sample) == matching("TrackRunFunction", sample) == []


def test_neither_hears_about_a_labeling_job_whose_arn_lacks_our_prefix() -> None:
    sample = event("labeling_job_failed")
    sample["resources"] = ["arn:aws:sagemaker:us-east-1:123456789012:labeling-job/someone-elses-job"]

    assert matching("NotifyFunction", sample) == matching("TrackRunFunction", sample) == []


def test_every_rule_may_put_undeliverable_events_in_the_dead_letter_queue() -> None:
    resources = Template(PHYSICAL, {}).document["Resources"]
    allowed = resources["RulesDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    # yaml_parse spells !GetAtt X.Arn as {"Fn::GetAtt": ["X", "Arn"]}.
    arns = {".".join(ref["Fn::GetAtt"]) for ref in allowed["Condition"]["ArnEquals"]["aws:SourceArn"]}

    for function in ("NotifyFunction", "TrackRunFunction"):
        for name in rules(function):
            assert f"{function}{name}.Arn" in arns
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


@pytest.mark.parametrize("function", ["NotifyFunction", "TrackRunFunction"])
def test_another_stacks_sagechain_event_matches_no_rule_of_this_stack(function: str) -> None:
    other = {
        **event("dataset_rejected"),
        "resources": ["arn:aws:cloudformation:us-east-1:123456789012:stack/other/1111"],
    }

    assert matching(function, event("dataset_rejected")) != []
    assert matching(function, other) == []
