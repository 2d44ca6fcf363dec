"""`make demo`: the whole chain offline, on moto, from an upload to a prediction.

Every stage runs, as template.yaml wires it: prepare_dataset, start_labeling, collect_labels,
start_training, deploy_model, configure_autoscaling, and track_run (the run's history, then its
emails) on every event.
The demo uploads four datasets and shows what each one becomes: a folder labeled in Label
Studio (the default mode: the demo writes the annotation objects Label Studio's S3 target
storage would, local/label_studio.py), a zip with its labels provided (COCO), both ending in a
live endpoint; one with a broken spec, which is rejected with the reason and kept; and one
whose training instance type has no quota in the (emulated, new) account, whose run fails at
training with an email that names the quota and how to raise it; the demo then raises the quota
and retries that run (POST /runs/{run_id}/retry: it trains again without labeling again and goes
live). That run brings its own container, examples/histogram-classifier: its training script
really runs (a local process under SageMaker's /opt/ml contract, on files channels) and its
serving code answers the pets model's predictions. It ends by listing the runs through GET /runs,
the artifacts of one run (GET /runs/{run_id}/artifacts: its model and manifests as download
links), and calling each model
through the predict handler (the built-in models' emulated endpoints score sample images by colour;
the pets model answers from the example container's own serving code).
"""

import argparse
import io
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parent.parent / "layers" / "common"
sys.path.insert(0, str(LAYER))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from local.api import LocalApi, serve  # noqa: E402
from local.containers import histogram_classifier  # noqa: E402
from local.label_studio import annotate  # noqa: E402
from local.outbox import Outbox  # noqa: E402
from local.sample_data import FLOWER_COLOURS, FRUIT_COLOURS, flower_images, fruit_images, png  # noqa: E402
from local.stack import OFFLINE_ENVIRONMENT, PHYSICAL, LocalStack  # noqa: E402
from local.template import ACCOUNT, REGION, ROOT  # noqa: E402

OUTBOX = ROOT / "local" / "out" / "outbox"
OUTBOX_SHOWN = "local/out/outbox/"


