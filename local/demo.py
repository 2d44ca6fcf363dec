"""`make demo`: the pipeline offline, on moto, from an upload onwards.

Built so far: stage 1 (prepare_dataset) and stage 2 (start_labeling, against an offline
Ground Truth). The demo uploads three datasets and shows what each one becomes: a folder
for Ground Truth labeling (a labeling job), a zip with its labels provided (COCO), and one
with a broken spec, which is rejected with the reason and kept.
"""

import argparse
import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parent.parent / "layers" / "common"
sys.path.insert(0, str(LAYER))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from local.sample_data import FLOWER_COLOURS, flower_images  # noqa: E402
from local.stack import OFFLINE_ENVIRONMENT, LocalStack  # noqa: E402
from local.template import REGION  # noqa: E402

STAGES_NOT_BUILT = "training, deployment, notifications and the prediction API are later issues"


class Printer:
    """Stage lines with the time since the demo started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def line(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:5.2f}s] {text}", flush=True)

    def event(self, event: dict[str, Any]) -> None:
        detail = event["detail"]
        kind = event["detail-type"]
        if kind == "Dataset Prepared":
            cost = detail.get("cost_estimate")
            extra = (
                f", labeling estimate ${cost['total_usd']}" if cost else f", labels {detail['label_counts']}"
            )
            self.line(
                f"{kind:<17} run {detail['run_id']}: {detail['objects']} images -> {detail['manifest_uri']}"
                f" (skipped {detail['skipped'] or 'nothing'}{extra})"
            )
        elif kind == "Labeling Started":
            cost = detail["cost_estimate"]
            auto = "on" if detail["auto_labeling"] else "off"
            self.line(
                f"{kind:<17} run {detail['run_id']}: Ground Truth job {detail['job_name']} "
                f"({detail['objects']} images, {detail['workforce']} team, auto-labeling {auto}, "
                f"estimate ${cost['total_usd']})"
            )
            self.line(f"{'':<17} {detail['console_url']}")
            if detail.get("auto_labeling_refused_reason"):
                self.line(f"{'':<17} {detail['auto_labeling_refused_reason']}")
        elif kind == "Dataset Rejected":
            self.line(f"{kind:<17} run {detail['run_id']}: {detail['reason']}")
            self.line(f"{'':<17} the dataset is kept as uploaded at {detail['dataset_uri']}")
        else:
            self.line(f"{kind:<17} {json.dumps(detail)[:160]}")


def upload_datasets(bucket: str, printer: Printer) -> None:
    """Three datasets: Ground Truth folder, provided-labels zip, broken spec."""
    s3 = boto3.client("s3", region_name=REGION)
    labels = list(FLOWER_COLOURS)
    for name, data in flower_images().items():
        s3.put_object(Bucket=bucket, Key=f"datasets/flowers/images/{name.replace('/', '-')}", Body=data)
    s3.put_object(Bucket=bucket, Key="datasets/flowers/images/README.txt", Body=b"not an image")
    spec = {"task": "image-classification", "labels": labels, "labeling": {"workers_per_object": 1}}
    s3.put_object(Bucket=bucket, Key="datasets/flowers/dataset.json", Body=json.dumps(spec).encode())
    printer.line("uploaded  datasets/flowers/ (8 images, Ground Truth labeling), dataset.json last")

    images = flower_images()
    coco = {
        "images": [
            {"id": i, "file_name": f"images/{n}", "width": 32, "height": 32} for i, n in enumerate(images)
        ],
        "categories": [{"id": i, "name": label} for i, label in enumerate(labels)],
        "annotations": [
            {"id": i, "image_id": i, "category_id": labels.index(n.split("/")[0])}
            for i, n in enumerate(images)
        ],
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "dataset.json",
            json.dumps(
                {
                    "task": "image-classification",
                    "labels": labels,
                    "labeling": {"mode": "provided", "labels_file": "coco.json"},
                }
            ),
        )
        zf.writestr("coco.json", json.dumps(coco))
        for name, data in images.items():
            zf.writestr(f"images/{name}", data)
    s3.put_object(Bucket=bucket, Key="datasets/garden.zip", Body=archive.getvalue())
    printer.line("uploaded  datasets/garden.zip (8 images, labels provided as COCO)")

    s3.put_object(Bucket=bucket, Key="datasets/typo/images/a.png", Body=images["rose/0.png"])
    s3.put_object(Bucket=bucket, Key="datasets/typo/dataset.json", Body=b'{"task": "image-clasification"}')
    printer.line("uploaded  datasets/typo/ (a spec with a typo)")


def main() -> int:
    """Run the demo; non-zero when any stage failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show the functions' own JSON logs")
    args = parser.parse_args()
    os.environ.update(OFFLINE_ENVIRONMENT)
    printer = Printer()
    with mock_aws(), LocalStack(parameters={"LogLevel": "DEBUG" if args.verbose else "ERROR"}) as stack:
        printer.line(
            f"local stack from template.yaml on moto: {len(stack.functions)} function(s), "
            f"bucket {stack.bucket}"
        )
        upload_datasets(stack.bucket, printer)
        stack.run_until_quiet(on_event=printer.event)
        for failure in stack.failures:
            printer.line(f"FAILED    {failure.function}: {failure.error}")
        printer.line(f"done. Not built yet: {STAGES_NOT_BUILT}.")
        return 1 if stack.failures else 0


if __name__ == "__main__":
    sys.exit(main())
