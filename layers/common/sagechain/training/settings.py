"""start_training's settings: the stage's, and the environment its jobs run in."""

from pydantic import AliasChoices, Field, model_validator

from sagechain.settings import EnvironmentSettings, NamePrefix, SageMakerRoleArn, StageSettings


class TrainingEnvironment(EnvironmentSettings):
    """start_training: where SageMaker jobs run, as whom, and under which names."""

    # Lambda sets AWS_REGION itself (a reserved variable); tests and tools set AWS_DEFAULT_REGION.
    region: str = Field(validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"), min_length=1)
    role_arn: SageMakerRoleArn
    name_prefix: NamePrefix
    stack_name: str = Field(alias="STACK_NAME", min_length=1)
    default_instance_type: str = Field(alias="DEFAULT_TRAINING_INSTANCE_TYPE", min_length=1)
    # Stack parameter AllowCustomNetworkAccess; IAM requires isolation too while it is false.
    allow_custom_network_access: bool = Field(alias="ALLOW_CUSTOM_NETWORK_ACCESS")


class StartTrainingSettings(StageSettings):
    """start_training: the stage's settings and the training environment."""

    training: TrainingEnvironment

    @model_validator(mode="before")
    @classmethod
    def _nest_groups(cls, data: object) -> object:
        if isinstance(data, dict):
            return {"training": data, **data}
        return data
