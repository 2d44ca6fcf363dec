"""The published JSON Schema and the template stay in step with the code."""

import json
from pathlib import Path

import pytest
from local.stack import DEMO_PARAMETERS, PHYSICAL
from local.template import FunctionDefinition, Template, parsed_template
from moto.events.models import EventPattern
from pydantic import BaseModel

from sagechain.deployment.settings import ConfigureAutoscalingSettings, DeployModelSettings
from sagechain.inference.settings import PredictSettings
from sagechain.ingest.settings import PrepareDatasetSettings
from sagechain.labeling.settings import StartLabelingSettings
from sagechain.observers.settings import (
    StatusApiSettings,
    TrackRunSettings,
    WatchRunsSettings,
)
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec, json_schema_document
from sagechain.training.settings import StartTrainingSettings, TrainingEnvironment
from tests.aws import sample_event

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_matches_the_spec_model() -> None:
    published = (ROOT / "docs" / "dataset-spec.schema.json").read_text()

    assert published == json_schema_document(), "run: make schema"


def test_schema_requires_only_task_and_labels() -> None:
    schema = json.loads(json_schema_document())

    assert schema["required"] == ["task", "labels"]


def test_minimal_spec_gets_documented_defaults() -> None:
    spec = DatasetSpec.model_validate({"task": "object-detection", "labels": ["car"]})

    # Label Studio works in every account; Ground Truth is closed to new AWS customers.
    assert spec.labeling.mode == "label-studio"
    assert spec.training.validation_fraction == 0.2
    assert (spec.deployment.min_instances, spec.deployment.max_instances) == (1, 2)
    assert spec.deployment.target_invocations_per_instance == 50


