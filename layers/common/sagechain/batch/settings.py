"""The batch functions' settings."""

from pydantic import Field

from sagechain.batch.collect_batch import CollectConfig
from sagechain.batch.spec import BatchBounds
from sagechain.batch.start_batch import BatchConfig
from sagechain.guardrails import CommaList, PriceOverrides
from sagechain.settings import StageSettings

# Answers read at once by collect_batch (and its S3 client's connection pool): 64 GETs of ~20 ms
# each is ~3,000 answers a second, a 5,000-image shard in about 2 s (bench/batch_outputs.py).
ANSWER_READERS = 64


class StartBatchSettings(StageSettings):
    """start_batch: the stack's bounds on transform jobs (the endpoints' bounds, AllowedEndpointInstanceTypes
    and MaxEndpointInstances, and MaxBatchHours). A transform job runs as its model's execution role:
    CreateTransformJob passes no role."""

    allowed_endpoint_instance_types: CommaList = Field(alias="ALLOWED_ENDPOINT_INSTANCE_TYPES", min_length=1)
    max_endpoint_instances: int = Field(alias="MAX_ENDPOINT_INSTANCES", ge=1)
    max_batch_hours: int = Field(alias="MAX_BATCH_HOURS", ge=1, le=72)
    instance_price_overrides: PriceOverrides = Field(alias="INSTANCE_PRICE_OVERRIDES")
    # max_runtime_minutes: the deadline schedules send to CollectBatchQueue as BatchDeadlineSchedulerRole.
    collect_batch_queue_arn: str = Field(alias="COLLECT_BATCH_QUEUE_ARN", pattern=r"^arn:aws[a-z-]*:sqs:")
    deadline_role_arn: str = Field(
        alias="BATCH_DEADLINE_SCHEDULER_ROLE_ARN", pattern=r"^arn:aws[a-z-]*:iam::"
    )

    @property
    def bounds(self) -> BatchBounds:
        """The bounds batch.json is held to."""
        return BatchBounds(
            allowed_instance_types=self.allowed_endpoint_instance_types,
            max_instances=self.max_endpoint_instances,
            max_hours=self.max_batch_hours,
        )

    @property
    def config(self) -> BatchConfig:
        """What the stack decides for every batch."""
        return BatchConfig(
            name_prefix=self.name_prefix,
            stack_name=self.stack_name,
            bounds=self.bounds,
            price_overrides=dict(self.instance_price_overrides),
        )


class CollectBatchSettings(StageSettings):
    """collect_batch: the bucket holding the batch's record and outputs, and the bus it reports on."""

    collect_batch_queue_url: str = Field(alias="COLLECT_BATCH_QUEUE_URL", min_length=1)
    collect_batch_queue_arn: str = Field(alias="COLLECT_BATCH_QUEUE_ARN", pattern=r"^arn:aws[a-z-]*:sqs:")
    batch_shard_images: int = Field(alias="BATCH_SHARD_IMAGES", ge=2, le=100_000)

    @property
    def config(self) -> CollectConfig:
        """What the stack decides for collecting every batch."""
        return CollectConfig(
            stack_name=self.stack_name, shard_images=self.batch_shard_images, readers=ANSWER_READERS
        )
