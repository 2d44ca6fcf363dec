"""notify's, track_run's and status_api's settings."""

from pydantic import Field, field_validator

from sagechain.settings import FunctionSettings, IdempotentSettings, OptionalStr


class NotifySettings(IdempotentSettings):
    """notify: and the topic emails go to."""

    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    # The operator API's base URL: emails link to a run's artifacts there, never to the objects.
    operator_api_url: OptionalStr = Field(default=None, alias="OPERATOR_API_URL", pattern=r"^https?://")


class TrackRunSettings(NotifySettings):
    """track_run (which also emails, as notify): and the runs table it records runs in."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)


class StatusApiSettings(FunctionSettings):
    """status_api: and the runs table it reads, and the topic whose subscriptions it checks."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")


class WatchRunsSettings(IdempotentSettings):
    """watch_runs: the runs table, the topic, and how long a run may stay quiet."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    stale_after_hours: int = Field(alias="STALE_RUN_HOURS", ge=1, le=24 * 30)


class ReportFailuresSettings(NotifySettings):
    """report_failures: the same topic, the data bucket it saves parked events to, the idempotency
    table, which function each stage dead letter queue backs (`<queue arn>=<function>,...`), and
    the bus a dead-lettered batch's "Batch Failed" goes to."""

    stage_dead_letter_queues: dict[str, str] = Field(default_factory=dict, alias="STAGE_DEAD_LETTER_QUEUES")
    # A parked batch message fails its batch: "Batch Failed" goes to this bus.
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)

    @field_validator("stage_dead_letter_queues", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 or not all(pair) for pair in pairs):
            raise ValueError("expected <queue arn>=<function name>, comma-separated")
        return {arn.strip(): function.strip() for arn, function in pairs}
