"""POST /models/{model}/predict: what a built-in model's answer becomes.

Scores are the model's probabilities (0 to 1). Boxes are in fractions of the image's width
and height, origin at the top-left corner, as the object detection algorithm returns them.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["image-classification", "image-classification-multilabel", "object-detection"]


class LabelScore(BaseModel):
    """One class and the model's probability for it."""

    model_config = ConfigDict(frozen=True)

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

    model_config = ConfigDict(frozen=True)

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
