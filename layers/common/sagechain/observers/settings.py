"""notify's, track_run's and status_api's settings."""

from pydantic import Field

from sagechain.settings import FunctionSettings, IdempotentSettings


class NotifySettings(IdempotentSettings):
    """notify: and the topic emails go to."""

    topic_arn: str = Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")


class TrackRunSettings(FunctionSettings):
    """track_run: and the runs table."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)


class StatusApiSettings(FunctionSettings):
    """status_api: and the runs table it reads."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)


class ReportFailuresSettings(NotifySettings):
    """report_failures: the same topic, the data bucket it saves parked events to, the idempotency table."""
