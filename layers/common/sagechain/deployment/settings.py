"""deploy_model's and configure_autoscaling's settings."""

from pydantic import Field

from sagechain.settings import SageMakerRoleArn, StageSettings


class DeployModelSettings(StageSettings):
    """deploy_model: and the role models run as."""

    sagemaker_role_arn: SageMakerRoleArn


class ConfigureAutoscalingSettings(StageSettings):
    """configure_autoscaling: and the predict URL the Model Live email gives."""

    predict_url_template: str = Field(alias="PREDICT_URL_TEMPLATE", pattern=r"^https://.*\{model\}")