def _function_environment(logical_id: str) -> set[str]:
    template = parsed_template()
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    own_env = template["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
    return set(globals_env) | set(own_env)


def _required_variables(model: type[BaseModel]) -> set[str]:
    return {str(field.alias) for field in model.model_fields.values() if field.alias and field.is_required()}


def test_template_gives_prepare_dataset_every_variable_its_settings_require() -> None:
    environment = _function_environment("PrepareDatasetFunction")

    missing = (_required_variables(PrepareDatasetSettings) | _required_variables(SpecDefaults)) - environment

    assert not missing


def test_a_spec_may_name_its_schema_for_editors() -> None:
    spec = DatasetSpec.model_validate(
        {
            "$schema": "./dataset-spec.schema.json",
            "task": "object-detection",
            "labels": ["car"],
            "labeling": {"mode": "ground-truth"},
        }
    )

    assert "$schema" not in spec.model_dump_json()


def test_published_event_schemas_match_the_event_models() -> None:
    from sagechain.events import events_schema_document  # noqa: PLC0415

    published = (ROOT / "docs" / "events.schema.json").read_text()

    assert published == events_schema_document(), "run: make schema"


def test_template_gives_start_labeling_every_variable_its_settings_require() -> None:
    environment = _function_environment("StartLabelingFunction")

    missing = _required_variables(StartLabelingSettings) - environment

    assert not missing


def test_template_gives_start_training_every_variable_its_settings_require() -> None:
    environment = _function_environment("StartTrainingFunction")

    missing = (
        _required_variables(StartTrainingSettings) | _required_variables(TrainingEnvironment)
    ) - environment

    # AWS_REGION is not in the template: Lambda sets it (a reserved variable), and the
    # settings read it through a validation alias, which has no `alias`.
    assert not missing
    assert "SAGEMAKER_ROLE_ARN" in _required_variables(TrainingEnvironment)


@pytest.mark.parametrize(
    ("logical_id", "settings"),
    [
        ("TrackRunFunction", TrackRunSettings),
        ("StatusApiFunction", StatusApiSettings),
        ("WatchRunsFunction", WatchRunsSettings),
    ],
)
def test_template_gives_notify_track_run_and_status_api_every_variable_their_settings_require(
    logical_id: str, settings: type[BaseModel]
) -> None:
    missing = _required_variables(settings) - _function_environment(logical_id)

    assert not missing


def _resolved_function(logical_id: str) -> FunctionDefinition:
    """A function of template.yaml with parameters, Ref and Sub resolved as CloudFormation would."""
    [found] = [f for f in Template(PHYSICAL, DEMO_PARAMETERS).functions() if f.logical_id == logical_id]
    return found


@pytest.mark.parametrize(
    ("logical_id", "settings"),
    [
        ("DeployModelFunction", DeployModelSettings),
        ("ConfigureAutoscalingFunction", ConfigureAutoscalingSettings),
    ],
)
def test_template_gives_the_deploy_stage_every_variable_its_settings_require(
    logical_id: str, settings: type[DeployModelSettings] | type[ConfigureAutoscalingSettings]
) -> None:
    environment = _resolved_function(logical_id).environment

    missing = {str(f.alias) for f in settings.model_fields.values() if f.alias and f.is_required()} - set(
        environment
    )

    assert not missing
    settings.from_env(environment)  # and the values the template gives are valid


def _rule_matches(logical_id: str, event: dict[str, object]) -> bool:
    patterns = _resolved_function(logical_id).patterns
    return any(EventPattern.load(json.dumps(pattern)).matches_event(event) for pattern in patterns)


@pytest.mark.parametrize(
    "case",
    [
        "training_job_completed",
        "training_job_failed",
        "training_job_completed_tags_as_list",
        "tuning_job_completed",
    ],
)
def test_deploy_model_rules_deliver_the_documented_job_events(case: str) -> None:
    assert _rule_matches("DeployModelFunction", sample_event("deploy_model", case))


def test_deploy_model_rules_skip_other_stacks_jobs_and_jobs_still_running() -> None:
    foreign = sample_event("deploy_model", "training_job_completed")
    foreign["detail"]["TrainingJobName"] = "someone-else-train"  # type: ignore[index]
    running = sample_event("deploy_model", "training_job_completed")
    running["detail"]["TrainingJobStatus"] = "InProgress"  # type: ignore[index]

    assert not _rule_matches("DeployModelFunction", foreign)
    assert not _rule_matches("DeployModelFunction", running)


@pytest.mark.parametrize(
    ("case", "delivered"),
    [
        ("endpoint_in_service", True),
        ("endpoint_failed", True),
        ("endpoint_update_rollback_failed", True),
        ("endpoint_updating", False),
    ],
)
def test_configure_autoscaling_rule_delivers_in_service_and_failures(case: str, delivered: bool) -> None:
    assert (
        _rule_matches("ConfigureAutoscalingFunction", sample_event("configure_autoscaling", case))
        is delivered
    )


def test_configure_autoscaling_rule_also_takes_the_apis_spelling() -> None:
    event = sample_event("configure_autoscaling", "endpoint_in_service")
    event["detail"]["EndpointStatus"] = "InService"  # type: ignore[index]

    assert _rule_matches("ConfigureAutoscalingFunction", event)


def test_template_gives_predict_every_variable_its_settings_require() -> None:
    environment = _function_environment("PredictFunction")

    missing = _required_variables(PredictSettings) - environment

    assert not missing


def test_predicts_environment_in_the_template_is_valid_settings() -> None:
    template = parsed_template()
    own = template["Resources"]["PredictFunction"]["Properties"]["Environment"]["Variables"]
    literal = {name: value for name, value in own.items() if isinstance(value, str)}

    settings = PredictSettings.from_env(
        {
            "DATA_BUCKET": "bucket",
            "NAME_PREFIX": "sagechain",
            "STACK_NAME": "sagechain",
            "STACK_ID": "arn:aws:cloudformation:us-east-1:123456789012:stack/sagechain/1",
            **literal,
        }
    )

    assert (settings.model_cache_ttl_seconds, settings.deadline_seconds, settings.max_attempts) == (60, 25, 5)


def _statements(logical_id: str) -> list[dict[str, object]]:
    template = parsed_template()
    policies = template["Resources"][logical_id]["Properties"].get("Policies", [])
    return [
        statement
        for policy in policies
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
    ]


def _actions(statement: dict[str, object]) -> set[str]:
    actions = statement.get("Action", [])
    return {actions} if isinstance(actions, str) else set(actions)  # type: ignore[arg-type]


FUNCTIONS = [
    logical_id
    for logical_id, resource in parsed_template()["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
]


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_that_reads_objects_can_tell_a_missing_object_from_a_denied_one(
    logical_id: str,
) -> None:
    # S3 answers GetObject/HeadObject on a missing key with 404 only to callers allowed
    # s3:ListBucket on the bucket (a prefix condition does not apply); otherwise with 403,
    # and "not found" paths (rejections, first deploys) would fail and be retried instead.
    statements = _statements(logical_id)
    reads = any("s3:GetObject" in _actions(s) for s in statements if s.get("Effect") == "Allow")

    unconditional_list = any(
        "s3:ListBucket" in _actions(s) and "Condition" not in s
        for s in statements
        if s.get("Effect") == "Allow"
    )

    assert unconditional_list or not reads
