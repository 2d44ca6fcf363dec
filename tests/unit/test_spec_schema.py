"""The published JSON Schema and the template stay in step with the code."""

import json
from pathlib import Path

from pydantic import BaseModel
from samcli.yamlhelper import yaml_parse

from sagechain.models.spec import DatasetSpec, json_schema_document
from sagechain.settings import PredictSettings, PrepareDatasetSettings, SpecDefaults

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_matches_the_spec_model() -> None:
    published = (ROOT / "docs" / "dataset-spec.schema.json").read_text()

    assert published == json_schema_document(), "run: make schema"


def test_schema_requires_only_task_and_labels() -> None:
    schema = json.loads(json_schema_document())

    assert schema["required"] == ["task", "labels"]


def test_minimal_spec_gets_documented_defaults() -> None:
    spec = DatasetSpec.model_validate({"task": "object-detection", "labels": ["car"]})

    assert spec.labeling.mode == "ground-truth"
    assert spec.training.validation_fraction == 0.2
    assert (spec.deployment.min_instances, spec.deployment.max_instances) == (1, 2)
    assert spec.deployment.target_invocations_per_instance == 50


def _function_environment(logical_id: str) -> set[str]:
    template = yaml_parse((ROOT / "template.yaml").read_text())
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
        {"$schema": "./dataset-spec.schema.json", "task": "object-detection", "labels": ["car"]}
    )

    assert "$schema" not in spec.model_dump_json()


def test_template_gives_predict_every_variable_its_settings_require() -> None:
    environment = _function_environment("PredictFunction")

    missing = _required_variables(PredictSettings) - environment

    assert not missing


def test_predicts_environment_in_the_template_is_valid_settings() -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    own = template["Resources"]["PredictFunction"]["Properties"]["Environment"]["Variables"]
    literal = {name: value for name, value in own.items() if isinstance(value, str)}

    settings = PredictSettings.from_env({"DATA_BUCKET": "bucket", **literal})

    assert (settings.model_cache_ttl_seconds, settings.deadline_seconds, settings.max_attempts) == (60, 25, 5)
