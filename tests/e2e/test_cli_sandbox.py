"""The `sagechain` CLI against `make sandbox`: a person's own dataset, from init to a drawn prediction.

The sandbox runs as a separate process (local/sandbox.py: moto's S3 server and the API on
127.0.0.1), as a person starts it; the CLI talks to it only over HTTP, as it talks to AWS.
One chain: init -> upload (progress) -> status --watch until live -> predict --draw.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from local.sample_data import FRUIT_COLOURS, fruit_images
from PIL import Image

from sagechain_cli.main import cli
from tests.aws import ROOT

pytestmark = pytest.mark.e2e
STARTUP_SECONDS = 60


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """A running sandbox on free ports; the stack document it wrote."""
    out = tmp_path / "sandbox"
    stack_file = out / "stack.json"
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore"}
    log = tmp_path / "sandbox.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "local.sandbox", "--port", "0", "--s3-port", "0", "--out", str(out)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not stack_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield stack_file
    finally:
        process.terminate()
        process.wait(timeout=30)


def _fruit_dataset(folder: Path) -> Path:
    """Object detection with COCO boxes: 4 apples and 4 blueberries, one image kept to predict."""
    images = fruit_images(per_class=4)
    labels = sorted(FRUIT_COLOURS)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name, (data, _) in images.items():
        (folder / "images" / name).write_bytes(data)
    (folder / "images" / "notes.txt").write_text("not an image: skipped")
    coco = {
        "images": [{"id": i, "file_name": name, "width": 40, "height": 40} for i, name in enumerate(images)],
        "categories": [{"id": i + 1, "name": label} for i, label in enumerate(labels)],
        "annotations": [
            {"id": i, "image_id": i, "category_id": labels.index(name.split("-")[0]) + 1, "bbox": list(box)}
            for i, (name, (_, box)) in enumerate(images.items())
        ],
    }
    (folder / "coco.json").write_text(json.dumps(coco))
    probe = folder.parent / "blueberry.png"
    probe.write_bytes(images["blueberry-0.png"][0])
    return probe


def test_a_users_own_dataset_goes_from_init_to_a_drawn_prediction_in_the_sandbox(
    sandbox: Path, tmp_path: Path
) -> None:
    # Given a running sandbox and a folder of the user's images with COCO boxes
    runner = CliRunner(mix_stderr=False)
    local = ["--local", "--sandbox-file", str(sandbox)]
    folder = tmp_path / "fruit"
    init = runner.invoke(
        cli,
        [
            *("init", str(folder), "--task", "object-detection", "--labels", "apple,blueberry"),
            *("--labeling", "provided", "--labels-file", "coco.json"),
        ],
    )
    assert init.exit_code == 0, init.output + init.stderr
    probe = _fruit_dataset(folder)

    # When it is uploaded (progress on stderr, the run id on stdout) and watched until it ends
    uploaded = runner.invoke(cli, [*local, "upload", str(folder)])
    assert uploaded.exit_code == 0, uploaded.stderr
    assert "10/10 files" in uploaded.stderr  # 8 images, coco.json, dataset.json last
    assert "skipped 1 not_an_image" in uploaded.stderr
    run_id = re.search(r"run (\S+) started", uploaded.output)[1]  # type: ignore[index]
    watched = runner.invoke(
        cli, [*local, "status", run_id, "--watch", "--interval", "0.5", "--timeout", "120"]
    )

    # Then the timeline shows each stage as it happened and the run is live
    assert watched.exit_code == 0, watched.output + watched.stderr
    events = [line.split()[2] for line in watched.output.splitlines() if line.startswith("20")]
    assert events[0] == "Dataset"
    assert "Model" in events
    assert f"run {run_id} (fruit): live" in watched.output

    # And predict --draw answers from the emulated endpoint and draws its box on the image
    drawn = tmp_path / "drawn.png"
    predicted = runner.invoke(
        cli,
        [
            *local,
            "--json",
            "predict",
            "sagechain-fruit",
            str(probe),
            "--threshold",
            "0.5",
            "--draw",
            str(drawn),
        ],
    )
    assert predicted.exit_code == 0, predicted.stderr
    box = json.loads(predicted.output)["predictions"][0]
    assert box["label"] == "blueberry"
    with Image.open(probe) as before, Image.open(drawn) as after:
        left = round(box["xmin"] * (before.width - 1))
        middle = round((box["ymin"] + box["ymax"]) / 2 * (before.height - 1))
        assert after.size == before.size
        assert after.convert("RGB").getpixel((left, middle)) != before.convert("RGB").getpixel((left, middle))
