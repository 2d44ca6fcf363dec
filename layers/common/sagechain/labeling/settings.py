"""start_labeling's settings."""

from sagechain.settings import SageMakerRoleArn, StageSettings


class StartLabelingSettings(StageSettings):
    """start_labeling: and the role Ground Truth runs as."""

    sagemaker_role_arn: SageMakerRoleArn


class CollectLabelsSettings(StageSettings):
    """collect_labels: the data bucket, the idempotency table and the bus (nothing of SageMaker's)."""
