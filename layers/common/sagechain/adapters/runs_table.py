"""DynamoDB: the runs table, written only with conditions so replays never move a run backwards.

Items of one run share pk = "RUN#<run_id>":
- sk "RUN": the run (stage, status, facts, last error, timestamps); `listing` and
  `created_at` put it in the RunsByCreatedAt index that lists runs newest first;
- sk "JOB#<kind>#<name>": each labeling, training or tuning job and endpoint;
- sk "EVENT#<what it is about>": the history, one entry per event type or job status.

Every write of one event is idempotent on its own: facts are plain SETs of values that
only one kind of event writes; stage and status move only to a higher `progress`; the
last error only to the error of a higher progress; a history entry keeps the earliest
time it was seen at. So any order and any number of deliveries give the same items.
"""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from sagechain.adapters.clients import dynamodb_client
from sagechain.event_sources.sagemaker import JobKind
from sagechain.ports import Cursor
from sagechain.run_history import HistoryEntry, JobState, RunChange, RunItem, RunRecord, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

RUN_SK = "RUN"
LISTING = "RUN"
LISTING_INDEX = "RunsByCreatedAt"
_KIND_ORDER = list(JobKind)
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def iso(moment: datetime) -> str:
    """UTC, one fixed format, so that times compare as text in conditions and index keys."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A model's values as DynamoDB takes them: datetimes as text, floats as Decimal, enums as values."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        value = iso(value)
    elif isinstance(value, Enum):
        value = value.value
    elif isinstance(value, float):
        value = Decimal(str(value))
    return value


def _serialize(attributes: Mapping[str, Any]) -> dict[str, "AttributeValueTypeDef"]:
    return {key: _SERIALIZER.serialize(value) for key, value in attributes.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _DESERIALIZER.deserialize(value) for key, value in item.items()}


class _Update:
    """One UpdateItem: SET clauses with placeholders for every name and value."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attribute: str, value: Any, if_absent: bool = False) -> None:
        name, placeholder = self.name(attribute), self.value(value)
        new_value = f"if_not_exists({name}, {placeholder})" if if_absent else placeholder
        self.clauses.append(f"{name} = {new_value}")

    def set_all(self, attributes: Mapping[str, Any]) -> None:
        for attribute, value in attributes.items():
            self.set(attribute, value)

    def moves_forward(self, progress_attr: str, progress: str, time_attr: str, at: str) -> str:
        """A condition: nothing stored yet, a lower progress, or the same one seen later than `at`."""
        p, t = self.name(progress_attr), self.name(time_attr)
        pv, tv = self.value(progress), self.value(at)
        return f"attribute_not_exists({p}) OR {p} < {pv} OR ({p} = {pv} AND {t} > {tv})"


