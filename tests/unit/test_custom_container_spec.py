"""The custom-container fields of dataset.json: channels, objective, serving image and environment."""

import json
from typing import Any

import pytest

from sagechain.errors import DatasetRejectedError
from sagechain.spec import DatasetSpec, parse_spec

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagechain-histogram:1"
METRICS = [{"name": "validation:loss", "regex": "validation:loss=([0-9.]+)"}]
FILES = {"train": {"source": "files"}, "validation": {"source": "files"}}


def rejection(training: dict[str, Any], task: str = "image-classification", **sections: Any) -> str:
    document = {"task": task, "labels": ["rose", "tulip"], "training": training, **sections}
    with pytest.raises(DatasetRejectedError) as caught:
        parse_spec(json.dumps(document).encode(), "dataset.json")
    return caught.value.reason


def custom(**fields: Any) -> dict[str, Any]:
    return {"algorithm": IMAGE, "metric_definitions": METRICS, **fields}


def test_an_objective_not_among_the_metric_definitions_is_rejected_naming_them() -> None:
    reason = rejection(custom(objective={"metric": "val_acc"}))

    assert "objective.metric 'val_acc' is not one of metric_definitions (validation:loss)" in reason


def test_objective_and_tuning_exclude_each_other() -> None:
    tuning = {
        "objective_metric": "validation:loss",
        "ranges": [{"name": "bins", "type": "integer", "min": 1, "max": 16}],
    }

    assert "objective and tuning exclude each other" in rejection(
        custom(objective={"metric": "validation:loss"}, tuning=tuning)
    )


def test_builtin_algorithms_take_no_channels_objective_or_serving_image() -> None:
    assert "channels are for custom containers" in rejection({"channels": FILES})
    assert "deployment.image and deployment.environment are for custom containers" in rejection(
        {}, deployment={"environment": {"A": "b"}}
    )


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ({"train": {"source": "files"}}, "channels must include train and validation"),
        (
            {**FILES, "config": {"source": "files"}},
            "source files fills only the train and validation channels",
        ),
        ({**FILES, "train": {"source": "datasets/flowers/train/"}}, "holds the run's split"),
        ({**FILES, "config": {"source": "datasets/flowers/../other/"}}, "has a '.' or '..' folder"),
        ({**FILES, "config": {"source": "s3://elsewhere/config/"}}, "training.channels.config.source"),
        ({**FILES, "train": {"source": "files", "input_mode": "Pipe"}}, "cannot be read in Pipe mode"),
    ],
)
def test_channels_no_request_could_honour_are_rejected(channels: dict[str, Any], expected: str) -> None:
    assert expected in rejection(custom(channels=channels))


def test_a_files_channel_that_would_inherit_pipe_mode_is_rejected() -> None:
    reason = rejection(custom(channels=FILES, input_mode="Pipe"))

    assert "channel 'train' holds files but would be read in Pipe mode" in reason


def test_class_folders_need_single_label_classification() -> None:
    reason = rejection(custom(channels=FILES), task="object-detection")

    assert "object-detection needs layout 'labels-file'" in reason


def test_the_serving_environment_is_bounded_as_create_model_bounds_it() -> None:
    assert "deployment.environment" in rejection(custom(), deployment={"environment": {"1BAD": "x"}})
    too_many = {f"V{i}": "x" for i in range(101)}
    assert "at most 100 items" in rejection(custom(), deployment={"environment": too_many})
    too_big = {f"V{i}": "x" * 1_000 for i in range(40)}
    assert "CreateModel takes 32,768 at most" in rejection(custom(), deployment={"environment": too_big})


def test_a_spec_with_channels_and_a_serving_image_serves_from_that_image() -> None:
    spec = DatasetSpec.model_validate(
        {
            "task": "image-classification",
            "labels": ["rose", "tulip"],
            "training": custom(channels={**FILES, "config": {"source": "datasets/flowers/config/"}}),
            "deployment": {"image": f"{IMAGE}-serving"},
        }
    )

    assert spec.serving_image(IMAGE) == f"{IMAGE}-serving"
    assert spec.foreign_channel_folders("flowers") == []
    assert spec.foreign_channel_folders("fruit") == [
        "training.channels.config.source datasets/flowers/config/ is not a folder of this dataset "
        "(datasets/fruit/...)"
    ]
