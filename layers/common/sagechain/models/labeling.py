"""Stage 2's models: which run's labeling an event asks for, and the labeling job to create."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class LabelingRequest(BaseModel):
    """A run whose Ground Truth input manifest was written: label it with one job."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    job_name: str
    bucket: str
    manifest_key: str


class LabelingJobPlan(BaseModel):
    """Everything CreateLabelingJob is sent, in sagechain's terms (the adapter spells it out)."""

    model_config = ConfigDict(frozen=True)

    job_name: str
    label_attribute: str
    manifest_uri: str
    output_uri: str
    role_arn: str
    label_categories_uri: str
    ui_template_uri: str
    workteam_arn: str
    pre_human_task_lambda_arn: str
    annotation_consolidation_lambda_arn: str
    title: str
    description: str
    keywords: tuple[str, ...]
    workers_per_object: int
    task_time_limit_seconds: int
    task_availability_lifetime_seconds: int
    max_concurrent_tasks: int | None = None
    # Public workforce only: what each Mechanical Turk worker is paid per task, in USD.
    public_task_price_usd: Decimal | None = None
    # Automated data labeling: the region's algorithm, or None for humans only.
    auto_labeling_algorithm_arn: str | None = None
    tags: dict[str, str]
