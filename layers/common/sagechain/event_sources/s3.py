"""S3's Object Created events, in both delivery forms: the one place that knows their shapes.

Key encoding differs by trigger. EventBridge `aws.s3` events carry the object key as S3
stores it ("Amazon S3 events delivered to EventBridge",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). Classic S3
notifications (S3 -> Lambda/SQS/SNS) URL-encode it form-style, a space arriving as '+'
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
Only the classic form is decoded, so a key holding '+' or '%' survives an EventBridge
delivery untouched.

Powertools' parser models are not used here: importing one imports all of them (about
100 ms of every cold start, measured), S3EventNotificationEventBridgeDetailModel requires
fields no stage reads (version, request-id, requester), and its object model reads only
`etag`, dropping the `eTag` that moto sends.
"""

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from sagechain.event_sources.drops import drop, fits, invalid, truncated

# S3's own limits: keys at most 1,024 bytes in UTF-8, bucket names at most 63 characters
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html,
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
KEY_MAX_BYTES = 1024
BUCKET_MAX_CHARS = 63
# A requester or source IP address is kept for the run's facts; longer is not S3's.
_WHO_MAX_CHARS = 256


class ObjectRef(BaseModel):
    """One created S3 object: the key exactly as S3 stores it, and its version or ETag."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    # Who wrote it, as S3 reports it: the requester (account id or principal) and source IP.
    uploaded_by: str | None = None
    uploaded_from: str | None = None

    @property
    def version(self) -> str | None:
        """What tells two uploads of one key apart: the version id, else the ETag."""
        return self.version_id or self.etag

    @property
    def uri(self) -> str:
        """s3://bucket/key with the key as stored."""
        return f"s3://{self.bucket}/{self.key}"


class _EventBridgeS3Object(BaseModel):
    key: str
    size: int | None = None
    # AWS documents `etag`; accept `eTag` too (classic notifications' spelling, and moto's).
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag"))
    version_id: str | None = Field(default=None, alias="version-id")


class _EventBridgeS3Detail(BaseModel):
    bucket: dict[str, Any]
    object: _EventBridgeS3Object
    requester: str | None = None
    source_ip_address: str | None = Field(default=None, alias="source-ip-address")


class _EventBridgeS3Event(BaseModel):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: _EventBridgeS3Detail


class _ClassicS3Object(BaseModel):
    key: str
    size: int | None = None
    e_tag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")


class _ClassicS3Entity(BaseModel):
    bucket: dict[str, Any]
    object: _ClassicS3Object


class _ClassicUserIdentity(BaseModel):
    principal_id: str | None = Field(default=None, alias="principalId")


class _ClassicRequestParameters(BaseModel):
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")


class _ClassicS3Record(BaseModel):
    event_name: str = Field(alias="eventName")
    s3: _ClassicS3Entity
    user_identity: _ClassicUserIdentity | None = Field(default=None, alias="userIdentity")
    request_parameters: _ClassicRequestParameters | None = Field(default=None, alias="requestParameters")


def _out_of_bounds(ref: ObjectRef) -> str | None:
    if not ref.bucket or not fits(ref.bucket, BUCKET_MAX_CHARS):
        return f"the bucket name is not an S3 bucket name (over {BUCKET_MAX_CHARS} characters)"
    if not ref.key or not fits(ref.key, KEY_MAX_BYTES):
        return f"the object key is empty, not valid Unicode or over {KEY_MAX_BYTES} bytes"
    for value in (ref.version_id, ref.etag):
        if value is not None and not fits(value, KEY_MAX_BYTES):
            return "the version id or ETag is not one S3 sends"
    return None


def _bounded(event: object, ref: ObjectRef) -> ObjectRef | None:
    problem = _out_of_bounds(ref)
    if problem:
        drop(event, problem)
        return None
    return ref.model_copy(
        update={
            "uploaded_by": truncated(ref.uploaded_by, _WHO_MAX_CHARS) if ref.uploaded_by else None,
            "uploaded_from": truncated(ref.uploaded_from, _WHO_MAX_CHARS) if ref.uploaded_from else None,
        }
    )


def _eventbridge_object(event: Mapping[str, Any]) -> list[ObjectRef]:
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        drop(event, "not an S3 Object Created event")
        return []
    try:
        parsed = _EventBridgeS3Event.model_validate(event)
    except ValidationError as err:
        drop(event, f"not an S3 Object Created event: {invalid(err)}")
        return []
    obj, bucket = parsed.detail.object, parsed.detail.bucket.get("name")
    if not isinstance(bucket, str):
        drop(event, "the detail names no bucket")
        return []
    ref = _bounded(
        event,
        ObjectRef(
            bucket=bucket,
            key=obj.key,
            version_id=obj.version_id,
            etag=obj.etag,
            size=obj.size,
            uploaded_by=parsed.detail.requester,
            uploaded_from=parsed.detail.source_ip_address,
        ),
    )
    return [ref] if ref else []


def _classic_object(event: Mapping[str, Any], raw: object) -> ObjectRef | None:
    try:
        record = _ClassicS3Record.model_validate(raw)
    except ValidationError as err:
        drop(event, f"a record is not an S3 notification record: {invalid(err)}")
        return None
    if not record.event_name.startswith("ObjectCreated:"):
        return None
    classic, bucket = record.s3.object, record.s3.bucket.get("name")
    if not isinstance(bucket, str):
        drop(event, "a record names no bucket")
        return None
    return _bounded(
        event,
        ObjectRef(
            bucket=bucket,
            key=unquote_plus(classic.key),
            version_id=classic.version_id,
            etag=classic.e_tag,
            size=classic.size,
            uploaded_by=record.user_identity.principal_id if record.user_identity else None,
            uploaded_from=(
                record.request_parameters.source_ip_address if record.request_parameters else None
            ),
        ),
    )


def objects_created(event: object) -> list[ObjectRef]:
    """The objects an Object Created event is about, from either delivery form; [] for an event
    of another kind or a malformed one, which is dropped (logged and counted), never raised on."""
    if not isinstance(event, Mapping):
        drop(event, "the event is not a JSON object")
        return []
    if "detail-type" in event:
        return _eventbridge_object(event)
    records = event.get("Records")
    if not isinstance(records, list):
        drop(event, "neither an EventBridge event nor an S3 notification (no Records)")
        return []
    return [ref for raw in records if (ref := _classic_object(event, raw)) is not None]
