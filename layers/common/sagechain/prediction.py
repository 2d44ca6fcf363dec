"""What a built-in model's answer becomes: one mapping for POST /models/{model}/predict and batches.

Scores are the model's probabilities (0 to 1). Boxes are in fractions of the image's width
and height, origin at the top-left corner, as the object detection algorithm returns them.
"""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import ModelFailedError
from sagechain.ports import EndpointAnswer
from sagechain.records import ModelInfo

Task = Literal["image-classification", "image-classification-multilabel", "object-detection"]


class LabelScore(BaseModel):
    """One class and the model's probability for it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    label: str
    score: float = Field(description="The model's probability for the label, 0 to 1.")


class Box(LabelScore):
    """One detected object: its class, confidence and bounding box."""

    xmin: float = Field(description="Left edge, as a fraction of the image width (0 = left).")
    ymin: float = Field(description="Top edge, as a fraction of the image height (0 = top).")
    xmax: float = Field(description="Right edge, as a fraction of the image width.")
    ymax: float = Field(description="Bottom edge, as a fraction of the image height.")


class Prediction(BaseModel):
    """A built-in model's answer, highest score first."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    model: str
    task: Task
    predictions: list[Box] | list[LabelScore] = Field(
        description=(
            "image-classification: the top k labels; image-classification-multilabel: every label "
            "scoring at least threshold; object-detection: every box scoring at least threshold."
        )
    )
    k: int | None = Field(default=None, description="image-classification: how many labels were asked for.")
    threshold: float | None = Field(
        default=None, description="Multi-label and object detection: the lowest score returned."
    )


def _invalid_output(detail: str) -> ModelFailedError:
    return ModelFailedError(f"the model's answer could not be read: {detail}", code="invalid_model_output")


def _document(answer: EndpointAnswer) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        raise _invalid_output("not JSON") from None


def _prediction_list(document: Any) -> list[Any]:
    # The documented form is {"prediction": [...]}; image classification has also long
    # answered a bare list of probabilities (AWS's own notebooks read it so): take both.
    prediction = document.get("prediction") if isinstance(document, dict) else document
    if not isinstance(prediction, list):
        raise _invalid_output('no "prediction" list')
    return prediction


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid_output("a score is not a number")
    return float(value)


def builtin_prediction(info: ModelInfo, answer: EndpointAnswer, k: int, threshold: float) -> Prediction:
    """A built-in algorithm's answer as labels (top k, or over threshold) or boxes: {"prediction":
    [...]}, a bare list, or object detection's annotation form."""
    document = _document(answer)
    if info.task == "object-detection":
        boxes = (
            _annotation_boxes(info.labels, document, threshold)
            if isinstance(document, dict) and "annotations" in document
            else _boxes(info.labels, _prediction_list(document), threshold)
        )
        return Prediction(model=info.model, task=info.task, predictions=boxes, threshold=threshold)
    rows = _prediction_list(document)
    if len(rows) != len(info.labels):
        raise _invalid_output(f"{len(rows)} scores for {len(info.labels)} labels")
    scores = [_number(score) for score in rows]
    # Sort indexes, not models: a model with 1,000 classes returns a handful of them.
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    if info.task == "image-classification":
        top = [LabelScore(label=info.labels[i], score=scores[i]) for i in order[:k]]
        return Prediction(model=info.model, task=info.task, predictions=top, k=k)
    kept = [LabelScore(label=info.labels[i], score=scores[i]) for i in order if scores[i] >= threshold]
    return Prediction(model=info.model, task=info.task, predictions=kept, threshold=threshold)


def _label(labels: list[str], index: float) -> str | None:
    """The class's label; None for MXNet's suppressed rows (class -1), an error for others."""
    if index < 0:
        return None
    if index >= len(labels) or index != int(index):
        raise _invalid_output(f"class index {index:g} is not one of the model's {len(labels)} labels")
    return labels[int(index)]


def _annotation_boxes(labels: list[str], document: dict[str, Any], threshold: float) -> list[Box]:
    # Accept "application/json;annotation=1": {"image_size": [{"width", "height", "depth"}],
    # "annotations": [{"class_id", "score", "left", "top", "width", "height"}]}, boxes in pixels
    # (object-detection-in-formats.html); the API answers fractions of the image, as ever.
    sizes, annotations = document.get("image_size"), document.get("annotations")
    size = sizes[0] if isinstance(sizes, list) and sizes else sizes
    if not isinstance(size, dict) or not isinstance(annotations, list):
        raise _invalid_output('an annotation answer without "image_size" and "annotations"')
    width, height = _number(size.get("width")), _number(size.get("height"))
    if width <= 0 or height <= 0:
        raise _invalid_output("the image size is not positive")
    boxes = []
    for item in annotations:
        if not isinstance(item, dict):
            raise _invalid_output("an annotation is not an object")
        fields = ("class_id", "score", "left", "top", "width", "height")
        index, score, left, top, box_width, box_height = (_number(item.get(name)) for name in fields)
        label = _label(labels, index)
        if label is not None and score >= threshold:
            boxes.append(
                Box(
                    label=label,
                    score=score,
                    xmin=left / width,
                    ymin=top / height,
                    xmax=(left + box_width) / width,
                    ymax=(top + box_height) / height,
                )
            )
    boxes.sort(key=lambda box: box.score, reverse=True)
    return boxes


def _boxes(labels: list[str], rows: list[Any], threshold: float) -> list[Box]:
    # Each row: [class index, score, xmin, ymin, xmax, ymax], coordinates as fractions of
    # the image's width and height (object-detection-in-formats.html).
    boxes = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 6:
            raise _invalid_output("a detection is not [class, score, xmin, ymin, xmax, ymax]")
        index, score, xmin, ymin, xmax, ymax = (_number(value) for value in row)
        label = _label(labels, index)
        if label is not None and score >= threshold:
            boxes.append(Box(label=label, score=score, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax))
    boxes.sort(key=lambda box: box.score, reverse=True)
    return boxes
