"""A tiny image classifier that follows sagechain's container contract (docs/container.md).

Standard library only. Training reads the train and validation channels (class folders
<channel>/<label>/<image>.png, or <channel>/labels.jsonl beside the images), turns each PNG into
a colour histogram (`bins` bins per RGB channel), keeps one centroid per class, and prints
validation:accuracy and validation:loss for the metric regexes. Serving answers /invocations
with a score per label. Paths are SageMaker's, under /opt/ml; SAGECHAIN_ML_ROOT moves that root
for a local run (sagechain's emulator sets it; SageMaker never does).
"""

import json
import math
import os
import struct
import sys
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_TYPES = ("image/png", "application/x-image")
DEFAULTS = {"bins": "8", "temperature": "1.0"}


def ml_root() -> Path:
    """/opt/ml, or the root a local run gives in SAGECHAIN_ML_ROOT."""
    return Path(os.environ.get("SAGECHAIN_ML_ROOT", "/opt/ml"))


# ---------------------------------------------------------------- PNG decoding (8-bit RGB/RGBA)
def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, width: int, height: int, depth: int) -> list[bytes]:
    stride, rows, previous = width * depth, [], bytearray(width * depth)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - depth] if x >= depth else 0
            up = previous[x]
            corner = previous[x - depth] if x >= depth else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[x] = (line[x] + _paeth(left, up, corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of a non-interlaced 8-bit RGB or RGBA PNG (ValueError otherwise)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", None
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body[:13])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None:
        raise ValueError("a PNG without IHDR")
    width, height, bit_depth, colour_type, _, _, interlace = header
    if bit_depth != 8 or colour_type not in (2, 6) or interlace:
        raise ValueError("only 8-bit RGB or RGBA, non-interlaced PNGs are read")
    depth = 3 if colour_type == 2 else 4
    rows = _unfilter(zlib.decompress(idat), width, height, depth)
    pixels = [(row[x], row[x + 1], row[x + 2]) for row in rows for x in range(0, width * depth, depth)]
    return width, height, pixels


def histogram(data: bytes, bins: int) -> list[float]:
    """The image's colour histogram: `bins` bins per channel, each channel summing to 1."""
    _, _, pixels = decode_png(data)
    counts = [0] * (3 * bins)
    for pixel in pixels:
        for channel, value in enumerate(pixel):
            counts[channel * bins + value * bins // 256] += 1
    total = max(1, len(pixels))
    return [count / total for count in counts]


# ---------------------------------------------------------------- the model
def _distance(a: list[float], b: list[float]) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def scores(model: dict[str, Any], features: list[float]) -> list[float]:
    """A probability per label: softmax of the negative distances to the centroids over temperature."""
    logits = [
        -_distance(features, model["centroids"][label]) / model["temperature"] for label in model["labels"]
    ]
    top = max(logits)
    weights = [math.exp(logit - top) for logit in logits]
    total = sum(weights)
    return [weight / total for weight in weights]


def _class_name(line: dict[str, Any]) -> str:
    for key, value in line.items():
        if key.endswith("-metadata") and isinstance(value, dict) and isinstance(value.get("class-name"), str):
            return str(value["class-name"])
    raise ValueError(f"labels.jsonl line for {line.get('file')} has no <attribute>-metadata.class-name")


def labeled_images(channel: Path) -> list[tuple[str, Path]]:
    """(label, image) pairs of a channel: from labels.jsonl if present, else from class folders."""
    labels_file = channel / "labels.jsonl"
    if labels_file.exists():
        lines = [json.loads(raw) for raw in labels_file.read_text().splitlines() if raw.strip()]
        return [(_class_name(line), channel / line["file"]) for line in lines]
    return sorted((path.parent.name, path) for path in channel.glob("*/*.png"))


def train(root: Path) -> dict[str, Any]:
    """Train from root's channels and hyperparameters; write model and report; return the metrics."""
    config = root / "input" / "config"
    hyperparameters = {**DEFAULTS, **json.loads((config / "hyperparameters.json").read_text())}
    bins, temperature = int(hyperparameters["bins"]), float(hyperparameters["temperature"])
    if not 1 <= bins <= 256 or temperature <= 0:
        raise ValueError(f"bins must be 1-256 and temperature positive, not {bins} and {temperature}")
    data = root / "input" / "data"
    train_images, validation_images = labeled_images(data / "train"), labeled_images(data / "validation")
    if not train_images or not validation_images:
        raise ValueError(
            f"no PNG images in {data / 'train'} or {data / 'validation'} (class folders or labels.jsonl)"
        )
    sums: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for label, path in train_images:
        features = histogram(path.read_bytes(), bins)
        total = sums.setdefault(label, [0.0] * len(features))
        sums[label] = [a + b for a, b in zip(total, features, strict=True)]
        counts[label] = counts.get(label, 0) + 1
    labels = sorted(sums)
    model = {
        "bins": bins,
        "temperature": temperature,
        "labels": labels,
        "centroids": {label: [v / counts[label] for v in sums[label]] for label in labels},
    }
    correct, loss, confusion = 0, 0.0, {}
    for label, path in validation_images:
        probabilities = scores(model, histogram(path.read_bytes(), bins))
        guess = labels[max(range(len(labels)), key=probabilities.__getitem__)]
        correct += guess == label
        truth = probabilities[labels.index(label)] if label in labels else 0.0
        loss -= math.log(max(truth, 1e-12))
        confusion[f"{label}->{guess}"] = confusion.get(f"{label}->{guess}", 0) + 1
    metrics = {"accuracy": correct / len(validation_images), "loss": loss / len(validation_images)}
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / "model.json").write_text(json.dumps(model))
    (root / "output" / "data").mkdir(parents=True, exist_ok=True)
    report = {"metrics": metrics, "confusion": confusion, "train_images": counts}
    (root / "output" / "data" / "report.json").write_text(json.dumps(report, indent=2))
    return metrics


def train_main() -> int:
    """The `train` entry: metrics on stdout, the reason in /opt/ml/output/failure on failure."""
    root = ml_root()
    try:
        metrics = train(root)
    except Exception as err:
        (root / "output").mkdir(parents=True, exist_ok=True)
        (root / "output" / "failure").write_text(f"{type(err).__name__}: {err}")
        traceback.print_exc()
        return 1
    print(f"validation:accuracy={metrics['accuracy']:.6f}")
    print(f"validation:loss={metrics['loss']:.6f}")
    return 0


# ---------------------------------------------------------------- serving
class InvocationError(Exception):
    """A request the model cannot answer, with the HTTP status /invocations answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def load_model(model_dir: Path) -> dict[str, Any]:
    """The model SageMaker unpacked from model.tar.gz into model_dir (/opt/ml/model)."""
    return dict(json.loads((model_dir / "model.json").read_text()))


def invocations(model: dict[str, Any], body: bytes, content_type: str) -> tuple[bytes, str]:
    """One image in (image/png), a score per label out (application/json)."""
    if content_type.split(";", maxsplit=1)[0].strip().lower() not in IMAGE_TYPES:
        raise InvocationError(415, f"send a PNG ({', '.join(IMAGE_TYPES)}), not {content_type}")
    try:
        features = histogram(body, model["bins"])
    except (ValueError, zlib.error) as err:
        raise InvocationError(400, f"the body is not a readable PNG: {err}") from None
    probabilities = scores(model, features)
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    answer = {
        "prediction": [round(p, 6) for p in probabilities],
        "labels": model["labels"],
        "label": model["labels"][best],
    }
    return json.dumps(answer).encode(), "application/json"


def serve_main() -> int:
    """The `serve` entry: GET /ping and POST /invocations on port 8080, as SageMaker calls them."""
    model = load_model(ml_root() / "model")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._send(200, b"{}")
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._send(404, b'{"error": "not found"}')
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                answer, content_type = invocations(model, body, self.headers.get("Content-Type", ""))
            except InvocationError as err:
                self._send(err.status, json.dumps({"error": str(err)}).encode())
                return
            self._send(200, answer, content_type)

    ThreadingHTTPServer(("", 8080), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(train_main() if sys.argv[1:] == ["train"] else serve_main())
