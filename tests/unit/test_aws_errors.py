"""The one table of AWS errors: what each code means, what to do, and whether a retry can help."""

import pytest

from sagechain.aws_errors import ErrorKind, explain_aws_error, is_retryable, quota_named_in

QUOTA = (
    "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances, with current "
    "utilization of 0 Instances and a request delta of 1 Instances."
)


def test_a_quota_names_the_quota_the_console_and_the_instance_setting() -> None:
    error = explain_aws_error(
        "sagemaker", "CreateTrainingJob", "ResourceLimitExceeded", QUOTA, region="eu-west-1"
    )

    assert error.kind is ErrorKind.QUOTA
    assert error.retryable is False
    assert error.quota_name == "ml.p3.2xlarge for training job usage"
    assert error.quota_console_url == (
        "https://eu-west-1.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas"
    )
    assert error.cause == (
        "the AWS account's sagemaker quota 'ml.p3.2xlarge for training job usage' does not allow it "
        "(ResourceLimitExceeded)"
    )
    assert "Service Quotas console (https://eu-west-1.console.aws.amazon.com/" in error.fix
    assert "training.instance_type" in error.fix


def test_a_quota_message_without_a_name_falls_back_to_the_instance_types_quota() -> None:
    endpoint = explain_aws_error(
        "sagemaker", "CreateEndpoint", "ResourceLimitExceeded", "limit", instance_type="ml.m5.large"
    )

    assert endpoint.quota_name == "ml.m5.large for endpoint usage"
    assert "deployment.instance_type" in endpoint.fix
    assert endpoint.quota_console_url == (
        "https://console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas"
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ValidationException", ErrorKind.VALIDATION),
        ("AccessDeniedException", ErrorKind.ACCESS_DENIED),
        ("ResourceNotFound", ErrorKind.NOT_FOUND),
        ("ResourceInUse", ErrorKind.IN_USE),
        ("CapacityError", ErrorKind.CAPACITY),
        ("SomethingNew", ErrorKind.OTHER),
    ],
)
def test_refusals_a_retry_cannot_fix_are_explained_and_not_retried(code: str, kind: ErrorKind) -> None:
    error = explain_aws_error("sagemaker", "CreateLabelingJob", code, "message")

    assert (error.kind, error.retryable) == (kind, False)
    assert error.cause.endswith(f"({code})")
    assert error.meaning
    assert error.fix
    assert error.quota_name is None


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 400, ErrorKind.THROTTLED),
        ("RequestLimitExceeded", 400, ErrorKind.THROTTLED),
        ("InternalFailure", 500, ErrorKind.SERVER),
        ("ServiceUnavailable", 503, ErrorKind.SERVER),
        ("AnythingElse", 502, ErrorKind.SERVER),
    ],
)
def test_throttling_and_server_errors_are_retryable(code: str, status: int, kind: ErrorKind) -> None:
    assert is_retryable(code, status)
    assert explain_aws_error("sagemaker", "CreateTrainingJob", code, "m", http_status=status).kind is kind


def test_a_quota_is_not_retryable_even_though_it_says_limit() -> None:
    assert not is_retryable("ResourceLimitExceeded", 400)


def test_the_quota_is_read_from_awss_message() -> None:
    assert quota_named_in(QUOTA) == "ml.p3.2xlarge for training job usage"
    assert quota_named_in("no quota here") is None


def test_an_endpoint_quota_in_another_region_names_the_quota_and_that_regions_console() -> None:
    message = (
        "The account-level service limit 'ml.g5.xlarge for endpoint usage' is 0 Instances, with current "
        "utilization of 0 Instances and a request delta of 1 Instances."
    )

    explained = explain_aws_error(
        "sagemaker", "CreateEndpoint", "ResourceLimitExceeded", message, region="eu-west-1"
    )

    assert explained.quota_name == "ml.g5.xlarge for endpoint usage"
    assert explained.quota_console_url is not None
    assert explained.quota_console_url.startswith("https://eu-west-1.console.aws.amazon.com/servicequotas/")
    assert not explained.retryable
