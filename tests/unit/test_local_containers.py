"""The offline local run of a custom container (local/containers.py) and the example it runs."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from local.containers import ROOT_VARIABLE, final_metrics, histogram_classifier
from local.sample_data import flower_images

DEFINITIONS = [
    {"Name": "validation:loss", "Regex": r"validation:loss=([0-9.]+)"},
    {"Name": "epochs", "Regex": r"epoch \d+"},
    {"Name": "absent", "Regex": r"never=([0-9.]+)"},
]


def example() -> ModuleType:
    container = histogram_classifier()
    spec = importlib.util.spec_from_file_location(
        "example_under_test", container.directory / container.serving_module
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_metric_is_its_regexs_last_value_in_the_log_and_absent_ones_are_left_out() -> None:
    log = "validation:loss=0.9\nepoch 1\nvalidation:loss=0.25\nvalidation:loss=oops\n"

    found = final_metrics(log, DEFINITIONS)

    assert found == [{"MetricName": "validation:loss", "Value": 0.25}]


def _root(tmp_path: Path, hyperparameters: dict[str, str]) -> Path:
    images = flower_images(per_class=2)
    for name, data in images.items():
        label, index = name.split("/")
        split = "train" if index.startswith("0") else "validation"
        target = tmp_path / "input" / "data" / split / label / index
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    return tmp_path


def test_the_example_trains_prints_its_metrics_and_serves_what_it_learned(tmp_path: Path) -> None:
    root = _root(tmp_path, {"bins": "4"})
    container = histogram_classifier()

    done = subprocess.run(  # noqa: S603 - the example's own script
        [sys.executable, str(container.directory / "train")],
        env={ROOT_VARIABLE: str(root)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "validation:accuracy=1.000000" in done.stdout
    module = example()
    model = module.load_model(root / "model")
    answer, content_type = module.invocations(model, flower_images(per_class=1)["rose/0.png"], "image/png")
    assert content_type == "application/json"
    assert json.loads(answer)["label"] == "rose"
    with pytest.raises(module.InvocationError) as refused:
        module.invocations(model, b"{}", "application/json")
    assert refused.value.status == 415


def test_a_failing_example_exits_non_zero_with_the_reason_in_the_failure_file(tmp_path: Path) -> None:
    root = _root(tmp_path, {"bins": "0"})

    done = subprocess.run(  # noqa: S603 - the example's own script
        [sys.executable, str(histogram_classifier().directory / "train")],
        env={ROOT_VARIABLE: str(root)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert (root / "output" / "failure").read_text().startswith("ValueError: bins must be 1-256")
