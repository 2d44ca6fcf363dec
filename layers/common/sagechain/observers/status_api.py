"""Stage 9: what the status API answers: runs newest first, one run with its history, a live model.

Texts copied from SageMaker (failure reasons) can name ARNs and account ids; the API
answers them redacted. The emails, sent only to the team, keep them verbatim.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice

from pydantic import ValidationError

from sagechain.api_errors import BatchNotFoundError, InvalidRequestError, ModelNotFoundError, RunNotFoundError
from sagechain.errors import ObjectNotFoundError
from sagechain.layout import batch_output_prefix, batch_record_key, batch_records_prefix, model_key
from sagechain.observers.email_delivery import EmailDelivery
from sagechain.observers.status_models import (
    BatchList,
    BatchProgress,
    BatchView,
    EndpointState,
    LiveModel,
    ModelStatus,
    RunDetail,
    RunPage,
    RunSummary,
)
from sagechain.ports import Cursor, EndpointFacts, ObjectStore, RunStore, SageMakerLookup, ScalingLookup
from sagechain.pricing import delete_endpoint_commands
from sagechain.records import BatchRecord, ModelInfo, read_record
from sagechain.run_history import RunItem

MODEL_INFO_MAX_BYTES = 1024 * 1024
_ARN = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^\s'\"),;]+")
_ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
_SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_CURSOR_KEYS = frozenset({"pk", "sk", "listing", "created_at"})


def redact(text: str | None) -> str | None:
    """ARNs become <arn>, account ids <account-id>."""
    if text is None:
        return None
    return _ACCOUNT_ID.sub("<account-id>", _ARN.sub("<arn>", text))


def encode_token(cursor: Cursor) -> str:
    """A listing position as an opaque, URL-safe token."""
    return base64.urlsafe_b64encode(json.dumps(cursor, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> Cursor:
    """The position a token stands for; InvalidRequestError when it is not one of ours."""
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        cursor = None
    if (
        not isinstance(cursor, dict)
        or set(cursor) != _CURSOR_KEYS
        or not all(isinstance(value, str) for value in cursor.values())
    ):
        raise InvalidRequestError("next_token is not a token this API returned; start again without it.")
    return cursor


def _summary(run: RunItem, email_warning: str | None) -> RunSummary:
    return RunSummary(
        run_id=run.run_id,
        dataset=run.dataset,
        stage=run.stage,
        status=run.status,
        summary=redact(run.summary),
        created_at=run.created_at,
        updated_at=run.updated_at,
        last_error=redact(run.last_error),
        endpoint_name=run.endpoint_name,
        email_warning=email_warning,
    )


# GET /models/{model}/batches answers the newest ones within the API's time.
MAX_BATCHES_LISTED = 100
# A running batch's answers are counted over at most 3 ListObjectsV2 pages (1,000 keys each,
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html): within the API's time
# whatever the batch's size; beyond it the count is "at least".
ANSWERS_COUNTED_MAX = 3_000
ANSWER_SUFFIX = ".out"


def batch_progress(record: BatchRecord, answers: int, at_least: bool, now: datetime) -> BatchProgress:
    """A running batch's elapsed time, cost so far against its estimate, and images answered."""
    elapsed = max(now - record.created_at, timedelta(0))
    minutes = int(elapsed.total_seconds() // 60)
    estimate = record.cost_estimate
    so_far = None
    if estimate is not None:
        hours = Decimal(int(elapsed.total_seconds())) / Decimal(3600)
        billed = estimate.usd_per_instance_hour * estimate.instance_count * hours
        so_far = min(billed, estimate.max_usd).quantize(Decimal("0.01"))
    return BatchProgress(
        elapsed_minutes=minutes,
        deadline_at=record.deadline_at,
        cost_so_far_usd=so_far,
        cost_estimate_usd=estimate.max_usd if estimate else None,
        images_answered=answers,
        images_answered_at_least=at_least,
        answered=f"{'at least ' if at_least else ''}{answers:,} of {record.images:,} images answered",
    )


def _batch_view(record: BatchRecord) -> BatchView:
    return BatchView(
        model=record.model,
        batch_name=record.batch_name,
        batch_id=record.batch_id,
        status=record.status,
        transform_job_name=record.transform_job_name,
        model_name=record.scored_by.model_name,
        training_job_name=record.scored_by.training_job_name,
        run_id=record.scored_by.run_id,
        images=record.images,
        skipped=record.skipped,
        instance_type=record.instance_type,
        instance_count=record.instance_count,
        max_runtime_minutes=record.max_runtime_minutes,
        cost_estimate=record.cost_estimate,
        created_at=record.created_at,
        ended_at=record.ended_at,
        scored=record.scored,
        failed=record.failed,
        label_counts=record.label_counts,
        predictions_uri=record.predictions_uri,
        summary_uri=record.summary_uri,
        failure_reason=redact(record.failure_reason),
    )


class StatusService:
    """Reads the runs table, the live models' model.json and their endpoints."""

    def __init__(
        self,
        runs: RunStore,
        store: ObjectStore,
        sagemaker: SageMakerLookup,
        scaling: ScalingLookup,
        name_prefix: str,
        email: EmailDelivery,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._email = email
        self._runs = runs
        self._store = store
        self._sagemaker = sagemaker
        self._scaling = scaling
        self._name_prefix = name_prefix

    def list_runs(self, limit: int, next_token: str | None) -> RunPage:
        """A page of runs, newest first."""
        cursor = decode_token(next_token) if next_token else None
        runs, following = self._runs.list_runs(limit, cursor)
        warning = self._email.warning() if runs else None
        return RunPage(
            runs=[_summary(run, warning) for run in runs],
            next_token=encode_token(following) if following else None,
        )

    def get_run(self, run_id: str) -> RunDetail:
        """One run with its jobs and history; RunNotFoundError for an unknown id."""
        record = self._runs.get_run(run_id)
        if record is None:
            raise RunNotFoundError(f"No run has the id {run_id!r}. GET /runs lists the runs.")
        jobs = [job.model_copy(update={"failure_reason": redact(job.failure_reason)}) for job in record.jobs]
        history = [
            entry.model_copy(update={"summary": redact(entry.summary), "error": redact(entry.error)})
            for entry in record.history
        ]
        return RunDetail.model_validate(
            {
                **record.run.model_dump(),
                **_summary(record.run, self._email.warning()).model_dump(),
                "jobs": jobs,
                "history": history,
            }
        )

    def _model_info(self, model: str) -> ModelInfo | None:
        try:
            raw = self._store.read_bytes(model_key(model), MODEL_INFO_MAX_BYTES)
        except ObjectNotFoundError:
            return None
        try:
            return ModelInfo.model_validate_json(raw)
        except ValidationError:
            # Written by deploy_model; unreadable means a newer or broken format: report the endpoint only.
            return None

    def _endpoint(self, name: str, variant: str | None) -> EndpointState | None:
        return self._endpoint_state(self._sagemaker.endpoint(name), variant)

    def _endpoint_state(self, endpoint: EndpointFacts | None, variant: str | None) -> EndpointState | None:
        if endpoint is None:
            return None
        variant_name = variant or endpoint.variant_name
        return EndpointState(
            name=endpoint.name,
            status=endpoint.status,
            instance_count=endpoint.instance_count,
            autoscaling=self._scaling.scaling_range(endpoint.name, variant_name) if variant_name else None,
            failure_reason=redact(endpoint.failure_reason),
            updated_at=endpoint.updated_at,
        )

    def list_batches(self, model: str, limit: int = MAX_BATCHES_LISTED) -> BatchList:
        """The model's batches (models/<model>/batches/), newest first, at most limit."""
        records = []
        for item in self._store.iter_objects(batch_records_prefix(model)):
            record = read_record(self._store, item.key, BatchRecord)
            if record is not None:
                records.append(record)
        records.sort(key=lambda record: record.created_at, reverse=True)
        return BatchList(model=model, batches=[_batch_view(record) for record in records[:limit]])

    def get_batch(self, model: str, name: str) -> BatchView:
        """One batch; BatchNotFoundError when the model has none of that name."""
        record = read_record(self._store, batch_record_key(model, name), BatchRecord)
        if record is None:
            raise BatchNotFoundError(
                f"Model {model!r} has no batch {name!r}. GET /models/{model}/batches lists its batches."
            )
        view = _batch_view(record)
        if record.status != "InProgress":
            return view
        listed = self._store.iter_objects(batch_output_prefix(model, name, record.batch_id))
        answers = sum(1 for item in islice(listed, ANSWERS_COUNTED_MAX) if item.key.endswith(ANSWER_SUFFIX))
        progress = batch_progress(record, answers, answers >= ANSWERS_COUNTED_MAX, self._clock())
        return view.model_copy(update={"progress": progress})

    def model_status(self, model: str) -> ModelStatus:
        """The endpoint behind a model and the model it serves; ModelNotFoundError when neither exists."""
        info = self._model_info(model)
        if info is not None:
            live = LiveModel(
                model_name=info.model_name,
                training_job_name=info.training_job_name,
                run_id=info.run_id,
                dataset=info.dataset,
                task=info.task,
                labels=info.labels,
                metric=info.metric,
                deployed_at=info.deployed_at,
            )
            if info.deleted_at is not None:
                return ModelStatus(model=model, current_model=live, deleted_at=info.deleted_at)
            facts = self._sagemaker.endpoint(info.endpoint_name)
            return ModelStatus(
                model=model,
                endpoint=self._endpoint_state(facts, info.variant_name),
                current_model=live,
                hourly_cost=info.hourly_cost,
                delete_commands=delete_endpoint_commands(
                    info.endpoint_name, facts.config_name if facts else None, info.model_name
                )
                if facts is not None
                else [],
            )
        # Not live yet: an endpoint of ours being created still has a status worth showing.
        if model.startswith(f"{self._name_prefix}-") and _SAGEMAKER_NAME.match(model):
            endpoint = self._endpoint(model, None)
            if endpoint is not None:
                return ModelStatus(model=model, endpoint=endpoint)
        raise ModelNotFoundError(f"No model is named {model!r}. Model names are in the Model live emails.")
