"""CloudWatch alarms for the rollback of endpoint updates (PutMetricAlarm, DescribeAlarms, DeleteAlarms).

API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
API_DescribeAlarms.html (StateReasonData: JSON with recentDatapoints and threshold), API_DeleteAlarms.html
(at most 100 names; names that do not exist are ignored). Creating an alarm with tags needs
cloudwatch:TagResource as well as cloudwatch:PutMetricAlarm
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_alarms_and_tagging.html).
"""

import json
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from sagechain.adapters.clients import cloudwatch_client
from sagechain.aws_errors import is_retryable
from sagechain.errors import RequestRefusedError
from sagechain.ports import FiredAlarm, RollbackAlarm

ALARM_STATE = "ALARM"


def _refused(operation: str, err: ClientError) -> RequestRefusedError | None:
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    if is_retryable(code, err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")):
        return None
    return RequestRefusedError(operation, code, error.get("Message", ""), service="cloudwatch")


def _datapoints(reason_data: str | None) -> tuple[tuple[float, ...], float | None]:
    """The values and threshold in StateReasonData, when CloudWatch gave them."""
    if not reason_data:
        return (), None
    try:
        data = json.loads(reason_data)
    except json.JSONDecodeError:
        return (), None
    values = tuple(float(v) for v in data.get("recentDatapoints", []) if isinstance(v, int | float))
    threshold = data.get("threshold")
    return values, float(threshold) if isinstance(threshold, int | float) else None


class CloudWatchAlarms:
    """Implements RollbackAlarms over one CloudWatch client."""

    def __init__(self, client: BaseClient | None = None) -> None:
        self._given = client  # the client is made on first use, not at cold start

    @property
    def _client(self) -> Any:
        return self._given or cloudwatch_client()

    def put(self, alarm: RollbackAlarm, tags: dict[str, str]) -> None:
        """PutMetricAlarm: breaching when above the threshold for every evaluation period."""
        request: dict[str, Any] = {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "Namespace": alarm.namespace,
            "MetricName": alarm.metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in alarm.dimensions],
            "Period": alarm.period_seconds,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.evaluation_periods,
            "Threshold": alarm.threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            # No traffic is no failure: an idle endpoint must not roll an update back.
            "TreatMissingData": "notBreaching",
            "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        }
        if alarm.extended_statistic:
            request["ExtendedStatistic"] = alarm.extended_statistic
        else:
            request["Statistic"] = alarm.statistic or "Average"
        try:
            self._client.put_metric_alarm(**request)
        except ClientError as err:
            refused = _refused("PutMetricAlarm", err)
            if refused is None:
                raise
            raise refused from err

    def firing(self, names: list[str]) -> list[FiredAlarm]:
        """DescribeAlarms for the names (one page holds 100): those in ALARM."""
        answer = self._client.describe_alarms(AlarmNames=names[:100], AlarmTypes=["MetricAlarm"])
        fired = []
        for alarm in answer.get("MetricAlarms", []):
            if alarm.get("StateValue") != ALARM_STATE:
                continue
            values, threshold = _datapoints(alarm.get("StateReasonData"))
            fired.append(
                FiredAlarm(
                    name=alarm["AlarmName"],
                    metric=alarm.get("MetricName", ""),
                    reason=alarm.get("StateReason", ""),
                    values=values,
                    threshold=threshold if threshold is not None else alarm.get("Threshold"),
                )
            )
        return fired

    def delete(self, names: list[str]) -> None:
        """DeleteAlarms; CloudWatch ignores names that do not exist."""
        if not names:
            return
        try:
            self._client.delete_alarms(AlarmNames=names[:100])
        except ClientError as err:
            refused = _refused("DeleteAlarms", err)
            if refused is None:
                raise
            raise refused from err