class DynamoRunStore:
    """The runs table as RunStore."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._given = client  # the client is made on first use, not at cold start
        self._table = table_name

    @property
    def _client(self) -> "DynamoDBClient":
        return self._given or dynamodb_client()

    @staticmethod
    def _pk(run_id: str) -> str:
        return f"RUN#{run_id}"

    def _update(self, run_id: str, sk: str, update: _Update, condition: str | None = None) -> None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _serialize({"pk": self._pk(run_id), "sk": sk}),
            "UpdateExpression": "SET " + ", ".join(update.clauses),
            "ExpressionAttributeNames": update.names,
            "ExpressionAttributeValues": _serialize(update.values),
        }
        if condition:
            request["ConditionExpression"] = condition
        try:
            self._client.update_item(**request)
        except ClientError as err:
            # The stored state is already at or ahead of this event: nothing to do.
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def apply(self, change: RunChange) -> None:
        """Record one event: facts, then status, last error, history entry and jobs."""
        at = iso(change.at)
        facts = _Update()
        facts.set_all({"run_id": change.run_id, "listing": LISTING, **_plain(change.facts)})
        if change.dataset is not None:
            facts.set("dataset", change.dataset)
        self._update(change.run_id, RUN_SK, facts)
        self._date(change.run_id, at, change.starts_run)

        if change.moves_run:
            status = _Update()
            status.set_all(
                {
                    "stage": change.stage.value,
                    "status": change.status.value,
                    "progress": change.progress,
                    "summary": change.summary,
                    "updated_at": at,
                }
            )
            self._update(
                change.run_id,
                RUN_SK,
                status,
                status.moves_forward("progress", change.progress, "updated_at", at),
            )
            if change.error:
                error = _Update()
                error.set_all({"last_error": change.error, "error_progress": change.progress, "error_at": at})
                condition = error.moves_forward("error_progress", change.progress, "error_at", at)
                self._update(change.run_id, RUN_SK, error, condition)

        if change.history is not None:
            entry = _Update()
            entry.set_all({**_plain(change.history), "progress": change.progress})
            at_name, at_value = entry.name("at"), entry.value(at)
            condition = f"attribute_not_exists({entry.name('sk')}) OR {at_name} > {at_value}"
            self._update(change.run_id, f"EVENT#{change.history_key}", entry, condition)

        for job in change.jobs:
            state = _Update()
            state.set_all({**_plain(job.state), "progress": job.progress})
            condition = state.moves_forward("progress", job.progress, "updated_at", iso(job.state.updated_at))
            self._update(change.run_id, f"JOB#{job.state.kind.value}#{job.state.name}", state, condition)

    def _date(self, run_id: str, at: str, starts_run: bool) -> None:
        """created_at: the dataset event's time; until that arrives, the earliest event's."""
        update = _Update()
        update.set("created_at", at)
        if starts_run:
            update.set("run_started", True)
            self._update(run_id, RUN_SK, update)
            return
        started, created = update.name("run_started"), update.name("created_at")
        condition = (
            f"attribute_not_exists({started}) AND "
            f"(attribute_not_exists({created}) OR {created} > {update.value(at)})"
        )
        self._update(run_id, RUN_SK, update, condition)

    def _items(self, run_id: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": self._pk(run_id)}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield _deserialize(item)

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run, its jobs (labeling to endpoint) and its history (oldest first)."""
        run, jobs, history = None, [], []
        for item in self._items(run_id):
            sk = str(item["sk"])
            if sk == RUN_SK:
                run = item
            elif sk.startswith("JOB#"):
                jobs.append(item)
            elif sk.startswith("EVENT#"):
                history.append(item)
        if run is None or "created_at" not in run:
            return None
        jobs.sort(key=lambda job: (_KIND_ORDER.index(JobKind(job["kind"])), job["name"]))
        history.sort(key=lambda entry: (entry["at"], entry.get("progress", ""), entry["sk"]))
        return RunRecord(
            run=RunItem.model_validate(run),
            jobs=[JobState.model_validate(job) for job in jobs],
            history=[HistoryEntry.model_validate(entry) for entry in history],
        )

    def list_runs(self, limit: int, cursor: Cursor | None) -> tuple[list[RunItem], Cursor | None]:
        """Up to limit runs, newest first, after cursor."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LISTING_INDEX,
            "KeyConditionExpression": "listing = :listing",
            "ExpressionAttributeValues": {":listing": {"S": LISTING}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = {key: {"S": value} for key, value in cursor.items()}
        response = self._client.query(**request)
        runs = [RunItem.model_validate(_deserialize(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            return runs, None
        return runs, {key: str(_DESERIALIZER.deserialize(value)) for key, value in last.items()}

    def runs_in_progress(self, created_after: datetime) -> Iterator[RunItem]:
        """Runs created after the time and still in progress: the listing index, filtered."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=LISTING_INDEX,
            KeyConditionExpression="listing = :listing AND created_at >= :after",
            FilterExpression="#status = :in_progress",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":listing": {"S": LISTING},
                ":after": {"S": iso(created_after)},
                ":in_progress": {"S": RunStatus.IN_PROGRESS.value},
            },
        )
        for page in pages:
            for item in page.get("Items", []):
                yield RunItem.model_validate(_deserialize(item))
