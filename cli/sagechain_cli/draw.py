"""`predict --draw`: the image with the model's answer drawn on it (Pillow).

Object detection answers boxes in fractions of the image's width and height (docs/inference-api.md):
each becomes a rectangle with its label and score. Classification answers labels: they are
written in a band across the top of the image.
"""

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180))


def _colour(label: str, labels: list[str]) -> tuple[int, int, int]:
    return COLOURS[labels.index(label) % len(COLOURS)]


def draw_predictions(image_path: Path, answer: dict[str, Any], out: Path) -> int:
    """Write `out`: the image with the answer's boxes or labels drawn; how many were drawn."""
    with Image.open(image_path) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    width, height = image.size
    line = max(1, min(width, height) // 100)
    predictions = answer.get("predictions") or []
    labels = sorted({str(p.get("label")) for p in predictions})
    drawn = 0
    for prediction in predictions:
        label, score = str(prediction.get("label")), float(prediction.get("score", 0))
        colour = _colour(label, labels)
        text = f"{label} {score:.2f}"
        if "xmin" in prediction:
            box = (
                round(float(prediction["xmin"]) * (width - 1)),
                round(float(prediction["ymin"]) * (height - 1)),
                round(float(prediction["xmax"]) * (width - 1)),
                round(float(prediction["ymax"]) * (height - 1)),
            )
            draw.rectangle(box, outline=colour, width=line)
            left, top, right, bottom = draw.textbbox((box[0], box[1]), text, font=font)
            draw.rectangle((left, top, right, bottom), fill=colour)
            draw.text((box[0], box[1]), text, fill=(0, 0, 0), font=font)
        else:
            y = drawn * 12
            left, top, right, bottom = draw.textbbox((2, y), text, font=font)
            draw.rectangle((0, top, max(right + 2, width // 2), bottom + 1), fill=colour)
            draw.text((2, y), text, fill=(0, 0, 0), font=font)
        drawn += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return drawn
