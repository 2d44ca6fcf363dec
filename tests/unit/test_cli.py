"""The `sagechain` CLI, command by command, on moto's S3 and a scripted API (Click's CliRunner).

The whole chain through the CLI is tests/e2e/test_cli_sandbox.py; these cover the rest: what a
dataset the stack would reject looks like before upload, resuming, stack discovery and its
errors, signing, exit codes, and following a run.
"""

import ast
import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber
from click.testing import CliRunner
from local.sample_data import flower_images, png
from local.stack import DEMO_PARAMETERS, PHYSICAL
from local.template import Template, parsed_template
from moto import mock_aws
from PIL import Image

from sagechain import names
from sagechain_cli import errors
from sagechain_cli.api import ApiClient
from sagechain_cli.dataset import check_dataset
from sagechain_cli.draw import draw_predictions
from sagechain_cli.main import cli
from sagechain_cli.stack import PARAMETER_ENVIRONMENT, from_cloudformation
from sagechain_cli.upload import upload_dataset
from tests.aws import ROOT

BUCKET = "sagechain-cli-test"
API = "http://127.0.0.1:9/v1"
COMMANDS = ("init", "upload", "runs", "status", "artifacts", "predict", "stop", "retry", "delete", "rollback")


@functools.cache
def _parameters() -> dict[str, str]:
    return dict(Template(PHYSICAL, DEMO_PARAMETERS).parameters)


def _stack_document(api_url: str = API) -> dict[str, Any]:
    """The stack as DescribeStacks answers it, the template's default parameters."""
    parameters = _parameters()
    outputs = {"DataBucketName": BUCKET, "ApiUrl": api_url, "OperatorApiUrl": api_url}
    return {
        "StackName": "sagechain",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/sagechain/1",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
    }


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(_stack_document()))
    return path


@pytest.fixture
def bucket() -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3


