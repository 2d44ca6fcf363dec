"""teardown's settings."""

from pydantic import Field

from sagechain.settings import EnvironmentSettings, NamePrefix


class TeardownSettings(EnvironmentSettings):
    """teardown: whose resources to delete (the name prefix and the stack's tag) and whose schedules."""

    name_prefix: NamePrefix
    stack_name: str = Field(alias="STACK_NAME", min_length=1)
    # This stack's expiry schedules are the ones that invoke its expiry function.
    expiry_function_arn: str = Field(alias="EXPIRY_FUNCTION_ARN", pattern=r"^arn:aws[a-z-]*:lambda:")
    # ... and its batches' deadline schedules the ones that send to its CollectBatchQueue.
    collect_batch_queue_arn: str = Field(alias="COLLECT_BATCH_QUEUE_ARN", pattern=r"^arn:aws[a-z-]*:sqs:")
