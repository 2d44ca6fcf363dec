"""Stage 1: a dataset upload becomes a run: spec checked, manifest written, event emitted.

A folder's dataset.json or a dataset zip -> runs/<run_id>/spec.json, run.json and either
input.manifest (Ground Truth or the team's own tool labels next) or labeled.manifest (labels
were provided).
Whatever is wrong with the upload becomes a "Dataset Rejected" event with a reason a
person can act on; the dataset itself is never changed or deleted.
"""

import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from sagechain.errors import DatasetRejectedError, ObjectNotFoundError, ObjectTooLargeError
from sagechain.events import (
    DatasetPrepared,
    DatasetRejected,
    LabelingCostEstimate,
    SagechainEvent,
    WorstCaseCost,
)
from sagechain.guardrails import Guardrails, check_spec, endpoint_owner, foreign_endpoint
from sagechain.ingest import provided_labels, zip_import
from sagechain.ingest.settings import ZipLimits
from sagechain.ingest.upload import DatasetUpload, page_images
from sagechain.layout import (
    INPUT_MANIFEST,
    LABELED_MANIFEST,
    MANIFEST_CONTENT_TYPE,
    RUN_INFO_FILE,
    SPEC_FILE,
    SPEC_RECORD_FILE,
    dataset_prefix,
    images_prefix,
    run_key,
)
from sagechain.manifest import LabeledLineBuilder, ManifestStats, source_ref_lines
from sagechain.ports import EventPublisher, ObjectStore, ObjectWriter
from sagechain.pricing import (
    check_prices_known,
    describe_worst_case,
    estimate_labeling_cost,
    estimate_worst_case,
)
from sagechain.records import RunInfo
from sagechain.settings import SpecDefaults
from sagechain.spec import DatasetSpec, LabelingMode, parse_spec


def _now() -> datetime:
    return datetime.now(UTC)


def _folder_spec(store: ObjectStore, upload: DatasetUpload) -> DatasetSpec:
    try:
        # The version that was uploaded, even if dataset.json has been overwritten since.
        raw = store.read_bytes(upload.source.key, zip_import.SPEC_MAX_BYTES, upload.source.version_id)
    except ObjectNotFoundError:
        raise DatasetRejectedError(f"{upload.source.uri} was deleted before it could be read") from None
    except ObjectTooLargeError as err:
        raise DatasetRejectedError(f"{SPEC_FILE} is {err.size} bytes; at most {err.limit} are read") from None
    return parse_spec(raw, SPEC_FILE)


def _zip_spec(
    store: ObjectStore, upload: DatasetUpload, limits: ZipLimits, stats: ManifestStats
) -> DatasetSpec:
    """Check the archive, read its spec, then unpack it into the dataset folder."""
    name = upload.source.key.rsplit("/", 1)[-1]
    try:
        source = store.open_random_access(upload.source.key, upload.source.version_id)
    except ObjectNotFoundError:
        raise DatasetRejectedError(f"{upload.source.uri} was deleted before it could be read") from None
    try:
        with source, zip_import.open_archive(source, name, limits) as archive:
            plan = zip_import.inspect_archive(archive, name, limits)
            spec = parse_spec(zip_import.read_spec(archive, plan, name), f"{name}: {SPEC_FILE}")
            extras = [spec.labeling.labels_file] if spec.labeling.labels_file else []
            zip_import.unpack(archive, plan, store, upload.dataset, extras)
    except zipfile.BadZipFile as err:
        raise DatasetRejectedError(f"{name} is not a readable zip archive ({err})") from None
    stats.skipped.update(plan.skipped)
    left_out = len(plan.others) - len(extras)
    if left_out:
        stats.skipped["outside_images_folder"] += left_out
    return spec


def _write_input_lines(store: ObjectStore, dataset: str, writer: ObjectWriter, stats: ManifestStats) -> None:
    """Ground Truth input: one source-ref line per image, listed and written page by page."""
    for page in store.iter_object_pages(images_prefix(dataset)):
        images = page_images(page, stats.skipped)
        if images:
            writer.write(source_ref_lines(store.bucket, images))
            stats.objects += len(images)


