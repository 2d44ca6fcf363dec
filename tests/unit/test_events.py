"""Object Created events: keys exactly as S3 stores them, from each trigger's real encoding."""

import pytest

from sagechain.event_sources.s3 import objects_created
from tests.aws import sample_event


def test_eventbridge_keys_are_taken_as_delivered_even_with_plus_and_percent() -> None:
    [ref] = objects_created(sample_event("prepare_dataset", "special_characters_key"))

    assert ref.key == "datasets/café photos+more 100%/dataset.json"
    assert ref.version_id == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


def test_classic_notification_keys_are_url_decoded_with_plus_as_space() -> None:
    [ref] = objects_created(sample_event("prepare_dataset", "classic_notification_special_characters_key"))

    assert ref.key == "datasets/café photos+more 100%/dataset.json"


def test_classic_records_other_than_object_created_are_ignored() -> None:
    event = sample_event("prepare_dataset", "classic_notification_special_characters_key")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"

    assert objects_created(event) == []


def test_an_event_of_another_kind_is_dropped_not_raised_on(caplog: pytest.LogCaptureFixture) -> None:
    event = sample_event("prepare_dataset", "folder_dataset")
    event["detail-type"] = "Object Deleted"

    assert objects_created(event) == []
    [dropped] = [record for record in caplog.records if record.getMessage() == "event dropped"]
    assert dropped.reason == "not an S3 Object Created event"


def test_the_uploader_is_taken_from_the_eventbridge_requester_and_source_ip() -> None:
    [ref] = objects_created(sample_event("prepare_dataset", "folder_dataset"))

    assert (ref.uploaded_by, ref.uploaded_from) == ("123456789012", "1.2.3.4")


def test_the_uploader_is_taken_from_the_classic_user_identity_and_request_parameters() -> None:
    [ref] = objects_created(sample_event("prepare_dataset", "classic_notification_special_characters_key"))

    assert (ref.uploaded_by, ref.uploaded_from) == ("AWS:EXAMPLE", "1.2.3.4")


def test_an_event_without_requester_or_source_ip_has_no_uploader() -> None:
    event = sample_event("prepare_dataset", "folder_dataset")
    del event["detail"]["requester"], event["detail"]["source-ip-address"]

    [ref] = objects_created(event)

    assert (ref.uploaded_by, ref.uploaded_from) == (None, None)
