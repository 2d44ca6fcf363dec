"""The exceptions sagechain raises on purpose: one root, a few that say what went wrong."""

from typing import TYPE_CHECKING

from sagechain.aws_errors import AwsErrorExplanation, explain_aws_error

if TYPE_CHECKING:
    from sagechain.events import LabelingCostEstimate, WorstCaseCost


class SagechainError(Exception):
    """Root of every error sagechain raises on purpose."""


class DatasetRejectedError(SagechainError):
    """The dataset cannot become a run; the reason is written for the person who uploaded it."""

    def __init__(
        self,
        reason: str,
        estimate: "LabelingCostEstimate | None" = None,
        worst_case: "WorstCaseCost | None" = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.estimate = estimate
        self.worst_case = worst_case


class BatchRejectedError(SagechainError):
    """A batch cannot start (bad batch.json, unknown model, no images); nothing is started and
    the upload is kept. The reason is written for the person who uploaded it."""

    def __init__(self, reason: str, skipped: dict[str, int] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.skipped = dict(skipped or {})


class RetryableError(SagechainError):
    """A transient failure: the handler re-raises it so EventBridge or Lambda retries."""


class ObjectNotFoundError(SagechainError):
    """An S3 object the run needs does not exist."""

    def __init__(self, key: str) -> None:
        super().__init__(f"s3 object not found: {key}")
        self.key = key


class ObjectTooLargeError(SagechainError):
    """An S3 object is larger than the code is willing to read into memory."""

    def __init__(self, key: str, size: int, limit: int) -> None:
        super().__init__(f"{key} is {size} bytes; at most {limit} are read")
        self.key = key
        self.size = size
        self.limit = limit


class RequestRefusedError(SagechainError):
    """An AWS service refused a request for good (not a transient failure): a quota, a value it
    does not accept, a permission, something missing. aws_errors explains it for a person."""

    def __init__(
        self,
        operation: str,
        code: str,
        message: str,
        *,
        service: str = "sagemaker",
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.service = service
        self.http_status = http_status

    def explain(self, *, region: str | None = None, instance_type: str | None = None) -> AwsErrorExplanation:
        """What the refusal means and what to do (aws_errors.explain_aws_error)."""
        return explain_aws_error(
            self.service,
            self.operation,
            self.code,
            self.message,
            region=region,
            instance_type=instance_type,
            http_status=self.http_status,
        )


class EndpointBusyError(SagechainError):
    """SageMaker refused to change an endpoint because another change is in progress."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(f"endpoint {endpoint} is busy: {message}")
        self.endpoint = endpoint
        self.message = message


class ResourceMissingError(SagechainError):
    """A SageMaker resource an event names does not exist (any more)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name} does not exist")
        self.kind = kind
        self.name = name


class TrainingNotStartedError(SagechainError):
    """Training cannot start for this run; the reason is written for the person who runs it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunNotReadyError(SagechainError):
    """A job of this stack's run ended before the run recorded its training (training.json): the
    run's start_training crashed after creating it and has not been retried yet. Raised, not
    answered, so no idempotency record keeps the answer: the run's Training Started, published
    when the retry finishes, handles the same change (ended_before_started)."""

    def __init__(self, run_id: str, job: str) -> None:
        super().__init__(f"{job} ended before run {run_id} recorded its training (no training.json yet)")
        self.run_id = run_id
        self.job = job


class StaleAttemptError(SagechainError):
    """An event of a run attempt that a retry replaced, or that was stopped (attempts.why_not_start):
    the stage starts nothing for it. Raised, not answered, so no idempotency record keeps it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EndpointDeniedError(SagechainError):
    """InvokeEndpoint was denied: the endpoint was just deleted (no tags left for the stack's
    tag-conditioned grant to match) or the stack's policy is wrong. Not an API error: unless the
    model turns out deleted, the caller gets a plain 500."""
