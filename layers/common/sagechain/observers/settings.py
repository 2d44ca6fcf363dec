"""notify's, track_run's and status_api's settings."""

from pydantic import Field

from sagechain.settings import FunctionSettings, IdempotentSettings


class NotifySettings(IdempotentSettings):
    """notify: and the topic emails go to."""

    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")


class TrackRunSettings(FunctionSettings):
    """track_run: and the runs table, and the topic whose subscriptions it checks."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")


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
    """report_failures: the same topic, the data bucket it saves parked events to, the idempotency table."""
