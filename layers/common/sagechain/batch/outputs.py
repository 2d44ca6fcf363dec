"""A finished transform job's answers as predictions.jsonl and a summary.

Each image's answer is <output prefix>/<relative key>.out, in the built-in algorithm's
response form; it is read with the same mapping POST /models/{model}/predict uses
(sagechain.prediction.builtin_prediction), so a batch line and an API answer agree.
"""

import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from pydantic import BaseModel, ConfigDict, Field

from sagechain.api_errors import ModelFailedError
from sagechain.errors import ObjectNotFoundError, ObjectTooLargeError
from sagechain.ports import EndpointAnswer, ObjectWriter
from sagechain.prediction import Prediction, builtin_prediction
from sagechain.records import ModelInfo

OUTPUT_SUFFIX = ".out"
# A built-in answer is a few KB (a probability per class, or up to a few hundred boxes).
OUTPUT_MAX_BYTES = 1024 * 1024
# The summary names at most this many failed images; the count covers them all.
FAILED_LISTED_MAX = 100


class FailedImage(BaseModel):
    """An image the batch has no predictions for, and why."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    image: str
    reason: str


class BatchSummary(BaseModel):
    """summary.json: what the batch scored."""

    images: int = 0
    scored: int = 0
    failed: int = 0
    label_counts: dict[str, int] = Field(
        default_factory=dict,
        description="Per label: predictions kept (top k labels, labels over threshold, or boxes).",
    )
    failed_images: list[FailedImage] = Field(default_factory=list, description="The first failed images.")
    skipped: dict[str, int] = Field(
        default_factory=dict, description="Files that were not images, by reason."
    )


def output_key(output_prefix: str, relative: str) -> str:
    """Where the transform job writes the answer for one image of the manifest."""
    return f"{output_prefix}{relative}{OUTPUT_SUFFIX}"


def prediction_line(info: ModelInfo, image_key: str, answer: bytes, k: int, threshold: float) -> bytes:
    """One predictions.jsonl line; ModelFailedError when the answer cannot be read."""
    return _line(image_key, _prediction(info, answer, k, threshold))


def _prediction(info: ModelInfo, answer: bytes, k: int, threshold: float) -> Prediction:
    return builtin_prediction(info, EndpointAnswer(answer, "application/json"), k, threshold)


def _line(image_key: str, prediction: Prediction) -> bytes:
    line = {"image": image_key, "predictions": [p.model_dump(mode="json") for p in prediction.predictions]}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _read(read_output: Callable[[str], bytes], key: str) -> bytes | Exception:
    try:
        return read_output(key)
    except (ObjectNotFoundError, ObjectTooLargeError) as err:
        return err


def read_answers(
    images: Iterable[str], output_prefix: str, read_output: Callable[[str], bytes], readers: int
) -> Iterator[tuple[str, bytes | Exception]]:
    """Each image with its answer (or the not-found / too-large error), in the images' order, read
    by `readers` threads; at most 4 x readers answers are held at once, whatever the batch's size."""
    if readers <= 1:
        for relative in images:
            yield relative, _read(read_output, output_key(output_prefix, relative))
        return
    window: deque[tuple[str, Future[bytes | Exception]]] = deque()
    with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="answers") as pool:
        for relative in images:
            window.append((relative, pool.submit(_read, read_output, output_key(output_prefix, relative))))
            if len(window) >= 4 * readers:
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()


def write_predictions(
    info: ModelInfo,
    images: Iterable[str],
    images_prefix: str,
    output_prefix: str,
    read_output: Callable[[str], bytes],
    writer: ObjectWriter,
    k: int,
    threshold: float,
    readers: int = 1,
) -> BatchSummary:
    """Streams one line per scored image into writer; images without a readable answer are counted
    as failed with the reason. read_output(key) returns the bytes of an output object; `readers`
    threads read them (it must be safe to call from several threads)."""
    summary = BatchSummary()
    labels: Counter[str] = Counter()
    failed: list[FailedImage] = []
    for relative, answer in read_answers(images, output_prefix, read_output, readers):
        summary.images += 1
        image_key = images_prefix + relative
        try:
            if isinstance(answer, Exception):
                raise answer
            prediction = _prediction(info, answer, k, threshold)
        except ObjectNotFoundError:
            reason = "the transform job wrote no answer for it (see the job's CloudWatch logs)"
        except ObjectTooLargeError as err:
            reason = f"its answer is {err.size:,} bytes, more than a built-in model answers"
        except ModelFailedError as err:
            reason = str(err)
        else:
            writer.write(_line(image_key, prediction))
            summary.scored += 1
            labels.update(entry.label for entry in prediction.predictions)
            continue
        summary.failed += 1
        if len(failed) < FAILED_LISTED_MAX:
            failed.append(FailedImage(image=image_key, reason=reason))
    writer.commit()
    summary.label_counts = dict(sorted(labels.items()))
    summary.failed_images = failed
    return summary


def merged_summary(parts: Iterable[BatchSummary]) -> BatchSummary:
    """One summary of a batch collected in shards: counts summed, the first failed images kept."""
    merged = BatchSummary()
    labels: Counter[str] = Counter()
    for part in parts:
        merged.images += part.images
        merged.scored += part.scored
        merged.failed += part.failed
        labels.update(part.label_counts)
        room = FAILED_LISTED_MAX - len(merged.failed_images)
        merged.failed_images.extend(part.failed_images[: max(room, 0)])
    merged.label_counts = dict(sorted(labels.items()))
    return merged
