"""Labeling in the team's own Label Studio, offline: upload -> tasks.json and config.xml -> target-storage
objects arriving one by one -> labeled.manifest -> training -> a live model, for each task type."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from local.label_studio import Answer, annotate, annotation_object, tasks_of
from local.outbox import published
from local.sample_data import flower_images, fruit_images
from local.stack import PHYSICAL, LocalStack

from sagechain.manifest import Box

pytestmark = pytest.mark.e2e


def _flowers() -> tuple[dict[str, bytes], dict[str, Answer]]:
    images = dict(list(flower_images(per_class=2).items())[1:])  # 3 images: rose/1, tulip/0, tulip/1
    return images, {name: [name.split("/")[0]] for name in images}


def _multi() -> tuple[dict[str, bytes], dict[str, Answer]]:
    images, _ = _flowers()
    answers: dict[str, Answer] = {
        name: ["rose", "tulip"] if name.endswith("0.png") else [name.split("/")[0]] for name in images
    }
    return images, answers


def _fruit() -> tuple[dict[str, bytes], dict[str, Answer]]:
    fruit = dict(list(fruit_images(per_class=2).items())[:3])
    images = {name: data for name, (data, _) in fruit.items()}
    answers: dict[str, Answer] = {
        name: (40, 40, [Box(name.split("-")[0], *box)]) for name, (_, box) in fruit.items()
    }
    return images, answers


CASES = {
    "single-label": (
        "image-classification",
        ["rose", "tulip"],
        _flowers,
        '<Choices name="choice" toName="image" choice="single"',
    ),
    "multi-label": (
        "image-classification-multilabel",
        ["rose", "tulip"],
        _multi,
        '<Choices name="choice" toName="image" choice="multiple"',
    ),
    "boxes": (
        "object-detection",
        ["apple", "blueberry"],
        _fruit,
        '<RectangleLabels name="label" toName="image">',
    ),
}


def _detail(stack: LocalStack, kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.observed if e["detail-type"] == kind]


@pytest.mark.parametrize("case", list(CASES))
def test_annotations_arriving_one_by_one_label_the_run_and_it_goes_live(stack: LocalStack, case: str) -> None:
    task, labels, sample, control = CASES[case]
    images, by_name = sample()
    s3 = boto3.client("s3")
    prefix = "datasets/garden/images/"
    for name, data in images.items():
        s3.put_object(Bucket=stack.bucket, Key=prefix + name, Body=data)
    # Given a spec that names no labeling mode: the default is Label Studio (half of three images
    # validate, so training has both splits)
    spec = {"task": task, "labels": labels, "training": {"validation_fraction": 0.5}}
    s3.put_object(Bucket=stack.bucket, Key="datasets/garden/dataset.json", Body=json.dumps(spec).encode())
    stack.run_until_quiet()

    # Then the run wrote what Label Studio imports, and waits
    [requested] = _detail(stack, "Labeling Requested")
    run_id = requested["run_id"]
    config = s3.get_object(Bucket=stack.bucket, Key=f"runs/{run_id}/label-studio/config.xml")["Body"].read()
    assert control.encode() in config
    tasks = tasks_of(stack.bucket, run_id)
    assert sorted(t["data"]["image"] for t in tasks) == sorted(
        f"s3://{stack.bucket}/{prefix}{n}" for n in images
    )
    assert stack.sagemaker.labeling == {}
    assert stack.sagemaker.training == {}

    # When the tool writes one annotation object per task, the first one twice (a re-sync)
    first = tasks[0]["data"]["image"]
    again = annotation_object(
        1,
        first,
        by_name[first.removeprefix(f"s3://{stack.bucket}/{prefix}")],
        task.endswith("multilabel"),
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
    )
    s3.put_object(Bucket=stack.bucket, Key=f"runs/{run_id}/label-studio/annotations/999", Body=again)
    stack.run_until_quiet()
    annotate(
        stack.bucket,
        run_id,
        lambda uri: by_name[uri.removeprefix(f"s3://{stack.bucket}/{prefix}")],
        multiple=task.endswith("multilabel"),
        after_each=stack.run_until_quiet,
    )

    # Then each image counted once, labeling completed once, and the model went live
    assert stack.failures == []
    assert [p["labeled"] for p in _detail(stack, "Labeling Progress")] == [1, 1, 2]
    [completed] = _detail(stack, "Labeling Completed")
    assert (completed["labeled"], completed["total"], completed["skipped"]) == (3, 3, {})
    expected: dict[str, int] = {}
    for answer in by_name.values():
        for label in answer if isinstance(answer, list) else [b.label for b in answer[2]]:
            expected[label] = expected.get(label, 0) + 1
    assert completed["label_counts"] == expected
    manifest = s3.get_object(Bucket=stack.bucket, Key=f"runs/{run_id}/labeled.manifest")["Body"].read()
    assert len(manifest.splitlines()) == 3
    assert stack.observed[-1]["detail-type"] == "Model Live"
    subjects = [subject or "" for subject, _ in published(PHYSICAL["NotificationTopic"])]
    assert sum("Labeling completed" in s for s in subjects) == 1
    assert sum("Labeling started" in s for s in subjects) == 1
    # The status API shows the count
    run = json.loads(stack.api().handle("GET", f"/runs/{run_id}", {}, b"").body)
    assert run["labeled_objects"] == 3
    assert "Labeling: 2 of 3 images labeled" in [entry["summary"] for entry in run["history"]]
    # Counted on arrival by the run's counter (one UpdateItem ADD each), not by listing received/
    counter = boto3.client("dynamodb").get_item(
        TableName=PHYSICAL["IdempotencyTable"], Key={"id": {"S": f"label-counts#{run_id}"}}
    )["Item"]
    assert (counter["labeled"]["N"], counter["unusable"]["N"]) == ("3", "0")