def _write_labeled_lines(
    store: ObjectStore,
    upload: DatasetUpload,
    spec: DatasetSpec,
    writer: ObjectWriter,
    stats: ManifestStats,
    now: datetime,
) -> None:
    builder = LabeledLineBuilder(spec.task, spec.labels, spec.labeling.label_attribute, now.isoformat())
    labels_file = spec.labeling.labels_file
    if labels_file is None:
        write = provided_labels.write_class_folder_labels
    elif labels_file.endswith(".manifest"):
        write = provided_labels.write_ground_truth_manifest_labels
    else:
        write = provided_labels.write_coco_labels
    write(store, upload.dataset, spec, builder, writer, stats)


def _skipped_summary(stats: ManifestStats) -> str:
    if not stats.skipped:
        return "nothing else was found"
    return "skipped: " + ", ".join(f"{count} {reason}" for reason, count in sorted(stats.skipped.items()))


def _check_bounds(upload: DatasetUpload, spec: DatasetSpec, store: ObjectStore, bounds: Guardrails) -> None:
    """Reject, before anything is listed or written, a spec beyond what the operator allows."""
    check_spec(spec, bounds)
    foreign = spec.foreign_channel_folders(upload.dataset)
    if foreign:
        raise DatasetRejectedError(
            f"{'; '.join(foreign)}: a channel reads only this dataset's folders or the run's own data. "
            f"Move the files under datasets/{upload.dataset}/ and name that folder."
        )
    endpoint = spec.endpoint_name(upload.dataset, bounds.name_prefix)
    reason = foreign_endpoint(endpoint_owner(store, endpoint), upload.dataset, endpoint)
    if reason:
        raise DatasetRejectedError(f"{reason}.")
    check_prices_known(spec, bounds.region, bounds.instance_price_overrides)


def _worst_case(
    spec: DatasetSpec, labeling: LabelingCostEstimate | None, bounds: Guardrails
) -> WorstCaseCost:
    """The run's worst case; above MaxRunCostUsd the run is rejected with the figures."""
    labeling_usd = labeling.total_usd if labeling is not None else Decimal(0)
    cost = estimate_worst_case(
        spec, bounds.region, labeling_usd, bounds.instance_price_overrides, bounds.max_run_cost_usd
    )
    if cost.total_usd > bounds.max_run_cost_usd:
        raise DatasetRejectedError(
            f"The run's worst case, {describe_worst_case(cost)}, is above ${bounds.max_run_cost_usd}, "
            "the most this stack lets one run cost (stack parameter MaxRunCostUsd). Ask for fewer or smaller "
            "instances, fewer jobs or a shorter training.max_runtime_seconds in dataset.json.",
            labeling,
            cost,
        )
    return cost


