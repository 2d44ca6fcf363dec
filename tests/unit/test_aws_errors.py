"""AWS error codes explained: a quota names itself and its console; only transient codes retry."""

from sagechain.aws_errors import explain, is_retryable


def test_a_sagemaker_quota_names_the_quota_and_links_service_quotas() -> None:
    message = (
        "The account-level service limit 'ml.g5.xlarge for endpoint usage' is 0 Instances, with current "
        "utilization of 0 Instances and a request delta of 1 Instances."
    )

    explained = explain("sagemaker", "CreateEndpoint", "ResourceLimitExceeded", message, "eu-west-1")

    assert explained.quota_name == "ml.g5.xlarge for endpoint usage"
    assert explained.quota_url is not None
    assert explained.quota_url.startswith("https://eu-west-1.console.aws.amazon.com/servicequotas/")
    assert "is 0 instances" in explained.meaning


def test_throttling_and_server_errors_are_retried_refusals_are_not() -> None:
    assert is_retryable("ThrottlingException")
    assert is_retryable("SomethingNew", 503)
    assert not is_retryable("ValidationException", 400)
    assert not is_retryable("ResourceLimitExceeded", 400)
