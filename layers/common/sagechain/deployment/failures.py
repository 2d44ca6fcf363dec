"""A refused AWS request becomes a Deployment Failed that says, first, what went wrong."""

from sagechain.aws_errors import explain
from sagechain.console import console_url
from sagechain.errors import RequestRefusedError
from sagechain.events import AwsError, DeploymentFailed


def refused_deployment(
    run_id: str, dataset: str, endpoint_name: str, region: str, err: RequestRefusedError
) -> DeploymentFailed:
    """Deployment Failed for a request AWS refused: code, message, meaning and fix."""
    explained = explain(err.service, err.operation, err.code, err.message, region)
    meaning = explained.meaning[:1].upper() + explained.meaning[1:]
    return DeploymentFailed(
        run_id=run_id,
        dataset=dataset,
        endpoint_name=endpoint_name,
        reason=f"{meaning} ({err.operation}: {err.code}) {explained.fix}",
        console_url=console_url(region, "endpoints", endpoint_name),
        aws_error=AwsError(
            service=err.service,
            operation=err.operation,
            code=err.code,
            message=err.message,
            meaning=explained.meaning,
            fix=explained.fix,
            quota_name=explained.quota_name,
            quota_url=explained.quota_url,
        ),
    )