def _prepare(
    upload: DatasetUpload,
    spec: DatasetSpec,
    store: ObjectStore,
    stats: ManifestStats,
    now: datetime,
    bounds: Guardrails,
) -> DatasetPrepared:
    provided = spec.labeling.mode is LabelingMode.PROVIDED
    ground_truth = spec.labeling.mode is LabelingMode.GROUND_TRUTH
    if ground_truth and not spec.labeling.workteam_arn:
        raise DatasetRejectedError(
            "Ground Truth needs a workteam: set labeling.workteam_arn in dataset.json or the stack's "
            "DefaultWorkteamArn parameter, label in your own tool (labeling.mode = label-studio or cvat), "
            "or provide the labels (labeling.mode = provided)."
        )
    _check_bounds(upload, spec, store, bounds)
    manifest_key = run_key(upload.run_id, LABELED_MANIFEST if provided else INPUT_MANIFEST)
    writer = store.open_writer(manifest_key, MANIFEST_CONTENT_TYPE)
    try:
        if provided:
            _write_labeled_lines(store, upload, spec, writer, stats, now)
        else:
            _write_input_lines(store, upload.dataset, writer, stats)
        if stats.objects == 0:
            raise DatasetRejectedError(
                f"No {'labeled ' if provided else ''}images (jpg, jpeg, png) under "
                f"{store.uri(images_prefix(upload.dataset))} ({_skipped_summary(stats)}). "
                f"Add images, then upload {SPEC_FILE} again."
            )
        estimate = None
        # The team's own tool costs nothing here; only Ground Truth bills per object.
        if ground_truth:
            estimate = estimate_labeling_cost(
                spec.task,
                stats.objects,
                spec.labeling.workers_per_object,
                spec.labeling.workteam_arn,
                spec.labeling.price_per_task_usd,
            )
            limit = spec.labeling.max_cost_usd
            if limit is not None and estimate.total_usd > limit:
                raise DatasetRejectedError(
                    f"Estimated labeling cost ${estimate.total_usd} for {estimate.objects} images is above "
                    f"labeling.max_cost_usd ${limit} (Ground Truth fees ${estimate.per_object_fees_usd}, "
                    f"workforce ${estimate.workforce_fees_usd}). Raise labeling.max_cost_usd in {SPEC_FILE} "
                    "or label fewer images.",
                    estimate,
                )
        worst_case = _worst_case(spec, estimate, bounds)
        info = RunInfo(
            run_id=upload.run_id,
            dataset=upload.dataset,
            source_uri=upload.source.uri,
            source_version=upload.source.version,
            task=spec.task.value,
            labeling_mode=spec.labeling.mode.value,
            label_attribute=spec.labeling.label_attribute,
            manifest_uri=store.uri(manifest_key),
            objects=stats.objects,
            created_at=now,
            uploaded_by=upload.source.uploaded_by,
            uploaded_from=upload.source.uploaded_from,
        )
        # The spec lands before the manifest: the manifest's arrival starts the next stage.
        store.put_bytes(
            run_key(upload.run_id, SPEC_RECORD_FILE),
            spec.model_dump_json(indent=2).encode(),
            "application/json",
        )
        store.put_bytes(
            run_key(upload.run_id, RUN_INFO_FILE),
            info.model_dump_json(indent=2).encode(),
            "application/json",
        )
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return DatasetPrepared(
        run_id=upload.run_id,
        dataset=upload.dataset,
        task=spec.task.value,
        labeling_mode=spec.labeling.mode.value,
        manifest_uri=store.uri(manifest_key),
        spec_uri=store.uri(run_key(upload.run_id, SPEC_RECORD_FILE)),
        source_uri=upload.source.uri,
        objects=stats.objects,
        skipped=dict(stats.skipped),
        label_counts=dict(stats.label_counts) if provided else None,
        cost_estimate=estimate,
        uploaded_by=upload.source.uploaded_by,
        uploaded_from=upload.source.uploaded_from,
        worst_case=worst_case,
    )


def prepare_dataset(
    upload: DatasetUpload,
    store: ObjectStore,
    publisher: EventPublisher,
    defaults: SpecDefaults,
    zip_limits: ZipLimits,
    bounds: Guardrails,
    now: Callable[[], datetime] = _now,
) -> SagechainEvent:
    """Turn one upload into a prepared or rejected run, publish the event, and return it."""
    stats = ManifestStats()
    event: SagechainEvent
    try:
        if upload.kind == "zip":
            spec = _zip_spec(store, upload, zip_limits, stats)
        else:
            spec = _folder_spec(store, upload)
        event = _prepare(upload, spec.with_defaults(defaults), store, stats, now(), bounds)
    except DatasetRejectedError as rejection:
        event = DatasetRejected(
            run_id=upload.run_id,
            dataset=upload.dataset,
            reason=rejection.reason,
            source_uri=upload.source.uri,
            dataset_uri=store.uri(dataset_prefix(upload.dataset)),
            skipped=dict(stats.skipped),
            cost_estimate=rejection.estimate,
            uploaded_by=upload.source.uploaded_by,
            uploaded_from=upload.source.uploaded_from,
            worst_case=rejection.worst_case,
        )
    publisher.publish(event)
    return event
