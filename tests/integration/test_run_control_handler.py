"""run_control's handler on the events/run_control samples, against moto."""

import json
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from tests.aws import BUCKET, create_runs_table, load_handler, sample_event
from tests.integration.test_status_api_handler import CONFIG, MODEL, deploy_live_model, record
from tests.integration.test_track_run import CHAIN
from tests.unit.test_notify import ENDPOINT

pytestmark = pytest.mark.integration


@pytest.fixture
def api() -> Iterator[ModuleType]:
    with mock_aws():
        create_runs_table()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        record([sample_event("track_run", case) for case in CHAIN])
        deploy_live_model()
        yield load_handler("run_control")


def test_stopping_an_unknown_run_is_404_json(api: ModuleType) -> None:
    response = api.handler(sample_event("run_control", "stop_run_unknown"), FakeLambdaContext())

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "run_not_found"


def test_stopping_a_live_run_is_409_with_its_state(api: ModuleType) -> None:
    response = api.handler(sample_event("run_control", "stop_run"), FakeLambdaContext())

    assert response["statusCode"] == 409
    assert "is live at its live stage" in json.loads(response["body"])["error"]["message"]


def test_deleting_the_live_model_deletes_its_hosting_and_marks_model_json(api: ModuleType) -> None:
    response = api.handler(sample_event("run_control", "delete_model"), FakeLambdaContext())

    assert response["statusCode"] == 200
    answer = json.loads(response["body"])
    assert (answer["deleted_endpoint_configs"], answer["deleted_models"]) == ([CONFIG], [MODEL])
    assert answer["deregistered_variants"] == ["AllTraffic"]
    assert boto3.client("sagemaker").list_endpoints()["Endpoints"] == []
    marked = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key=f"models/{ENDPOINT}/model.json")["Body"].read()
    )
    assert marked["deleted_at"] is not None
    again = api.handler(sample_event("run_control", "delete_model"), FakeLambdaContext())
    assert again["statusCode"] == 409
