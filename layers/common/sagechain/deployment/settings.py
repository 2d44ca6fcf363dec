"""deploy_model's and configure_autoscaling's settings."""

from pydantic import Field

from sagechain.guardrails import CommaList, PriceOverrides
from sagechain.settings import FunctionSettings, OptionalStr, SageMakerRoleArn, StageSettings


class DeployModelSettings(StageSettings):
    """deploy_model: the role models run as, the stack's bounds on endpoints, and whether custom
    images may reach the network."""

    sagemaker_role_arn: SageMakerRoleArn
    # The operator's setting (stack parameter AllowWorseModel), never the spec's.
    allow_worse_model: bool = Field(alias="ALLOW_WORSE_MODEL")
    allowed_endpoint_instance_types: CommaList = Field(alias="ALLOWED_ENDPOINT_INSTANCE_TYPES", min_length=1)
    max_endpoint_instances: int = Field(alias="MAX_ENDPOINT_INSTANCES", ge=1)
    # Stack parameter AllowCustomNetworkAccess; IAM requires isolation too while it is false.
    allow_custom_network_access: bool = Field(alias="ALLOW_CUSTOM_NETWORK_ACCESS")
    # The rollback alarms of an update (stack parameter RollbackErrorRatePercent; PredictFunction).
    rollback_error_rate_percent: int = Field(default=5, alias="ROLLBACK_ERROR_RATE_PERCENT", ge=1, le=100)
    predict_function_name: OptionalStr = Field(default=None, alias="PREDICT_FUNCTION_NAME")


class ConfigureAutoscalingSettings(StageSettings):
    """configure_autoscaling: the predict URL the Model Live email gives, and the price overrides its
    hourly cost uses (stack parameter InstancePriceOverrides)."""

    predict_url_template: str = Field(alias="PREDICT_URL_TEMPLATE", pattern=r"^https://.*\{model\}")
    instance_price_overrides: PriceOverrides = Field(alias="INSTANCE_PRICE_OVERRIDES")
    # deployment.ttl_hours: the schedules invoke ExpireEndpointFunction as ExpirySchedulerRole.
    expiry_function_arn: str = Field(alias="EXPIRY_FUNCTION_ARN", pattern=r"^arn:aws[a-z-]*:lambda:")
    expiry_role_arn: str = Field(alias="EXPIRY_SCHEDULER_ROLE_ARN", pattern=r"^arn:aws[a-z-]*:iam::")
    # A deployment that waited is carried out here, with the same rollback alarms as deploy_model's.
    rollback_error_rate_percent: int = Field(default=5, alias="ROLLBACK_ERROR_RATE_PERCENT", ge=1, le=100)
    predict_function_name: OptionalStr = Field(default=None, alias="PREDICT_FUNCTION_NAME")


class ExpireEndpointSettings(FunctionSettings):
    """expire_endpoint: the bucket holding model.json and the bus its Model Expired goes to."""

    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