class Printer:
    """Stage lines with the time since the demo started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def line(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:5.2f}s] {text}", flush=True)

    def event(self, event: dict[str, Any]) -> None:
        """One sagechain event as a stage line (and its details below it)."""
        kind = event["detail-type"]
        lines = FORMATS.get(kind, _generic)(event["detail"])
        self.line(f"{kind:<18} {lines[0]}")
        for more in lines[1:]:
            self.line(f"{'':<18} {more}")


def _generic(detail: dict[str, Any]) -> list[str]:
    return [json.dumps(detail)[:160]]


def _dataset_prepared(d: dict[str, Any]) -> list[str]:
    cost = d.get("cost_estimate")
    if cost:
        extra = f"labeling estimate ${cost['total_usd']}"
    elif d["label_counts"] is None:
        extra = f"to label in {d['labeling_mode']}"
    else:
        extra = f"labels {d['label_counts']}"
    skipped = d["skipped"] or "nothing"
    lines = [f"run {d['run_id']}: {d['objects']} images, skipped {skipped}, {extra}", d["manifest_uri"]]
    worst = d.get("worst_case")
    if worst:
        lines.append(
            f"worst case ${worst['total_usd']} of ${worst['max_run_cost_usd']} allowed: training "
            f"${worst['training_usd']}, endpoint ${worst['endpoint_per_day_min_usd']}-"
            f"${worst['endpoint_per_day_max_usd']} a day"
        )
    return lines


def _dataset_rejected(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: {d['reason']}", f"the dataset is kept as uploaded at {d['dataset_uri']}"]


def _labeling_started(d: dict[str, Any]) -> list[str]:
    auto = "on" if d["auto_labeling"] else "off"
    lines = [
        f"run {d['run_id']}: Ground Truth job {d['job_name']} ({d['objects']} images, "
        f"{d['workforce']} team, auto-labeling {auto})",
        d["console_url"],
    ]
    return lines + ([d["auto_labeling_refused_reason"]] if d.get("auto_labeling_refused_reason") else [])


def _labeling_requested(d: dict[str, Any]) -> list[str]:
    return [
        f"run {d['run_id']}: {d['objects']} images to label in {d['tool']}",
        *[uri for uri in (d["tasks_uri"], d["config_uri"], d["cvat_labels_uri"]) if uri],
    ]


def _labeling_progress(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: {d['labeled']} of {d['total']} images labeled"]


def _labeling_completed(d: dict[str, Any]) -> list[str]:
    return [
        f"run {d['run_id']}: {d['labeled']} of {d['total']} labeled ({d['completed_by']}), labels "
        f"{d['label_counts']}",
        d["manifest_uri"],
    ]


def _training_started(d: dict[str, Any]) -> list[str]:
    jobs = d["tuning_job_name"] or ", ".join(d["job_names"])
    spot = "spot" if d["spot"] else "on-demand"
    return [
        f"run {d['run_id']}: {jobs} on {d['instance_count']} x {d['instance_type']} ({spot}), "
        f"{d['train_objects']} train / {d['validation_objects']} validation images"
    ]


def _training_skipped(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: {d['reason']}"]


def _training_failed(d: dict[str, Any]) -> list[str]:
    error = d["error"]
    return [f"run {d['run_id']}: {error['cause']}", f"fix: {error['fix']}"]


def _deployment_started(d: dict[str, Any]) -> list[str]:
    metric = f", {d['metric_name']} {d['metric_value']}" if d.get("metric_name") else ""
    return [
        f"run {d['run_id']}: {d['action']} endpoint {d['endpoint_name']} with {d['training_job_name']} "
        f"on {d['instance_type']}{metric}"
    ]


def _deployment_rejected(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: {d['reason']}"]


def _deployment_failed(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: endpoint {d['endpoint_name']}: {d['reason']}"]


def _model_live(d: dict[str, Any]) -> list[str]:
    return [
        f"run {d['run_id']}: {d['endpoint_name']} in service on {d['instance_type']}, "
        f"autoscaling {d['min_instances']}-{d['max_instances']} instances",
        f"POST {d['predict_url']}",
    ]


def _run_retried(d: dict[str, Any]) -> list[str]:
    return [f"run {d['run_id']}: attempt {d['attempt']} starts at {d['from_stage']} (no new labeling)"]


def _batch_started(d: dict[str, Any]) -> list[str]:
    cost = d.get("cost_estimate") or {}
    return [
        f"batch {d['batch_name']} of {d['model']}: transform job {d['transform_job_name']}, "
        f"{d['images']} images on {d['instance_count']} x {d['instance_type']} "
        f"(at most {cost.get('max_usd', '?')} USD), "
        f"skipped {d['skipped'] or 'nothing'}"
    ]


def _batch_completed(d: dict[str, Any]) -> list[str]:
    return [
        f"batch {d['batch_name']}: {d['scored']} of {d['images']} scored, labels {d['label_counts']}",
        f"predictions in {d['predictions_uri']}",
    ]


def _batch_rejected(d: dict[str, Any]) -> list[str]:
    return [f"batch {d['batch_name']} of {d['model']}: {d['reason']}"]


FORMATS = {
    "Dataset Prepared": _dataset_prepared,
    "Dataset Rejected": _dataset_rejected,
    "Labeling Started": _labeling_started,
    "Labeling Requested": _labeling_requested,
    "Labeling Progress": _labeling_progress,
    "Labeling Completed": _labeling_completed,
    "Training Started": _training_started,
    "Training Skipped": _training_skipped,
    "Training Failed": _training_failed,
    "Deployment Started": _deployment_started,
    "Deployment Rejected": _deployment_rejected,
    "Deployment Failed": _deployment_failed,
    "Model Live": _model_live,
    "Run Retried": _run_retried,
    "Batch Started": _batch_started,
    "Batch Completed": _batch_completed,
    "Batch Rejected": _batch_rejected,
}


# The demo account, like a new one, has no quota for this GPU type (SageMaker's default for
# many GPU instance types is 0): the "pets" dataset asks for it and its training is refused.
NO_QUOTA_TRAINING_TYPE = "ml.g5.xlarge"
# The example container (examples/histogram-classifier) as if pushed to this account's ECR: the demo
# registers it as locally runnable, so the pets run trains and serves it for real.
EXAMPLE_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagechain-histogram-classifier:1"
EXAMPLE_TRAINING = {
    "algorithm": EXAMPLE_IMAGE,
    "hyperparameters": {"bins": "4"},
    "metric_definitions": [
        {"name": "validation:accuracy", "regex": r"validation:accuracy=([0-9.]+)"},
        {"name": "validation:loss", "regex": r"validation:loss=([0-9.]+)"},
    ],
    "objective": {"metric": "validation:loss", "type": "Minimize"},
    "channels": {"train": {"source": "files"}, "validation": {"source": "files"}},
}


def upload_datasets(stack: LocalStack, printer: Printer) -> None:
    """Four datasets: a folder to label in Label Studio, provided-labels zip, broken spec, one beyond
    a quota."""
    bucket = stack.bucket
    s3 = boto3.client("s3", region_name=REGION)
    labels = list(FLOWER_COLOURS)
    for name, data in flower_images().items():
        key = f"datasets/flowers/images/{name.replace('/', '-')}"
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.put_object(Bucket=bucket, Key="datasets/flowers/images/README.txt", Body=b"not an image")
    # No labeling mode: the default, Label Studio, which works in every account.
    spec: dict[str, Any] = {"task": "image-classification", "labels": labels}
    s3.put_object(Bucket=bucket, Key="datasets/flowers/dataset.json", Body=json.dumps(spec).encode())
    printer.line("uploaded  datasets/flowers/ (8 images, to label in Label Studio), dataset.json last")

    fruit = fruit_images(per_class=4)
    fruit_labels = sorted(FRUIT_COLOURS)
    coco = {
        "images": [
            {"id": i, "file_name": f"images/{name}", "width": 40, "height": 40}
            for i, name in enumerate(fruit)
        ],
        "categories": [{"id": i + 1, "name": label} for i, label in enumerate(fruit_labels)],
        "annotations": [
            {
                "id": i,
                "image_id": i,
                "category_id": fruit_labels.index(name.split("-")[0]) + 1,
                "bbox": list(box),
            }
            for i, (name, (_, box)) in enumerate(fruit.items())
        ],
    }
    spec = {
        "task": "object-detection",
        "labels": fruit_labels,
        "labeling": {"mode": "provided", "labels_file": "coco.json"},
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("dataset.json", json.dumps(spec))
        zf.writestr("coco.json", json.dumps(coco))
        for name, (data, _) in fruit.items():
            zf.writestr(f"images/{name}", data)
    s3.put_object(Bucket=bucket, Key="datasets/fruit.zip", Body=archive.getvalue())
    printer.line("uploaded  datasets/fruit.zip (8 images, object detection, boxes provided as COCO)")

    images = flower_images()
    s3.put_object(Bucket=bucket, Key="datasets/typo/images/a.png", Body=images["rose/0.png"])
    s3.put_object(Bucket=bucket, Key="datasets/typo/dataset.json", Body=b'{"task": "image-clasification"}')
    printer.line("uploaded  datasets/typo/ (a spec with a typo)")

    stack.sagemaker.instance_quotas[("training job", NO_QUOTA_TRAINING_TYPE)] = 0
    for name, data in images.items():
        s3.put_object(Bucket=bucket, Key=f"datasets/pets/images/{name}", Body=data)
    spec = {
        "task": "image-classification",
        "labels": labels,
        "labeling": {"mode": "provided"},
        "training": {**EXAMPLE_TRAINING, "instance_type": NO_QUOTA_TRAINING_TYPE},
    }
    s3.put_object(Bucket=bucket, Key="datasets/pets/dataset.json", Body=json.dumps(spec).encode())
    printer.line(
        f"uploaded  datasets/pets/ (labels as class folders, training on {NO_QUOTA_TRAINING_TYPE}: no quota;"
    )
    printer.line(f"{'':<10}its own container, examples/histogram-classifier, on files channels)")


def label_in_label_studio(stack: LocalStack, printer: Printer) -> None:
    """Play the team's Label Studio: annotate each task of the waiting run with the image's true
    class (its file name says it), as S3 target storage writes annotations, one object each."""
    for requested in [e["detail"] for e in stack.observed if e["detail-type"] == "Labeling Requested"]:
        written = annotate(
            stack.bucket,
            requested["run_id"],
            lambda uri: [uri.rsplit("/", 1)[-1].split("-")[0]],
        )
        printer.line(
            f"labeled   {written} tasks in Label Studio: target storage wrote "
            f"runs/{requested['run_id']}/label-studio/annotations/..."
        )


STAGE_OF = {
    "PrepareDatasetFunction": "stage 1 (prepare_dataset)",
    "StartLabelingFunction": "stage 2 (start_labeling)",
    "CollectLabelsFunction": "stage 2 (collect_labels)",
    "StartTrainingFunction": "stage 3 (start_training)",
    "DeployModelFunction": "stage 4 (deploy_model)",
    "ConfigureAutoscalingFunction": "stage 5 (configure_autoscaling)",
    "TrackRunFunction": "track_run (history and emails)",
}


def report_failures(stack: LocalStack, printer: Printer) -> None:
    """Each delivery that failed after its retries: the stage, the reason, where to look."""
    for failure in stack.failures:
        detail = failure.event.get("detail", {})
        run = detail.get("run_id") or detail.get("object", {}).get("key", "?")
        printer.line(f"{'FAILED':<18} {STAGE_OF.get(failure.function, failure.function)} on {run}")
        printer.line(f"{'':<18} reason: {failure.error}")
    for problem in stack.iam.problems:
        printer.line(f"{'IAM':<18} {problem}")
    if stack.failures:
        printer.line(
            f"{'':<18} the runs' history: GET /runs (make demo ARGS=--serve), emails in {OUTBOX_SHOWN}"
        )


def show_runs(api: LocalApi, printer: Printer) -> None:
    """GET /runs through the status API: where each run ended."""
    answer = api.handle("GET", "/runs?limit=20", {}, b"")
    for run in json.loads(answer.body)["runs"]:
        printer.line(f"{'run':<18} {run['run_id']}: {run['status']} - {run['summary']}")


def retry_after_quota_raise(
    stack: LocalStack, api: LocalApi, printer: Printer, on_round: Callable[[], None]
) -> None:
    """The quota the pets run met is raised (as Service Quotas would), then POST /runs/<id>/retry."""
    failed = [e["detail"]["run_id"] for e in stack.observed if e["detail-type"] == "Training Failed"]
    if not failed:
        return
    run_id = failed[0]
    stack.sagemaker.instance_quotas[("training job", NO_QUOTA_TRAINING_TYPE)] = 1
    printer.line(
        f"{'quota':<18} {NO_QUOTA_TRAINING_TYPE} for training job usage raised to 1 (Service Quotas)"
    )
    answer = api.handle("POST", f"/runs/{run_id}/retry", {}, b"")
    accepted = json.loads(answer.body)
    printer.line(
        f"{'retry':<18} POST /v1/runs/{run_id}/retry -> {answer.status}: attempt {accepted.get('attempt')}"
    )
    stack.run_until_quiet(on_event=printer.event, on_round=on_round)


def show_artifacts(stack: LocalStack, api: LocalApi, printer: Printer) -> None:
    """GET /runs/<id>/artifacts for the first run that went live: what it produced, to download."""
    live = [e["detail"]["run_id"] for e in stack.observed if e["detail-type"] == "Model Live"]
    if not live:
        return
    path = f"/runs/{live[0]}/artifacts"
    answer = api.handle("GET", path, {}, b"")
    found = json.loads(answer.body)
    printer.line(f"{'artifacts':<18} GET /v1{path} -> {answer.status} (links valid 15 min)")
    for job in found.get("jobs", []):
        model = job.get("model") or {}
        printer.line(f"{'':<18} {job['job_name']}: model.tar.gz {model.get('size_bytes', '?')} bytes")
        printer.line(f"{'':<18}   {str(model.get('download_url', ''))[:96]}...")
    names = ", ".join(manifest["name"] for manifest in found.get("manifests", []))
    printer.line(f"{'':<18} manifests: {names}")


def predict_sample(stack: LocalStack, api: LocalApi, printer: Printer) -> int:
    """POST a sample image to every live model through the predict handler; non-zero on failure."""
    samples = {
        "sagechain-flowers": ("a yellow tulip", png(32, 32, FLOWER_COLOURS["tulip"], seed=9), "k=2"),
        "sagechain-fruit": ("a blueberry", fruit_images(per_class=1)["blueberry-0.png"][0], "threshold=0.5"),
    }
    failed = 0
    for event in stack.observed:
        if event["detail-type"] != "Model Live":
            continue
        model = event["detail"]["endpoint_name"]
        what, image, query = samples.get(model, ("a yellow tulip", samples["sagechain-flowers"][1], "k=2"))
        path = f"/models/{model}/predict?{query}"
        response = api.handle("POST", path, {"Content-Type": "image/png"}, image)
        printer.line(f"{'predict':<18} POST /v1{path} ({what}) -> {response.status}")
        printer.line(f"{'':<18} {response.body.decode()}")
        failed += response.status != 200
    printer.line(f"{'':<18} (built-in models: an emulated endpoint scores sample images by colour;")
    printer.line(f"{'':<18}  sagechain-pets: the example container's serving code, on the model it trained)")
    return failed


def score_batch(stack: LocalStack, api: LocalApi, printer: Printer, show_emails: Callable[[], None]) -> int:
    """A small batch for the live flowers model (batches/<model>/<name>/, batch.json last): one
    transform job, then predictions.jsonl; non-zero unless the batch completed."""
    live = {e["detail"]["endpoint_name"] for e in stack.observed if e["detail-type"] == "Model Live"}
    model = "sagechain-flowers"
    if model not in live:
        return 1
    s3 = boto3.client("s3", region_name=REGION)
    prefix = f"batches/{model}/tonight/"
    for name, data in flower_images(per_class=2).items():
        s3.put_object(Bucket=stack.bucket, Key=f"{prefix}images/{name}", Body=data)
    s3.put_object(Bucket=stack.bucket, Key=f"{prefix}images/README.txt", Body=b"not an image: skipped")
    s3.put_object(Bucket=stack.bucket, Key=f"{prefix}batch.json", Body=b'{"k": 1}')
    printer.line(
        f"{'upload':<18} s3://{stack.bucket}/{prefix}images/ (4 images, 1 other file), batch.json last"
    )
    stack.run_until_quiet(on_event=printer.event, on_round=show_emails)
    answer = api.handle("GET", f"/models/{model}/batches/tonight", {}, b"")
    batch = json.loads(answer.body)
    printer.line(
        f"{'batch':<18} GET /v1/models/{model}/batches/tonight -> {answer.status}: {batch.get('status')}"
    )
    key = f"{prefix}predictions.jsonl"
    for line in s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode().splitlines()[:2]:
        printer.line(f"{'':<18} {line}")
    printer.line(f"{'':<18} all of them: s3://{stack.bucket}/{key}")
    return 0 if batch.get("status") == "Completed" else 1


def serve_until_interrupted(api: LocalApi, port: int, printer: Printer) -> None:
    """The API on 127.0.0.1 until Ctrl-C, requests turned into API Gateway events."""
    server = serve(api, port, threading.Lock())
    base = f"http://127.0.0.1:{server.server_port}/v1"
    printer.line(f"serving the API on {base} - Ctrl-C stops")
    printer.line("  (no auth offline: on AWS, requests are signed with SigV4 or carry the API key)")
    printer.line(f"  curl {base}/runs")
    printer.line(f"  curl {base}/models/sagechain-flowers")
    printer.line("  curl -X POST -H 'Content-Type: image/png' --data-binary @local/sample_data.png \\")
    printer.line(f"       {base}/models/sagechain-flowers/predict")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        printer.line("stopped")
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; non-zero when any stage failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show the functions' own JSON logs")
    parser.add_argument("--serve", action="store_true", help="then serve the API on 127.0.0.1 for curl")
    parser.add_argument("--port", type=int, default=8080, help="port for --serve (default 8080)")
    args = parser.parse_args(argv)
    os.environ.update(OFFLINE_ENVIRONMENT)
    printer = Printer()
    parameters = {"LogLevel": "DEBUG" if args.verbose else "ERROR"}
    containers = {EXAMPLE_IMAGE: histogram_classifier()}
    with mock_aws(), LocalStack(parameters=parameters, containers=containers) as stack:
        printer.line(
            f"local stack from template.yaml on moto: {len(stack.functions)} function(s), "
            f"bucket {stack.bucket}"
        )
        upload_datasets(stack, printer)
        outbox = Outbox(PHYSICAL["NotificationTopic"], OUTBOX)

        def show_emails() -> None:
            for path, subject in outbox.collect():
                printer.line(f"{'email':<18} {subject}  ({path.relative_to(ROOT)})")

        stack.run_until_quiet(on_event=printer.event, on_round=show_emails)
        label_in_label_studio(stack, printer)
        stack.run_until_quiet(on_event=printer.event, on_round=show_emails)
        api = stack.api()
        retry_after_quota_raise(stack, api, printer, show_emails)
        report_failures(stack, printer)
        show_runs(api, printer)
        show_artifacts(stack, api, printer)
        failed = predict_sample(stack, api, printer)
        failed += (
            score_batch(stack, api, printer, show_emails) + len(stack.failures) + len(stack.iam.problems)
        )
        outcome = "FAILED" if failed else "done"
        printer.line(f"{outcome}: {len(stack.observed)} events, emails in {OUTBOX_SHOWN}")
        if args.serve:
            serve_until_interrupted(api, args.port, printer)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
