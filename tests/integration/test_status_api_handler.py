"""status_api's handler on API Gateway proxy events, against moto: runs table, S3, SageMaker, autoscaling."""

import json
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from local.lambda_context import FakeLambdaContext
from moto import mock_aws

from sagechain.adapters.runs_table import DynamoRunStore
from sagechain.observers.track_run import track_run
from tests.aws import BUCKET, RUNS_TABLE, create_runs_table, create_topic, load_handler, sample_event
from tests.fakes import FakeSageMaker, MemoryStore
from tests.integration.test_track_run import CHAIN, sagemaker
from tests.runs import STACK_ID, STACK_NAME
from tests.unit.test_notify import ENDPOINT, RUN, run_json

pytestmark = pytest.mark.integration
MODEL = "sagechain-flowers-8b39944c64ac-model"
CONFIG = "sagechain-flowers-8b39944c64ac-config"
OTHER_RUNS = [
    ("garden-d54a8e7725f7", "garden", "2026-03-03T09:00:00Z"),
    ("typo-540bcf5061df", "typo", "2026-03-04T08:00:00Z"),
]


def record(events: list[dict[str, Any]], lookup: FakeSageMaker | None = None) -> None:
    store = MemoryStore(BUCKET, {f"runs/{RUN}/run.json": run_json()})
    for event in events:
        track_run(
            event, lookup or sagemaker(), store, DynamoRunStore(RUNS_TABLE), "sagechain", STACK_NAME, STACK_ID
        )


def other_run(run_id: str, dataset: str, time: str) -> dict[str, Any]:
    event = sample_event("notify", "dataset_rejected")
    event["detail"].update(run_id=run_id, dataset=dataset)
    event["detail"]["reason"] = (
        "labeling.workteam_arn arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gone "
        "does not exist"
    )
    return {**event, "time": time}


def deploy_live_model() -> None:
    """What deploy_model and configure_autoscaling leave: model.json, the endpoint, its scaling range."""
    sm = boto3.client("sagemaker")
    sm.create_model(
        ModelName=MODEL,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagechain-sagemaker",
        PrimaryContainer={"Image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=CONFIG,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": MODEL,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIG)
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    info = {
        "model": ENDPOINT,
        "endpoint_name": ENDPOINT,
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "ground-truth"},
        "algorithm": "builtin",
        "model_name": MODEL,
        "training_job_name": "sagechain-flowers-8b39944c64ac-train-1",
        "run_id": RUN,
        "dataset": "flowers",
        "metric": {"name": "validation:accuracy", "value": 0.93},
        "deployed_at": "2026-03-02T11:38:10Z",
        "hourly_cost": {
            "prices_as_of": "2026-12-01",
            "region": "us-east-1",
            "instance_type": "ml.m5.large",
            "usd_per_instance_hour": "0.115",
            "min_instances": 1,
            "max_instances": 4,
            "min_usd_per_hour": "0.12",
            "max_usd_per_hour": "0.46",
        },
    }
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=f"models/{ENDPOINT}/model.json", Body=json.dumps(info).encode()
    )


@pytest.fixture
def api() -> Iterator[ModuleType]:
    with mock_aws():
        create_runs_table()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("sns").subscribe(TopicArn=create_topic(), Protocol="email", Endpoint="ml@example.com")
        record([sample_event("track_run", case) for case in CHAIN])
        record([other_run(*run) for run in OTHER_RUNS])
        yield load_handler("status_api")


def call(handler: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler.handler(event, FakeLambdaContext())
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


def test_runs_are_listed_newest_first_a_page_at_a_time(api: ModuleType) -> None:
    status, first = call(api, sample_event("status_api", "list_runs"))

    assert status == 200
    assert [run["run_id"] for run in first["runs"]] == ["typo-540bcf5061df", "garden-d54a8e7725f7"]
    assert first["runs"][0]["status"] == "rejected"
    event = sample_event("status_api", "list_runs")
    event["queryStringParameters"]["next_token"] = first["next_token"]
    event["multiValueQueryStringParameters"]["next_token"] = [first["next_token"]]

    status, second = call(api, event)

    assert status == 200
    assert [run["run_id"] for run in second["runs"]] == [RUN]
    assert second["runs"][0] | {"summary": None} == {
        "run_id": RUN,
        "dataset": "flowers",
        "stage": "live",
        "status": "live",
        "summary": None,
        "created_at": "2026-03-02T10:00:00Z",
        "updated_at": "2026-03-02T11:38:10Z",
        "last_error": None,
        "endpoint_name": ENDPOINT,
        "email_warning": None,
    }
    assert second.get("next_token") is None


def test_a_run_comes_with_its_jobs_and_its_history_oldest_first(api: ModuleType) -> None:
    status, run = call(api, sample_event("status_api", "get_run"))

    assert status == 200
    assert (run["run_id"], run["stage"], run["status"], run["objects"]) == (RUN, "live", "live", 8)
    assert run["predict_url"].endswith(f"/v1/models/{ENDPOINT}/predict")
    assert run["autoscaling"] == {"min_instances": 1, "max_instances": 4}
    assert [entry["event"] for entry in run["history"]][:3] == [
        "Dataset Prepared",
        "Labeling Started",
        "Labeling job InProgress",
    ]
    assert run["history"][-1]["summary"].startswith("Model live: ")
    assert [job["kind"] for job in run["jobs"]] == ["labeling-job", "training-job", "endpoint"]


def test_texts_from_sagemaker_are_answered_without_arns_or_account_ids(api: ModuleType) -> None:
    event = sample_event("status_api", "get_run")
    event["pathParameters"] = {"run_id": "garden-d54a8e7725f7"}
    event["path"] = "/runs/garden-d54a8e7725f7"

    status, run = call(api, event)

    assert status == 200
    assert run["last_error"] == "labeling.workteam_arn <arn> does not exist"
    assert not re.search(r"arn:aws|\d{12}", json.dumps(run))


@pytest.mark.parametrize(
    ("case", "code"), [("get_run_unknown", "run_not_found"), ("get_model_unknown", "model_not_found")]
)
def test_unknown_ids_answer_404_with_a_json_error(api: ModuleType, case: str, code: str) -> None:
    status, body = call(api, sample_event("status_api", case))

    assert status == 404
    assert body["error"]["code"] == code
    assert "nosuch" in body["error"]["message"]


def test_an_unknown_route_answers_404_with_the_same_error_shape(api: ModuleType) -> None:
    event = {**sample_event("status_api", "list_runs"), "path": "/jobs", "resource": "/jobs"}

    status, body = call(api, event)

    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("case", "says"), [("list_runs_bad_token", "next_token"), ("list_runs_bad_limit", "limit")]
)
def test_bad_parameters_answer_400_naming_the_parameter(api: ModuleType, case: str, says: str) -> None:
    status, body = call(api, sample_event("status_api", case))

    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert says in body["error"]["message"]


