"""Where things live in the data bucket: the keys and file names every stage shares.

    datasets/<name>/images/...      datasets/<name>/dataset.json    datasets/<name>.zip
    runs/<run_id>/spec.json, run.json, input.manifest or labeled.manifest, training.json,
                  model.json, and each stage's own files
    runs/<run_id>/label-studio/tasks.json, config.xml, annotations/ (the tool writes), done,
                  received/ (collect_labels' record per image, completion.json: its completion's claim
                  and event); runs/<run_id>/cvat/labels.json;
                  runs/<run_id>/labels/<export> (an upload from the tool): labeling/label_studio.py
    models/<model>/model.json       the live model of an endpoint
    models/<model>/pending/...      deployments waiting for the endpoint (deployment/pending.py)
    batches/<model>/<name>/images/...   images to score; batches/<model>/<name>/batch.json last starts it
    batches/<model>/<name>/predictions.jsonl, summary.json   a batch's results (the latest upload's)
    batches/<model>/<name>/<batch_id>/transform.manifest, output/...   one upload's transform job
    models/<model>/batches/<name>.json   the batch's record (BatchRecord): status API and collect_batch
    failures/<yyyy>/<mm>/<dd>/<function>/<message-id>.json   an event a failure queue parked

No output prefix matches a trigger's input pattern (no recursion).
"""

from datetime import UTC, datetime
from typing import Literal

DATASETS = "datasets/"
SPEC_FILE = "dataset.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# A run's files (runs/<run_id>/<file>), as one stage writes them for the next.
SPEC_RECORD_FILE = "spec.json"
RUN_INFO_FILE = "run.json"
TRAINING_RECORD_FILE = "training.json"
MODEL_INFO_FILE = "model.json"
INPUT_MANIFEST = "input.manifest"
LABELED_MANIFEST = "labeled.manifest"
# Manifests are JSON Lines.
MANIFEST_CONTENT_TYPE = "application/x-ndjson"


FAILURES = "failures/"

BATCHES = "batches/"
BATCH_FILE = "batch.json"
BATCH_OUTPUT_DIR = "output/"


def uploaded_dataset(key: str) -> tuple[str, Literal["folder", "zip"]] | None:
    """The dataset an upload seals and how it came: datasets/<name>/dataset.json (a folder) or
    datasets/<name>.zip; None for any other key (the rules' wildcards also match deeper keys)."""
    if not key.startswith(DATASETS):
        return None
    rest = key[len(DATASETS) :]
    kind: Literal["folder", "zip"]
    if rest.endswith("/" + SPEC_FILE) and rest.count("/") == 1:
        dataset, kind = rest[: -len(SPEC_FILE) - 1], "folder"
    elif rest.endswith(".zip") and "/" not in rest:
        dataset, kind = rest[: -len(".zip")], "zip"
    else:
        return None
    return (dataset, kind) if dataset else None


def run_of_key(key: str) -> str | None:
    """The run a key under runs/<run_id>/ belongs to, else None."""
    if not key.startswith("runs/"):
        return None
    run_id, slash, _ = key[len("runs/") :].partition("/")
    return run_id if slash and run_id else None


def failure_key(at: datetime, function: str, message_id: str) -> str:
    """failures/<yyyy>/<mm>/<dd>/<function>/<message-id>.json: where a parked event is kept for redrive."""
    day = at.astimezone(UTC)
    return f"{FAILURES}{day:%Y/%m/%d}/{function}/{message_id}.json"


def dataset_prefix(dataset: str) -> str:
    """datasets/<name>/"""
    return f"{DATASETS}{dataset}/"


def images_prefix(dataset: str) -> str:
    """datasets/<name>/images/"""
    return f"{dataset_prefix(dataset)}images/"


def run_key(run_id: str, name: str) -> str:
    """runs/<run_id>/<name>"""
    return f"runs/{run_id}/{name}"


def model_key(model: str) -> str:
    """models/<model>/model.json: the live model behind POST /models/<model>/predict."""
    return f"models/{model}/{MODEL_INFO_FILE}"


def deploying_key(model: str) -> str:
    """models/<model>/deploying.json: the deploy in flight on endpoint <model>."""
    return f"models/{model}/deploying.json"


def pending_prefix(endpoint: str) -> str:
    """models/<endpoint>/pending/: the deployments waiting for the endpoint, oldest first."""
    return f"models/{endpoint}/pending/"


def uploaded_batch(key: str) -> tuple[str, str] | None:
    """The (model, name) a batches/<model>/<name>/batch.json upload starts; None for any other key."""
    if not key.startswith(BATCHES):
        return None
    parts = key[len(BATCHES) :].split("/")
    if len(parts) != 3 or parts[2] != BATCH_FILE or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def batch_key(model: str, name: str, file: str) -> str:
    """batches/<model>/<name>/<file>"""
    return f"{BATCHES}{model}/{name}/{file}"


def batch_images_prefix(model: str, name: str) -> str:
    """batches/<model>/<name>/images/"""
    return batch_key(model, name, "images/")


def batch_work_prefix(model: str, name: str, batch_id: str) -> str:
    """batches/<model>/<name>/<batch_id>/: one upload's manifest and transform output."""
    return batch_key(model, name, f"{batch_id}/")


def batch_output_prefix(model: str, name: str, batch_id: str) -> str:
    """batches/<model>/<name>/<batch_id>/output/: the transform job's answers, <image>.out each."""
    return batch_work_prefix(model, name, batch_id) + BATCH_OUTPUT_DIR


def batch_records_prefix(model: str) -> str:
    """models/<model>/batches/: a record per batch of the model."""
    return f"models/{model}/batches/"


def batch_record_key(model: str, name: str) -> str:
    """models/<model>/batches/<name>.json"""
    return f"{batch_records_prefix(model)}{name}.json"
