"""Where things live in the data bucket: the keys and file names every stage shares.

    datasets/<name>/images/...      datasets/<name>/dataset.json    datasets/<name>.zip
    runs/<run_id>/spec.json, run.json, input.manifest or labeled.manifest, training.json,
                  model.json, and each stage's own files
    models/<model>/model.json       the live model of an endpoint

No output prefix matches a trigger's input pattern (no recursion).
"""

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
