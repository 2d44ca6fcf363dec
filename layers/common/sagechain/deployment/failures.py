"""A refused AWS request becomes a Deployment Failed that says, first, what went wrong."""

from sagechain.console import console_url
from sagechain.errors import RequestRefusedError
from sagechain.events import DeploymentFailed


def refused_deployment(
    run_id: str, dataset: str, endpoint_name: str, region: str, err: RequestRefusedError
) -> DeploymentFailed:
    """Deployment Failed for a request AWS refused: code, message, meaning and fix (aws_errors)."""
    explained = err.explain(region=region)
    return DeploymentFailed(
        run_id=run_id,
        dataset=dataset,
        endpoint_name=endpoint_name,
        reason=f"{explained.cause}. {explained.meaning} {explained.fix}",
        console_url=console_url(region, "endpoints", endpoint_name),
        aws_error=explained,
    )
