"""A Label Studio stand-in: it reads the run's tasks.json and writes what S3 target storage writes.

Each annotation becomes one object under runs/<run_id>/label-studio/annotations/<annotation id>, in
Label Studio's documented task format (https://labelstud.io/guide/task_format.html): the task's data,
and its annotations with result items, was_cancelled, ground_truth and timestamps; rectangles in
percent of the image, whose pixel size the result item carries (original_width/original_height).
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sagechain.manifest import Box

# An image's answer: class names (classification), or (width, height, boxes in pixels).
Answer = list[str] | tuple[int, int, list[Box]]


def _result(answer: Answer, multiple: bool) -> list[dict[str, Any]]:
    if isinstance(answer, list):
        return [
            {
                "id": "c1",
                "from_name": "choice",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": answer if multiple else answer[:1]},
            }
        ]
    width, height, boxes = answer
    return [
        {
            "id": f"r{i}",
            "from_name": "label",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "value": {
                "x": 100 * box.left / width,
                "y": 100 * box.top / height,
                "width": 100 * box.width / width,
                "height": 100 * box.height / height,
                "rotation": 0,
                "rectanglelabels": [box.label],
            },
        }
        for i, box in enumerate(boxes)
    ]


def tasks_of(bucket: str, run_id: str) -> list[dict[str, Any]]:
    """The tasks start_labeling wrote for the run, as Label Studio imports them."""
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"runs/{run_id}/label-studio/tasks.json")["Body"]
    tasks: list[dict[str, Any]] = json.loads(body.read())
    return tasks


def annotation_object(task_id: int, image_uri: str, answer: Answer, multiple: bool, at: datetime) -> bytes:
    """What target storage writes for one annotated task."""
    stamp = at.isoformat().replace("+00:00", "Z")
    document = {
        "id": task_id,
        "data": {"image": image_uri},
        "annotations": [
            {
                "id": 1000 + task_id,
                "result": _result(answer, multiple),
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": stamp,
                "updated_at": stamp,
                "lead_time": 3.5,
                "task": task_id,
                "completed_by": 1,
            }
        ],
        "predictions": [],
    }
    return json.dumps(document).encode()


def annotate(
    bucket: str,
    run_id: str,
    answers: Callable[[str], Answer],
    multiple: bool = False,
    after_each: Callable[[], object] | None = None,
) -> int:
    """Annotate every task of the run, writing one target-storage object at a time (after_each runs
    after each write, e.g. to deliver the events); how many were written."""
    s3 = boto3.client("s3")
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tasks = tasks_of(bucket, run_id)
    for task_id, task in enumerate(tasks, start=1):
        uri = task["data"]["image"]
        body = annotation_object(task_id, uri, answers(uri), multiple, start + timedelta(minutes=task_id))
        s3.put_object(
            Bucket=bucket, Key=f"runs/{run_id}/label-studio/annotations/{1000 + task_id}", Body=body
        )
        if after_each is not None:
            after_each()
    return len(tasks)