class ScriptedApi:
    """API Gateway answering from a script: (status, body) per request, the requests kept."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[Any] = []

    def send(self, request: Any) -> SimpleNamespace:
        self.requests.append(request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return SimpleNamespace(
            status_code=status,
            headers={"Content-Type": "application/json"},
            content=json.dumps(body).encode(),
        )


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ScriptedApi:
    scripted = ScriptedApi((200, {}))
    monkeypatch.setattr("sagechain_cli.api.URLLib3Session", lambda **_: scripted)
    monkeypatch.setattr("sagechain_cli.main.time.sleep", lambda _: None)
    return scripted


def _flowers(folder: Path, spec: dict[str, Any] | None = None) -> Path:
    for name, data in flower_images().items():
        (folder / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "images" / name).write_bytes(data)
    spec = spec or {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
    }
    (folder / "dataset.json").write_text(json.dumps(spec))
    return folder


def _keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_help_lists_every_command() -> None:
    answer = CliRunner().invoke(cli, ["--help"])

    assert answer.exit_code == 0
    listed = answer.output.split("Commands:", 1)[1].split()
    assert set(COMMANDS) <= set(listed)


def test_init_writes_a_spec_from_prompts_and_refuses_one_the_stack_would_reject(tmp_path: Path) -> None:
    runner = CliRunner(mix_stderr=False)

    prompted = runner.invoke(
        cli, ["init", str(tmp_path / "a")], input="object-detection\napple, pear\nprovided\n"
    )
    refused = runner.invoke(
        cli,
        [
            *("init", str(tmp_path / "b"), "--task", "image-classification", "--labels", "x,y"),
            *("--labeling", "ground-truth", "--labels-file", "coco.json"),
        ],
    )
    again = runner.invoke(cli, ["init", str(tmp_path / "a"), "--labels", "a", "--task", "object-detection"])

    assert prompted.exit_code == 0, prompted.stderr
    written = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert written == {
        "task": "object-detection",
        "labels": ["apple", "pear"],
        "labeling": {"mode": "provided"},
    }
    assert (tmp_path / "a" / "images").is_dir()
    assert refused.exit_code == errors.INVALID_DATASET
    assert "labels_file is read only with mode 'provided'" in refused.stderr
    assert not (tmp_path / "b" / "dataset.json").exists()
    assert again.exit_code == errors.USAGE
    assert "--force" in again.stderr


def test_upload_refuses_a_spec_beyond_the_stacks_guardrails_and_uploads_nothing(
    tmp_path: Path, stack_file: Path, bucket: Any
) -> None:
    spec = {
        "task": "image-classification",
        "labels": ["rose", "tulip"],
        "labeling": {"mode": "provided"},
        "training": {"instance_type": "ml.p4d.24xlarge"},
    }
    folder = _flowers(tmp_path / "flowers", spec)

    answer = CliRunner(mix_stderr=False).invoke(
        cli, ["--local", "--sandbox-file", str(stack_file), "upload", str(folder)]
    )

    assert answer.exit_code == errors.INVALID_DATASET
    assert "ml.p4d.24xlarge" in answer.stderr
    assert "AllowedTrainingInstanceTypes" in answer.stderr
    assert _keys(bucket) == []


def test_upload_refuses_a_folder_that_is_not_a_label_and_a_file_that_is_not_an_image(
    tmp_path: Path, stack_file: Path, bucket: Any
) -> None:
    folder = _flowers(tmp_path / "flowers")
    (folder / "images" / "daisy").mkdir()
    (folder / "images" / "daisy" / "0.png").write_bytes(png(4, 4, (1, 1, 1)))
    (folder / "images" / "rose" / "fake.jpg").write_bytes(b"<html>not a photo</html>")

    answer = CliRunner(mix_stderr=False).invoke(
        cli, ["--local", "--sandbox-file", str(stack_file), "upload", str(folder)]
    )

    assert answer.exit_code == errors.INVALID_DATASET
    assert "'daisy' is not one of labels" in answer.stderr
    assert "images/rose/fake.jpg is named like an image but is not a JPEG or PNG" in answer.stderr
    assert _keys(bucket) == []


def test_an_interrupted_upload_resumes_sending_only_what_is_missing_or_changed_and_prints_the_run(
    tmp_path: Path, stack_file: Path, bucket: Any
) -> None:
    # Given two images already uploaded as `aws s3 cp` leaves them, and a third that changed since
    folder = _flowers(tmp_path / "flowers")
    for name in ("rose/0.png", "rose/1.png"):
        bucket.put_object(
            Bucket=BUCKET, Key=f"datasets/flowers/images/{name}", Body=(folder / "images" / name).read_bytes()
        )
    stale = (folder / "images" / "rose" / "2.png").read_bytes()
    bucket.put_object(Bucket=BUCKET, Key="datasets/flowers/images/rose/2.png", Body=bytes(reversed(stale)))

    # When the upload runs again
    answer = CliRunner(mix_stderr=False).invoke(
        cli, ["--local", "--sandbox-file", str(stack_file), "upload", str(folder)]
    )

    # Then it sends the 6 missing or changed images and dataset.json, and names the run it started
    assert answer.exit_code == 0, answer.stderr
    assert "uploaded 7 files" in answer.stderr
    assert "2 already there" in answer.stderr
    assert "9/9 files" in answer.stderr
    changed = bucket.get_object(Bucket=BUCKET, Key="datasets/flowers/images/rose/2.png")["Body"].read()
    assert changed == stale
    version = bucket.head_object(Bucket=BUCKET, Key="datasets/flowers/dataset.json")["VersionId"]
    run = names.run_id("flowers", BUCKET, "datasets/flowers/dataset.json", version)
    assert f"run {run} started" in answer.output


def test_dataset_json_is_uploaded_after_every_image(tmp_path: Path, bucket: Any) -> None:
    plan = check_dataset(_flowers(tmp_path / "flowers"), "flowers", None)
    order: list[str] = []

    upload_dataset(bucket, BUCKET, plan, 4, lambda file, _: order.append(file.key))

    assert order[-1] == "datasets/flowers/dataset.json"
    assert sorted(order[:-1]) == sorted(f.key for f in plan.files)
    assert plan.notes == ["the stack's guardrails could not be read: the stack checks them on upload"]


def test_the_cli_reads_every_spec_parameter_prepare_dataset_reads() -> None:
    # The guardrails the CLI checks before upload are the ones prepare_dataset checks after it.
    template = parsed_template()
    variables = template["Resources"]["PrepareDatasetFunction"]["Properties"]["Environment"]["Variables"]
    from_parameters = {}
    for name, value in variables.items():
        ref = value.get("Ref") if isinstance(value, dict) else None
        if isinstance(value, dict) and "Fn::Join" in value:
            ref = value["Fn::Join"][1].get("Ref")
        if ref in template["Parameters"]:
            from_parameters[name] = ref

    assert from_parameters == PARAMETER_ENVIRONMENT


class _Session:
    """A boto3 session whose CloudFormation client is stubbed."""

    region_name = "eu-west-1"

    def __init__(self) -> None:
        self.cloudformation = boto3.client(
            "cloudformation", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        self.stubber = Stubber(self.cloudformation)

    def client(self, _service: str) -> Any:
        return self.cloudformation


def test_the_stack_is_found_by_its_outputs_and_a_missing_stack_says_how_to_name_it() -> None:
    found, missing, not_ours = _Session(), _Session(), _Session()
    created = {"CreationTime": datetime(2026, 3, 2, tzinfo=UTC)}
    found.stubber.add_response(
        "describe_stacks", {"Stacks": [{**_stack_document("https://a1.example/v1/"), **created}]}
    )
    missing.stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id nope does not exist", 400
    )
    bare = {**_stack_document(), **created, "Outputs": [], "StackStatus": "CREATE_IN_PROGRESS"}
    not_ours.stubber.add_response("describe_stacks", {"Stacks": [bare]})

    with found.stubber, missing.stubber, not_ours.stubber:
        target = from_cloudformation(found, "sagechain")  # type: ignore[arg-type]
        with pytest.raises(errors.CliError) as unknown:
            from_cloudformation(missing, "nope")  # type: ignore[arg-type]
        with pytest.raises(errors.CliError) as unfinished:
            from_cloudformation(not_ours, "sagechain")  # type: ignore[arg-type]

    assert (target.bucket, target.api_url, target.region, target.account_id) == (
        BUCKET,
        "https://a1.example/v1",
        "eu-west-1",
        "123456789012",
    )
    assert target.spec_environment()["ALLOWED_TRAINING_INSTANCE_TYPES"].startswith("ml.p3.2xlarge,")
    assert unknown.value.exit_code == errors.NOT_FOUND
    assert "--stack" in unknown.value.message
    assert unfinished.value.exit_code == errors.NOT_CONFIGURED
    assert "DataBucketName" in unfinished.value.message


def test_missing_credentials_and_a_sandbox_that_is_not_running_are_said_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # nothing reaches an instance's metadata
    runner = CliRunner(mix_stderr=False)

    no_credentials = runner.invoke(cli, ["--region", "us-east-1", "runs"])
    no_sandbox = runner.invoke(cli, ["--local", "--sandbox-file", str(tmp_path / "gone.json"), "runs"])

    assert no_credentials.exit_code == errors.NOT_CONFIGURED
    assert "no AWS credentials" in no_credentials.stderr
    assert no_sandbox.exit_code == errors.NOT_CONFIGURED
    assert "make sandbox" in no_sandbox.stderr


def test_api_calls_are_signed_with_sigv4_for_execute_api_or_carry_the_api_key() -> None:
    scripted = ScriptedApi((200, {"runs": []}))
    credentials = Credentials("AKIDEXAMPLE", "secret", "token")

    ApiClient("https://a1.example/v1", "eu-west-1", credentials, http=scripted).call(
        "GET", "/runs", {"limit": 5}
    )  # type: ignore[arg-type]
    ApiClient("https://a1.example/v1", "eu-west-1", credentials, "key-1", http=scripted).call("GET", "/runs")  # type: ignore[arg-type]

    signed, keyed = scripted.requests
    assert signed.url == "https://a1.example/v1/runs?limit=5"
    assert "AKIDEXAMPLE/" in signed.headers["Authorization"]
    assert "/eu-west-1/execute-api/aws4_request" in signed.headers["Authorization"]
    assert signed.headers["X-Amz-Security-Token"] == "token"
    assert keyed.headers["x-api-key"] == "key-1"
    assert "Authorization" not in keyed.headers


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (404, "model_not_found", errors.NOT_FOUND),
        (403, "ACCESS_DENIED", errors.REFUSED),
        (409, "run_not_retryable", errors.REFUSED),
        (503, "endpoint_unavailable", errors.FAILED),
    ],
)
def test_an_api_refusal_is_its_message_and_an_exit_code(
    status: int, code: str, exit_code: int, tmp_path: Path, stack_file: Path, api: ScriptedApi
) -> None:
    api.answers = [(status, {"error": {"code": code, "message": "what the API said"}})]
    image = tmp_path / "x.png"
    image.write_bytes(png(4, 4, (1, 2, 3)))

    answer = CliRunner(mix_stderr=False).invoke(
        cli, ["--local", "--sandbox-file", str(stack_file), "predict", "m", str(image)]
    )

    assert answer.exit_code == exit_code
    assert f"POST /models/m/predict: {status} {code}: what the API said" in answer.stderr
    assert api.requests[0].headers["Content-Type"] == "image/png"


def test_status_watch_prints_each_stage_once_as_it_happens_and_fails_when_the_run_does(
    stack_file: Path, api: ScriptedApi
) -> None:
    entry = {
        "at": "2026-03-02T10:00:00Z",
        "stage": "dataset",
        "event": "Dataset Prepared",
        "status": "in_progress",
        "summary": "8 images",
    }
    failed = {
        **entry,
        "at": "2026-03-02T10:05:00Z",
        "stage": "training",
        "event": "Training Failed",
        "status": "failed",
        "summary": "quota",
        "error": "ResourceLimitExceeded",
    }
    run = {
        "run_id": "r-1",
        "dataset": "flowers",
        "stage": "dataset",
        "status": "in_progress",
        "history": [entry],
    }
    api.answers = [
        (404, {"error": {"code": "run_not_found", "message": "no run r-1"}}),
        (200, run),
        (200, run),
        (
            200,
            {
                **run,
                "stage": "training",
                "status": "failed",
                "summary": "Training failed",
                "history": [entry, failed],
            },
        ),
    ]

    answer = CliRunner(mix_stderr=False).invoke(
        cli, ["--local", "--sandbox-file", str(stack_file), "status", "r-1", "--watch", "--interval", "0.1"]
    )

    assert answer.exit_code == errors.FAILED
    assert "waiting for run r-1 to appear" in answer.stderr
    timeline = [line for line in answer.output.splitlines() if line.startswith("2026")]
    assert [line.split()[2:4] for line in timeline] == [["Dataset", "Prepared"], ["Training", "Failed"]]
    assert "ResourceLimitExceeded" in timeline[1]
    assert "run r-1 ended failed: Training failed" in answer.stderr


def test_run_control_commands_call_their_routes_and_delete_asks_first(
    stack_file: Path, api: ScriptedApi
) -> None:
    api.answers = [
        (202, {"run_id": "r-1", "status": "stopped", "stage": "training", "stopped_jobs": ["j-1"]}),
        (202, {"run_id": "r-1", "attempt": 2, "from_stage": "training", "reuses": ["labels"]}),
        (200, {"model": "m", "status": "deleted"}),
        (
            202,
            {
                "model": "m",
                "status": "rolling-back",
                "model_name": "old",
                "run_id": "r-0",
                "replaced_model_name": "new",
            },
        ),
    ]
    runner = CliRunner(mix_stderr=False)
    local = ["--local", "--sandbox-file", str(stack_file)]

    declined = runner.invoke(cli, [*local, "delete", "m"], input="n\n")
    answers = [
        runner.invoke(cli, [*local, *command])
        for command in (
            ["stop", "r-1"],
            ["retry", "r-1", "--from", "training"],
            ["delete", "m", "--yes"],
            ["rollback", "m"],
        )
    ]

    assert declined.exit_code == 1
    assert [(r.method, r.url.removeprefix(API)) for r in api.requests] == [
        ("POST", "/runs/r-1/stop"),
        ("POST", "/runs/r-1/retry?from=training"),
        ("DELETE", "/models/m"),
        ("POST", "/models/m/rollback"),
    ]
    assert [a.exit_code for a in answers] == [0, 0, 0, 0]
    assert "stopping j-1" in answers[0].output
    assert "attempt 2 starts at training" in answers[1].output


def test_draw_writes_a_classifications_labels_across_the_top_of_the_image(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    source.write_bytes(png(64, 64, (240, 240, 240)))
    answer = {"predictions": [{"label": "tulip", "score": 0.99}, {"label": "rose", "score": 0.01}]}

    drawn = draw_predictions(source, answer, tmp_path / "out.png")

    with Image.open(source) as before, Image.open(tmp_path / "out.png") as after:
        top = [
            after.convert("RGB").getpixel((x, 5)) != before.convert("RGB").getpixel((x, 5)) for x in range(64)
        ]
        bottom = after.convert("RGB").getpixel((32, 60)) == before.convert("RGB").getpixel((32, 60))
    assert drawn == 2
    assert any(top)
    assert bottom


def test_the_cli_uses_only_the_core_of_the_sagechain_package() -> None:
    # DESIGN.md: the CLI talks to the stack through S3 and the API; it reuses the core's spec,
    # guardrails, names and layout, never a stage's or an adapter's internals.
    stages_and_adapters = {"ingest", "labeling", "training", "deployment", "observers", "inference"}
    stages_and_adapters |= {"run_control", "batch", "teardown", "adapters"}
    imported = set()
    for path in (ROOT / "cli" / "sagechain_cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sagechain."):
                imported.add(node.module.split(".")[1])

    assert imported
    assert not imported & stages_and_adapters
