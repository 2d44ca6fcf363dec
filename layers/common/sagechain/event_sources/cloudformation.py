"""CloudFormation custom resource requests and the responses their provider must send back.

Shapes from the CloudFormation user guide: the Create, Update and Delete requests
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-delete.html)
and the response object the provider PUTs to the request's pre-signed ResponseURL
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html): Status
SUCCESS or FAILED, Reason (required when FAILED), PhysicalResourceId (non-empty, the same in every
response for one resource), StackId, RequestId and LogicalResourceId copied verbatim from the
request; the whole body at most 4096 bytes.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The response body's limit (4096 bytes); a reason is cut well inside it.
REASON_MAX_CHARS = 2000


class CustomResourceRequest(BaseModel):
    """A request CloudFormation sends to a custom resource's provider (here, a Lambda function)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    request_id: str = Field(alias="RequestId", min_length=1)
    response_url: str = Field(alias="ResponseURL", pattern=r"^https://")
    resource_type: str = Field(alias="ResourceType")
    logical_resource_id: str = Field(alias="LogicalResourceId", min_length=1)
    stack_id: str = Field(alias="StackId", pattern=r"^arn:aws[a-z-]*:cloudformation:")
    # Absent on Create: the provider chooses it then.
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    resource_properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")


class CustomResourceResponse(BaseModel):
    """What the provider PUTs to the ResponseURL."""

    model_config = ConfigDict(defer_build=True, frozen=True, serialize_by_alias=True)

    status: Literal["SUCCESS", "FAILED"] = Field(alias="Status")
    reason: str | None = Field(default=None, alias="Reason")
    physical_resource_id: str = Field(alias="PhysicalResourceId", min_length=1)
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")

    def body(self) -> bytes:
        """The JSON body, without absent fields."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


def respond(
    request: CustomResourceRequest, physical_resource_id: str, reason: str | None = None, failed: bool = False
) -> CustomResourceResponse:
    """The response to request: its ids copied verbatim, the reason cut to fit the body's limit."""
    return CustomResourceResponse(
        Status="FAILED" if failed else "SUCCESS",
        Reason=None if reason is None else reason[:REASON_MAX_CHARS],
        PhysicalResourceId=physical_resource_id,
        StackId=request.stack_id,
        RequestId=request.request_id,
        LogicalResourceId=request.logical_resource_id,
    )
