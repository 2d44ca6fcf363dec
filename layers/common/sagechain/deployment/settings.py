"""deploy_model's and configure_autoscaling's settings."""

from pydantic import Field

from sagechain.settings import SageMakerRoleArn, StageSettings


class DeployModelSettings(StageSettings):
    """deploy_model: the role models run as, and whether custom images may reach the network."""

    sagemaker_role_arn: SageMakerRoleArn
    # Stack parameter AllowCustomNetworkAccess; IAM requires isolation too while it is false.
    allow_custom_network_access: bool = Field(alias="ALLOW_CUSTOM_NETWORK_ACCESS")


class ConfigureAutoscalingSettings(StageSettings):
    """configure_autoscaling: and the predict URL the Model Live email gives."""

    predict_url_template: str = Field(alias="PREDICT_URL_TEMPLATE", pattern=r"^https://.*\{model\}")
