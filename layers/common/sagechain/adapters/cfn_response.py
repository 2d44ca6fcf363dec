"""The custom resource response, PUT to CloudFormation's pre-signed S3 URL.

The URL is signed without a content type, so the request carries an empty one, as AWS's own
cfn-response module does (CloudFormation user guide, "cfn-response module").
"""

import urllib.request

from sagechain.event_sources.cloudformation import CustomResourceResponse

# Well inside the function's timeout, so a slow S3 still leaves time to log the failure.
TIMEOUT_SECONDS = 30


def send_response(response_url: str, response: CustomResourceResponse) -> int:
    """PUT the response body to the ResponseURL; the HTTP status S3 answered."""
    body = response.body()
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's https:// pre-signed URL
        response_url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
        return int(answer.status)
