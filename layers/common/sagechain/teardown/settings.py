"""teardown's settings."""

from pydantic import Field

from sagechain.settings import EnvironmentSettings, NamePrefix


class TeardownSettings(EnvironmentSettings):
    """teardown: whose resources to delete (the name prefix and the stack's tag)."""

    name_prefix: NamePrefix
    stack_name: str = Field(alias="STACK_NAME", min_length=1)
