"""run_control's settings."""

from pydantic import Field

from sagechain.settings import FunctionSettings


class RunControlSettings(FunctionSettings):
    """run_control: and the runs table it reads, the bus its events go to, and the expiry function
    whose schedule a deleted model's endpoint had."""

    runs_table: str = Field(alias="RUNS_TABLE", min_length=3)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    expiry_function_arn: str = Field(alias="EXPIRY_FUNCTION_ARN", pattern=r"^arn:aws[a-z-]*:lambda:")
