"""EventBridge Scheduler: the one-time schedule that deletes an endpoint when its TTL ends.

CreateSchedule (Scheduler API reference,
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html): a one-time
schedule is `at(yyyy-mm-ddThh:mm:ss)` in ScheduleExpressionTimezone; ActionAfterCompletion DELETE
removes it once it has invoked its target; FlexibleTimeWindow OFF fires it at that time; names
are 1-64 characters of [0-9a-zA-Z-_.], unique in their group (ConflictException otherwise).
UpdateSchedule replaces every field, so a later go-live sends the whole schedule again.
The target's RoleArn is the role Scheduler assumes to invoke it (Lambda developer guide,
https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html).
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sagechain.adapters.clients import scheduler_client
from sagechain.aws_errors import is_retryable
from sagechain.errors import RequestRefusedError

if TYPE_CHECKING:
    from botocore.client import BaseClient


def at_expression(at: datetime) -> str:
    """A one-time schedule expression, in UTC to the second."""
    return f"at({at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def _refused(operation: str, err: ClientError) -> RequestRefusedError | None:
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    if is_retryable(code, err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")):
        return None
    return RequestRefusedError(operation, code, error.get("Message", ""), service="scheduler")


GROUP = "default"


class EventBridgeSchedules:
    """Implements ExpirySchedules, BatchDeadlines (and StackSchedules): schedules in the default group
    that invoke one target (a Lambda function, or an SQS queue sent the payload as a message). Only
    put() needs the role; teardown, which lists and deletes, has none."""

    def __init__(
        self,
        target_arn: str,
        role_arn: str | None,
        client: "BaseClient | None" = None,
        description: str = "sagechain: deletes the endpoint when deployment.ttl_hours has passed",
    ) -> None:
        self._given = client  # the client is made on first use, not at cold start
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._description = description

    @property
    def _client(self) -> Any:
        return self._given or scheduler_client()

    def pending(self, name_prefix: str) -> list[str]:
        """The schedules whose names start with name_prefix and that invoke this function (another
        stack's, even of the same prefix, invoke its own): ListSchedules, every page."""
        pages = self._client.get_paginator("list_schedules").paginate(GroupName=GROUP, NamePrefix=name_prefix)
        return [
            schedule["Name"]
            for page in pages
            for schedule in page.get("Schedules", [])
            if schedule.get("Target", {}).get("Arn") == self._target_arn
        ]

    def put(self, name: str, at: datetime, payload: str) -> None:
        """CreateSchedule, or UpdateSchedule when the endpoint has one already (a later go-live)."""
        if self._role_arn is None:
            raise ValueError("putting a schedule needs the role Scheduler invokes the target as")
        request = {
            "Name": name,
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {"Arn": self._target_arn, "RoleArn": self._role_arn, "Input": payload},
            "Description": self._description,
        }
        try:
            self._client.create_schedule(**request)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConflictException":
                raise _refused("CreateSchedule", err) or err from err
            try:
                self._client.update_schedule(**request)
            except ClientError as update_err:
                raise _refused("UpdateSchedule", update_err) or update_err from update_err

    def remove(self, name: str) -> None:
        """DeleteSchedule; a schedule already gone (or never made) is fine."""
        try:
            self._client.delete_schedule(Name=name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise _refused("DeleteSchedule", err) or err from err