def test_a_live_model_shows_its_endpoint_instances_autoscaling_range_and_metric(api: ModuleType) -> None:
    deploy_live_model()

    status, body = call(api, sample_event("status_api", "get_model"))

    assert status == 200
    assert body["model"] == ENDPOINT
    endpoint = body["endpoint"]
    assert (endpoint["name"], endpoint["status"], endpoint["instance_count"]) == (ENDPOINT, "InService", 1)
    assert endpoint["autoscaling"] == {"min_instances": 1, "max_instances": 4}
    current = body["current_model"]
    assert (current["model_name"], current["run_id"], current["dataset"]) == (MODEL, RUN, "flowers")
    assert current["metric"] == {"name": "validation:accuracy", "value": 0.93}
    # And what it bills per hour, and how to delete it
    assert (body["hourly_cost"]["min_usd_per_hour"], body["hourly_cost"]["max_usd_per_hour"]) == (
        "0.12",
        "0.46",
    )
    assert body["delete_commands"] == [
        f"aws sagemaker delete-endpoint --endpoint-name {ENDPOINT}",
        f"aws sagemaker delete-endpoint-config --endpoint-config-name {CONFIG}",
        f"aws sagemaker delete-model --model-name {MODEL}",
    ]


def test_an_endpoint_of_ours_not_yet_live_shows_its_status_without_a_model(api: ModuleType) -> None:
    deploy_live_model()
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=f"models/{ENDPOINT}/model.json")

    status, body = call(api, sample_event("status_api", "get_model"))

    assert status == 200
    assert body["endpoint"]["status"] == "InService"
    assert body.get("current_model") is None


def test_a_failure_inside_answers_500_without_a_stack_trace(api: ModuleType) -> None:
    boto3.client("dynamodb").delete_table(TableName=RUNS_TABLE)

    status, body = call(api, sample_event("status_api", "get_run"))

    assert status == 500
    assert body == {
        "error": {"code": "internal_error", "message": "Something failed on our side; retry in a moment."}
    }


def test_the_resolver_describes_its_routes_and_errors_in_openapi(api: ModuleType) -> None:
    schema = json.loads(api.app.get_openapi_json_schema(title="sagechain status"))

    assert set(schema["paths"]) == {
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/artifacts",
        "/models/{model}",
        "/models/{model}/batches",
        "/models/{model}/batches/{name}",
    }
    not_found = schema["paths"]["/runs/{run_id}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert {"RunPage", "RunDetail", "ModelStatus", "BatchList", "BatchView"} <= set(
        schema["components"]["schemas"]
    )


def test_while_nobody_has_confirmed_the_email_every_run_answered_says_so() -> None:
    with mock_aws():
        create_runs_table()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        create_topic()  # NotificationEmail never clicked the confirmation link: no subscription counts
        record([sample_event("track_run", case) for case in CHAIN])
        handler = load_handler("status_api")

        _, page = call(handler, sample_event("status_api", "list_runs"))
        _, run = call(handler, sample_event("status_api", "get_run"))

    assert "no email is delivered" in page["runs"][0]["email_warning"]
    assert "Confirm subscription" in run["email_warning"]


def test_a_status_request_of_another_shape_gets_a_json_400(api: ModuleType) -> None:
    event = sample_event("predict", "http_api_v2")
    event["routeKey"] = "GET /runs"
    event["rawPath"] = "/v1/runs"

    status, body = call(api, event)

    assert (status, body["error"]["code"]) == (400, "unsupported_event")
    assert "payload format 1.0" in body["error"]["message"]
