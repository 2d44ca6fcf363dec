"""Which stack the CLI talks to: its bucket, APIs and parameters, from CloudFormation or the sandbox.

A deployed stack is found by name (`--stack`, else samconfig.toml's stack_name, else
"sagechain") with CloudFormation's DescribeStacks: its outputs name the bucket and the APIs, its
parameters are the bounds prepare_dataset checks every spec against. `make sandbox` writes the
same document (DescribeStacks' shape, plus its S3 endpoint) to a file that `--local` reads.
"""

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from sagechain_cli.errors import NOT_CONFIGURED, NOT_FOUND, CliError

DEFAULT_STACK = "sagechain"
# Where `make sandbox` writes its stack document (relative to the repository it runs in).
DEFAULT_SANDBOX_FILE = Path("local/out/sandbox/stack.json")
# prepare_dataset's environment variables that are stack parameters (template.yaml,
# PrepareDatasetFunction): the spec defaults and guardrails the CLI checks a spec against before
# uploading. tests/unit/test_cli.py keeps this equal to the template.
PARAMETER_ENVIRONMENT = {
    "NAME_PREFIX": "NamePrefix",
    "DEFAULT_WORKTEAM_ARN": "DefaultWorkteamArn",
    "DEFAULT_MAX_LABELING_COST_USD": "MaxLabelingCostUsd",
    "DEFAULT_TRAINING_INSTANCE_TYPE": "TrainingInstanceType",
    "DEFAULT_ENDPOINT_INSTANCE_TYPE": "EndpointInstanceType",
    "DEFAULT_ENDPOINT_TTL_HOURS": "DefaultEndpointTtlHours",
    "DEFAULT_ROLLOUT_STRATEGY": "DefaultRolloutStrategy",
    "DEFAULT_ROLLOUT_BAKING_MINUTES": "DefaultRolloutBakingMinutes",
    "MAX_MODEL_LATENCY_MS": "MaxModelLatencyMs",
    "ALLOWED_TRAINING_IMAGE_REPOSITORIES": "AllowedTrainingImageRepositories",
    "ALLOWED_TRAINING_INSTANCE_TYPES": "AllowedTrainingInstanceTypes",
    "ALLOWED_ENDPOINT_INSTANCE_TYPES": "AllowedEndpointInstanceTypes",
    "MAX_TRAINING_HOURS": "MaxTrainingHours",
    "MAX_TRAINING_INSTANCES": "MaxTrainingInstances",
    "MAX_TRAINING_VOLUME_GB": "MaxTrainingVolumeGb",
    "MAX_SPOT_WAIT_HOURS": "MaxSpotWaitHours",
    "MAX_HYPERPARAMETER_SETS": "MaxHyperparameterSets",
    "MAX_TUNING_JOBS": "MaxTuningJobs",
    "MAX_PARALLEL_TUNING_JOBS": "MaxParallelTuningJobs",
    "MAX_ENDPOINT_INSTANCES": "MaxEndpointInstances",
    "MAX_ENDPOINT_TTL_HOURS": "MaxEndpointTtlHours",
    "MAX_ROLLOUT_BAKING_MINUTES": "MaxRolloutBakingMinutes",
    "MAX_ROLLOUT_MINUTES": "MaxRolloutMinutes",
    "ALLOW_PUBLIC_WORKFORCE": "AllowPublicWorkforce",
    "ALLOWED_WORKTEAM_ARNS": "AllowedWorkteamArns",
    "MAX_RUN_COST_USD": "MaxRunCostUsd",
    "INSTANCE_PRICE_OVERRIDES": "InstancePriceOverrides",
}


@dataclass(frozen=True)
class Target:
    """The stack the commands act on."""

    stack_name: str
    region: str
    account_id: str
    bucket: str
    api_url: str  # the inference API (predict)
    operator_api_url: str  # runs, artifacts, run control
    parameters: dict[str, str] = field(default_factory=dict)
    s3_endpoint_url: str | None = None  # the sandbox's S3; None: AWS's
    local: bool = False

    def spec_environment(self) -> dict[str, str]:
        """prepare_dataset's environment as far as the stack's parameters give it: what
        SpecDefaults and Guardrails validate from."""
        environment = {
            variable: self.parameters[parameter]
            for variable, parameter in PARAMETER_ENVIRONMENT.items()
            if parameter in self.parameters
        }
        return {**environment, "ACCOUNT_ID": self.account_id, "AWS_DEFAULT_REGION": self.region}


def default_stack_name(samconfig: Path = Path("samconfig.toml")) -> str:
    """The stack name `sam deploy` uses here: samconfig.toml's, else "sagechain"."""
    try:
        config = tomllib.loads(samconfig.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return DEFAULT_STACK
    default = config.get("default", {})
    for command in ("deploy", "global"):
        name = default.get(command, {}).get("parameters", {}).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_STACK


def target_from_description(stack: dict[str, Any], region: str, local: bool = False) -> Target:
    """A DescribeStacks stack (or the sandbox's document in its shape) as a Target."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    name = str(stack.get("StackName", DEFAULT_STACK))
    missing = [key for key in ("DataBucketName", "ApiUrl", "OperatorApiUrl") if key not in outputs]
    if missing:
        status = stack.get("StackStatus", "?")
        raise CliError(
            f"stack {name} ({status}) has no output {', '.join(missing)}: is it a sagechain stack, and "
            "has its deployment finished (sam deploy)?",
            NOT_CONFIGURED,
        )
    # arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
    account = str(stack.get("StackId", "")).split(":")[4:5] or ["000000000000"]
    return Target(
        stack_name=name,
        region=region,
        account_id=account[0],
        bucket=outputs["DataBucketName"],
        api_url=outputs["ApiUrl"].rstrip("/"),
        operator_api_url=outputs["OperatorApiUrl"].rstrip("/"),
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        s3_endpoint_url=stack.get("S3EndpointUrl"),
        local=local,
    )


def from_cloudformation(session: boto3.Session, stack_name: str) -> Target:
    """The deployed stack, by name (DescribeStacks)."""
    try:
        region = session.region_name
        if not region:
            raise NoRegionError
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except NoRegionError:
        raise CliError(
            "no AWS region: pass --region, set AWS_REGION, or set one in your AWS profile", NOT_CONFIGURED
        ) from None
    except NoCredentialsError:
        raise CliError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), set AWS_PROFILE, or "
            "use --local for the sandbox",
            NOT_CONFIGURED,
        ) from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        message = err.response.get("Error", {}).get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            raise CliError(
                f"no stack {stack_name!r} in {region}: pass --stack NAME (the name `sam deploy` used), "
                "or deploy it with `sam deploy --guided`",
                NOT_FOUND,
            ) from None
        raise CliError(f"CloudFormation refused DescribeStacks on {stack_name}: {code}: {message}") from None
    except BotoCoreError as err:
        raise CliError(f"could not reach CloudFormation: {err}", NOT_CONFIGURED) from None
    return target_from_description(dict(stacks[0]), region)


def from_sandbox(path: Path) -> Target:
    """The sandbox `make sandbox` is running, from the stack document it wrote."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(
            f"the sandbox is not running ({path} does not exist): start it with `make sandbox` in the "
            "sagechain repository, or pass --sandbox-file",
            NOT_CONFIGURED,
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise CliError(f"cannot read the sandbox's stack document {path}: {err}", NOT_CONFIGURED) from None
    return target_from_description(document, str(document.get("Region", "us-east-1")), local=True)
