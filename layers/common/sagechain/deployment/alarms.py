"""The CloudWatch alarms an update of an endpoint rolls back on, one set per endpoint.

    <endpoint>-rollback-5xx            AWS/SageMaker Invocation5XXErrors, Average (a rate), variant
    <endpoint>-rollback-4xx            AWS/SageMaker Invocation4XXErrors, Average (a rate), variant
    <endpoint>-rollback-latency-p99    AWS/SageMaker ModelLatency p99 (microseconds), variant
    <endpoint>-rollback-predict-errors AWS/Lambda Errors of the predict function, Sum

SageMaker watches the alarms named in AutoRollbackConfiguration during every baking period and
rolls all traffic back to the old fleet when one is in ALARM
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html: the
error-rate alarms are its own examples, Invocation4XXErrors/5XXErrors with the Average statistic).
They are put (PutMetricAlarm replaces an alarm of the same name) before every update, with the
new model's thresholds, tagged with the stack, and deleted with the endpoint: delete_rollback_alarms
is what DELETE /models, expiry and teardown call. Names start with the endpoint's, which starts
with NamePrefix: IAM scopes the alarms by that prefix and the stack's tag.
"""

from dataclasses import dataclass

from sagechain.names import ROLLBACK_ALARM_SUFFIXES, rollback_alarm_names
from sagechain.ports import FiredAlarm, RollbackAlarm, RollbackAlarms
from sagechain.spec import DeploymentSpec

SUFFIXES = ROLLBACK_ALARM_SUFFIXES
# Lambda Errors of the predict function in a minute that count as failing (it answers callers'
# mistakes itself; an error is a crash or a timeout).
PREDICT_ERRORS_PER_MINUTE = 5
MICROSECONDS_PER_MS = 1_000


@dataclass(frozen=True)
class AlarmThresholds:
    """The stack's side of the alarms: RollbackErrorRatePercent, and the predict function watched."""

    error_rate_percent: int = 5
    predict_function_name: str | None = None


def alarm_names(endpoint: str) -> list[str]:
    """Every rollback alarm an endpoint may have."""
    return rollback_alarm_names(endpoint)


def rollback_alarms(
    endpoint: str, variant: str, deployment: DeploymentSpec, thresholds: AlarmThresholds
) -> list[RollbackAlarm]:
    """The alarms for an update of the endpoint's variant to a model with the deployment's spec."""
    on_variant = (("EndpointName", endpoint), ("VariantName", variant))
    rate, percent = thresholds.error_rate_percent / 100, thresholds.error_rate_percent
    names = dict(zip(SUFFIXES, alarm_names(endpoint), strict=True))
    alarms = [
        RollbackAlarm(
            names["rollback-5xx"],
            f"sagechain: more than {percent} % of {endpoint}'s invocations fail with 5XX",
            "AWS/SageMaker",
            "Invocation5XXErrors",
            on_variant,
            rate,
            statistic="Average",
        ),
        RollbackAlarm(
            names["rollback-4xx"],
            f"sagechain: more than {percent} % of {endpoint}'s invocations fail with 4XX",
            "AWS/SageMaker",
            "Invocation4XXErrors",
            on_variant,
            rate,
            statistic="Average",
        ),
    ]
    if deployment.max_latency_p99_ms is not None:
        alarms.append(
            RollbackAlarm(
                names["rollback-latency-p99"],
                f"sagechain: {endpoint}'s p99 ModelLatency is above {deployment.max_latency_p99_ms} ms "
                "(deployment.max_latency_p99_ms)",
                "AWS/SageMaker",
                "ModelLatency",
                on_variant,
                float(deployment.max_latency_p99_ms * MICROSECONDS_PER_MS),
                extended_statistic="p99",
            )
        )
    if thresholds.predict_function_name:
        alarms.append(
            RollbackAlarm(
                names["rollback-predict-errors"],
                f"sagechain: the predict function fails {PREDICT_ERRORS_PER_MINUTE} or more times a minute",
                "AWS/Lambda",
                "Errors",
                (("FunctionName", thresholds.predict_function_name),),
                float(PREDICT_ERRORS_PER_MINUTE - 1),
                statistic="Sum",
            )
        )
    return alarms


def arm_rollback_alarms(
    alarms: RollbackAlarms,
    endpoint: str,
    variant: str,
    deployment: DeploymentSpec,
    thresholds: AlarmThresholds,
    tags: dict[str, str],
) -> tuple[str, ...]:
    """Put the endpoint's rollback alarms for this update; their names, for AutoRollbackConfiguration."""
    wanted = rollback_alarms(endpoint, variant, deployment, thresholds)
    for alarm in wanted:
        alarms.put(alarm, tags)
    return tuple(alarm.name for alarm in wanted)


def fired_alarms(alarms: RollbackAlarms, names: list[str]) -> list[FiredAlarm]:
    """Which of an update's rollback alarms are in ALARM."""
    return alarms.firing(names) if names else []


def delete_rollback_alarms(alarms: RollbackAlarms, endpoint: str) -> list[str]:
    """Delete the endpoint's rollback alarms (with the endpoint); the names asked to be deleted."""
    names = alarm_names(endpoint)
    alarms.delete(names)
    return names
