"""The `sagechain` command: init, upload, runs, status, artifacts, predict, stop, retry, delete, rollback.

Every command finds the stack from its CloudFormation outputs (--stack, default samconfig.toml's
stack_name) or, with --local, the sandbox `make sandbox` runs; API calls are signed with the
caller's AWS credentials (SigV4). --json prints the API's answers for scripts; exit codes are in
sagechain_cli.errors (and the README).
"""

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.config import Config
from botocore.credentials import Credentials
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from sagechain.errors import DatasetRejectedError
from sagechain.layout import SPEC_FILE
from sagechain.spec import LabelingMode, TaskType, parse_spec
from sagechain_cli import __version__
from sagechain_cli.api import ApiClient
from sagechain_cli.dataset import InvalidDatasetError, check_dataset
from sagechain_cli.draw import draw_predictions
from sagechain_cli.errors import FAILED, INVALID_DATASET, NOT_CONFIGURED, NOT_FOUND, OK, USAGE, CliError
from sagechain_cli.stack import (
    DEFAULT_SANDBOX_FILE,
    Target,
    default_stack_name,
    from_cloudformation,
    from_sandbox,
)
from sagechain_cli.upload import upload_dataset

# A run is over when its status is anything but in_progress (docs/openapi.json, RunStatus).
IN_PROGRESS = "in_progress"
# After an upload the run appears once prepare_dataset has read dataset.json: --watch waits this long.
APPEAR_SECONDS = 300
MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass
class Context:
    """The global options, and the stack and clients made from them on first use."""

    stack: str | None
    region: str | None
    profile: str | None
    local: bool
    sandbox_file: Path
    api_key: str | None
    as_json: bool
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))
    _target: Target | None = None
    _session: boto3.Session | None = None

    def session(self) -> boto3.Session:
        """The caller's AWS session (the sandbox's needs no real credentials)."""
        if self._session is None:
            if self.local:
                # The sandbox (moto) checks no signature: any key signs.
                self._session = boto3.Session(
                    aws_access_key_id="sandbox",
                    aws_secret_access_key="sandbox",  # noqa: S106 - not a secret
                    region_name="us-east-1",
                )
            else:
                try:
                    self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
                except Exception as err:  # botocore's ProfileNotFound and friends
                    raise CliError(f"AWS profile {self.profile!r}: {err}", NOT_CONFIGURED) from None
        return self._session

    def target(self) -> Target:
        """The stack: the sandbox's with --local, else CloudFormation's."""
        if self._target is None:
            if self.local:
                self._target = from_sandbox(self.sandbox_file)
            else:
                self._target = from_cloudformation(self.session(), self.stack or default_stack_name())
        return self._target

    def _credentials(self) -> Credentials | None:
        credentials = self.session().get_credentials()
        if credentials is None and not self.api_key:
            raise CliError(
                "no AWS credentials to sign the request with: run `aws configure` (or `aws sso login`), "
                "set AWS_PROFILE, or pass --api-key when the stack uses ApiAuth=API_KEY",
                NOT_CONFIGURED,
            )
        return credentials

    def operator_api(self) -> ApiClient:
        """The operator API (runs, artifacts, run control)."""
        target = self.target()
        return ApiClient(target.operator_api_url, target.region, self._credentials(), self.api_key)

    def inference_api(self) -> ApiClient:
        """The inference API (predict)."""
        target = self.target()
        return ApiClient(target.api_url, target.region, self._credentials(), self.api_key)

    def s3(self) -> Any:
        """An S3 client for the stack's bucket (the sandbox's endpoint with --local)."""
        target = self.target()
        config = Config(
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path"} if target.s3_endpoint_url else {},
            max_pool_connections=32,
        )
        return self.session().client(
            "s3", region_name=target.region, endpoint_url=target.s3_endpoint_url, config=config
        )

    def emit(self, document: Any) -> None:
        """--json: the document on stdout, as JSON."""
        click.echo(json.dumps(document, indent=2, default=str))


class Group(click.Group):
    """Turns a CliError into its message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a CliError ends it with its exit code."""
        try:
            return super().invoke(ctx)
        except CliError as err:
            click.echo(f"error: {err.message}", err=True)
            ctx.exit(err.exit_code)


pass_context = click.make_pass_decorator(Context)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sagechain")
@click.option(
    "--stack", envvar="SAGECHAIN_STACK", help="The stack's name (default: samconfig.toml's stack_name)."
)
@click.option("--region", envvar="AWS_REGION", help="The stack's region (default: your AWS profile's).")
@click.option("--profile", envvar="AWS_PROFILE", help="The AWS profile whose credentials sign the calls.")
@click.option("--local", is_flag=True, help="Talk to the sandbox `make sandbox` runs, not to AWS.")
@click.option(
    "--sandbox-file",
    envvar="SAGECHAIN_SANDBOX_FILE",
    type=click.Path(path_type=Path),
    default=DEFAULT_SANDBOX_FILE,
    show_default=True,
    help="With --local: the stack document the sandbox writes.",
)
@click.option(
    "--api-key", envvar="SAGECHAIN_API_KEY", help="With ApiAuth=API_KEY: the key to send instead of SigV4."
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's answers as JSON (for scripts).")
@click.pass_context
def cli(
    ctx: click.Context,
    stack: str | None,
    region: str | None,
    profile: str | None,
    local: bool,
    sandbox_file: Path,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Start, follow and call sagechain runs: upload a dataset, watch it train, predict.

    Exit codes: 0 done, 1 failed (a run that ended failed, an API error), 2 usage, 3 the dataset
    would be rejected (nothing uploaded), 4 unknown run, model or stack, 5 not configured (no
    credentials, no stack, sandbox not running), 6 refused by the API (403, 409).
    """
    ctx.obj = Context(stack, region, profile, local, sandbox_file, api_key, as_json)


# ------------------------------------------------------------------ init
@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--task",
    type=click.Choice([t.value for t in TaskType]),
    prompt="Task",
    default=TaskType.IMAGE_CLASSIFICATION.value,
    help="What the model learns.",
)
@click.option(
    "--labels", prompt="Labels (comma-separated, in class order)", help="Class names, comma-separated."
)
@click.option(
    "--labeling",
    type=click.Choice([m.value for m in LabelingMode]),
    prompt="Labeling (provided: class folders or --labels-file; ground-truth: a labeling job)",
    default=LabelingMode.PROVIDED.value,
    help="Who labels the images.",
)
@click.option(
    "--labels-file", help="With provided labels: a COCO *.json or Ground Truth *.manifest in FOLDER."
)
@click.option("--force", is_flag=True, help="Replace an existing dataset.json.")
@pass_context
def init(
    context: Context,
    folder: Path,
    task: str,
    labels: str,
    labeling: str,
    labels_file: str | None,
    force: bool,
) -> None:
    """Write FOLDER/dataset.json (and images/) from flags or prompts, validated as the stack will."""
    path = folder / SPEC_FILE
    if path.exists() and not force:
        raise CliError(f"{path} exists: pass --force to replace it", USAGE)
    names = [label.strip() for label in labels.split(",") if label.strip()]
    document: dict[str, Any] = {"task": task, "labels": names, "labeling": {"mode": labeling}}
    if labels_file:
        document["labeling"]["labels_file"] = labels_file
    raw = json.dumps(document, indent=2).encode() + b"\n"
    try:
        # The published schema (docs/dataset-spec.schema.json) is this model's: the same check.
        parse_spec(raw, SPEC_FILE)
    except DatasetRejectedError as err:
        raise CliError(str(err), INVALID_DATASET) from None
    (folder / "images").mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    if context.as_json:
        context.emit(document)
        return
    where = "images/<label>/..." if labeling == LabelingMode.PROVIDED.value and not labels_file else "images/"
    context.out.print(
        f"wrote {path}: put the images under {folder / where}, then `sagechain upload {folder}`"
    )


# ------------------------------------------------------------------ upload
@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", help="The dataset's name in the bucket (default: the folder's name).")
@click.option("--jobs", type=click.IntRange(1, 64), default=8, show_default=True, help="Parallel uploads.")
@click.option("--check", "check_only", is_flag=True, help="Only check the dataset; upload nothing.")
@pass_context
def upload(context: Context, folder: Path, name: str | None, jobs: int, check_only: bool) -> None:
    """Check FOLDER as the stack will, upload its images (resumably), then dataset.json: a run starts."""
    target = context.target()
    dataset = name or folder.resolve().name
    try:
        plan = check_dataset(folder, dataset, target.spec_environment())
    except InvalidDatasetError as err:
        raise CliError(f"{folder} would be rejected, nothing was uploaded: {err}", INVALID_DATASET) from None
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(plan.skipped.items())) or "nothing"
    labels = f", labels {dict(plan.label_counts)}" if plan.label_counts else ""
    context.err.print(
        f"dataset {dataset}: {len(plan.files)} files ({plan.total_bytes:,} bytes), {plan.spec.task.value}, "
        f"labeling {plan.spec.labeling.mode.value}{labels}; skipped {skipped}"
    )
    for note in plan.notes:
        context.err.print(f"note: {note}")
    if check_only:
        context.err.print(f"{folder} passes the stack's checks (s3://{target.bucket}/datasets/{dataset}/)")
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=context.err,
    )
    total_files = len(plan.files) + 1
    with progress:
        task = progress.add_task("upload", total=plan.total_bytes, files=f"0/{total_files} files")
        done = 0

        def on_file(file: Any, _skipped: bool) -> None:
            nonlocal done
            done += 1
            progress.update(task, advance=file.size, files=f"{done}/{total_files} files")

        result = upload_dataset(context.s3(), target.bucket, plan, jobs, on_file)
    context.err.print(
        f"uploaded {result.uploaded} files ({result.uploaded_bytes:,} bytes) in {result.seconds:.1f}s, "
        f"{result.already_there} already there; dataset.json last: s3://{target.bucket}/{plan.spec_file.key}"
    )
    _email_warning(context)
    if context.as_json:
        context.emit(
            {
                "run_id": result.run_id,
                "dataset": dataset,
                "uploaded": result.uploaded,
                "already_there": result.already_there,
                "bytes": result.uploaded_bytes,
            }
        )
        return
    context.out.print(
        f"run {result.run_id} started: follow it with `sagechain status {result.run_id} --watch`"
    )


def _email_warning(context: Context) -> None:
    """The stack's warning that nobody confirmed the email subscription (best effort)."""
    try:
        runs = context.operator_api().call("GET", "/runs", {"limit": 1}).json().get("runs", [])
    except CliError:
        return
    warning = next((run.get("email_warning") for run in runs if run.get("email_warning")), None)
    if warning:
        context.err.print(f"[yellow]warning:[/] {warning}")


# ------------------------------------------------------------------ runs, status, artifacts
@cli.command()
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@pass_context
def runs(context: Context, limit: int) -> None:
    """The stack's runs, newest first."""
    page = context.operator_api().call("GET", "/runs", {"limit": limit}).json()
    if context.as_json:
        context.emit(page)
        return
    # Ids and times are what a person copies: never cut; the summary wraps (the run id starts
    # with its dataset's name).
    table = Table()
    table.add_column("run", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("stage", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("summary")
    for run in page.get("runs", []):
        table.add_row(
            run["run_id"],
            run.get("status") or "",
            run.get("stage") or "",
            run.get("updated_at") or run.get("created_at") or "",
            run.get("summary") or "",
        )
    context.out.print(table)
    warning = next((r.get("email_warning") for r in page.get("runs", []) if r.get("email_warning")), None)
    if warning:
        context.err.print(f"[yellow]warning:[/] {warning}")


def _history_line(entry: dict[str, Any]) -> str:
    error = f" - {entry['error']}" if entry.get("error") else ""
    stage, event = entry.get("stage", ""), entry.get("event", "")
    return f"{entry.get('at', '')}  {stage:<10} {event:<20} {entry.get('summary', '')}{error}"


@cli.command()
@click.argument("run_id")
@click.option("--watch", is_flag=True, help="Follow the run until it ends (live, failed, rejected, ...).")
@click.option(
    "--interval", type=click.FloatRange(0.1), default=10.0, show_default=True, help="Seconds between polls."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0),
    default=0,
    help="With --watch: give up after this many seconds (0: never).",
)
@pass_context
def status(context: Context, run_id: str, watch: bool, interval: float, timeout: float) -> None:
    """A run's timeline of stages; --watch follows it until it ends (exit 0 only if it went live)."""
    api = context.operator_api()
    if not watch:
        run = api.call("GET", f"/runs/{run_id}").json()
        if context.as_json:
            context.emit(run)
            return
        _print_run_header(context, run)
        for entry in run.get("history", []):
            context.out.print(_history_line(entry))
        return
    run = _watch(context, api, run_id, interval, timeout, time.monotonic)
    if context.as_json:
        context.emit(run)
    if run.get("status") != "live":
        context.err.print(f"run {run_id} ended {run.get('status')}: {run.get('summary') or ''}")
        raise click.exceptions.Exit(FAILED)


def _print_run_header(context: Context, run: dict[str, Any]) -> None:
    context.out.print(
        f"run {run['run_id']} ({run.get('dataset')}): {run.get('status')} at {run.get('stage')} - "
        f"{run.get('summary') or ''}"
    )
    if run.get("predict_url"):
        context.out.print(f"predict: POST {run['predict_url']}")
    if run.get("email_warning"):
        context.err.print(f"[yellow]warning:[/] {run['email_warning']}")


def _watch(
    context: Context, api: ApiClient, run_id: str, interval: float, timeout: float, clock: Callable[[], float]
) -> dict[str, Any]:
    started, shown, waiting_said = clock(), 0, False
    while True:
        try:
            run: dict[str, Any] = api.call("GET", f"/runs/{run_id}").json()
        except CliError as err:
            if err.exit_code != NOT_FOUND or clock() - started > APPEAR_SECONDS:
                raise
            if not waiting_said:
                context.err.print(
                    f"waiting for run {run_id} to appear (prepare_dataset reads dataset.json)..."
                )
                waiting_said = True
        else:
            history = run.get("history", [])
            for entry in history[shown:]:
                if not context.as_json:
                    context.out.print(_history_line(entry))
            shown = len(history)
            if run.get("status") not in (IN_PROGRESS, None):
                if not context.as_json:
                    _print_run_header(context, run)
                return run
        if timeout and clock() - started > timeout:
            raise CliError(f"run {run_id} is still in progress after {timeout:g}s", FAILED)
        time.sleep(interval)


@cli.command()
@click.argument("run_id")
@click.option(
    "--download", type=click.Path(file_okay=False, path_type=Path), help="Download every artifact here."
)
@pass_context
def artifacts(context: Context, run_id: str, download: Path | None) -> None:
    """A run's models, outputs and manifests, with download links (valid 15 minutes)."""
    found = context.operator_api().call("GET", f"/runs/{run_id}/artifacts").json()
    files = [
        (job["job_name"], artifact)
        for job in found.get("jobs", [])
        for artifact in (job.get("model"), job.get("output_data"))
        if artifact
    ] + [("manifests", manifest) for manifest in found.get("manifests", [])]
    if context.as_json:
        context.emit(found)
    else:
        table = Table("job", "artifact", "bytes", "s3")
        for group, artifact in files:
            table.add_row(
                group, artifact["name"], f"{artifact.get('size_bytes', 0):,}", artifact.get("s3_uri", "")
            )
        context.out.print(table)
        context.out.print(f"links expire at {found.get('urls_expire_at')}")
    if download:
        for group, artifact in files:
            path = download / group / artifact["name"]
            path.parent.mkdir(parents=True, exist_ok=True)
            # A presigned S3 GET: the link carries its own authorization.
            with urllib.request.urlopen(artifact["download_url"], timeout=60) as answer:  # noqa: S310
                path.write_bytes(answer.read())
            context.err.print(f"downloaded {path}")


# ------------------------------------------------------------------ predict
@cli.command()
@click.argument("model")
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--k", type=click.IntRange(1), help="Classification: how many labels to answer.")
@click.option(
    "--threshold", type=click.FloatRange(0, 1), help="Multi-label and detection: the lowest score kept."
)
@click.option(
    "--draw",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the image with its boxes or labels drawn.",
)
@pass_context
def predict(
    context: Context,
    model: str,
    images: tuple[Path, ...],
    k: int | None,
    threshold: float | None,
    draw: Path | None,
) -> None:
    """Send IMAGES to MODEL's endpoint (POST /models/MODEL/predict); labels as a table."""
    api = context.inference_api()
    answers = []
    for index, image in enumerate(images):
        media = MEDIA_TYPES.get(image.suffix.lower())
        if media is None:
            raise CliError(f"{image}: send a .jpg, .jpeg or .png image", USAGE)
        answer = api.call(
            "POST",
            f"/models/{model}/predict",
            {"k": k, "threshold": threshold},
            image.read_bytes(),
            {"Content-Type": media, "Accept": "application/json"},
        ).json()
        answers.append({"image": str(image), **answer})
        if draw:
            out = draw if len(images) == 1 else draw.with_name(f"{draw.stem}-{index + 1}{draw.suffix}")
            drawn = draw_predictions(image, answer, out)
            context.err.print(f"drew {drawn} prediction(s) on {out}")
    if context.as_json:
        context.emit(answers if len(answers) > 1 else answers[0])
        return
    for answer in answers:
        boxes = any("xmin" in p for p in answer.get("predictions", []))
        table = Table(
            "label", "score", *(("xmin", "ymin", "xmax", "ymax") if boxes else ()), title=answer["image"]
        )
        for p in answer.get("predictions", []):
            coordinates = [f"{p[c]:.3f}" for c in ("xmin", "ymin", "xmax", "ymax")] if boxes else []
            table.add_row(str(p["label"]), f"{p['score']:.4f}", *coordinates)
        context.out.print(table)


# ------------------------------------------------------------------ run control
def _control(
    context: Context,
    method: str,
    path: str,
    query: dict[str, Any] | None,
    said: Callable[[dict[str, Any]], str],
) -> None:
    answer = context.operator_api().call(method, path, query).json()
    if context.as_json:
        context.emit(answer)
    else:
        context.out.print(said(answer))


@cli.command()
@click.argument("run_id")
@pass_context
def stop(context: Context, run_id: str) -> None:
    """Stop a run in progress: its jobs, or its deployment waiting for the endpoint."""
    _control(
        context,
        "POST",
        f"/runs/{run_id}/stop",
        None,
        lambda a: (
            f"run {a['run_id']} {a['status']} at {a['stage']}; stopping "
            f"{', '.join(a.get('stopped_jobs') or []) or 'no job'}"
        ),
    )


@cli.command()
@click.argument("run_id")
@click.option(
    "--from",
    "from_stage",
    type=click.Choice(["labeling", "training", "deployment"]),
    help="Start at an earlier stage (labeling is billed again).",
)
@pass_context
def retry(context: Context, run_id: str, from_stage: str | None) -> None:
    """Retry a failed or stopped run from the stage it ended at (a new attempt)."""
    _control(
        context,
        "POST",
        f"/runs/{run_id}/retry",
        {"from": from_stage},
        lambda a: (
            f"run {a['run_id']}: attempt {a['attempt']} starts at {a['from_stage']} "
            f"(reuses {', '.join(a.get('reuses') or []) or 'nothing'})"
        ),
    )


@cli.command()
@click.argument("model")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def delete(context: Context, model: str, yes: bool) -> None:
    """Delete MODEL: its endpoint, autoscaling, endpoint configurations and models."""
    if not yes and not context.as_json:
        click.confirm(
            f"Delete the endpoint {model} and its models? Predict answers 404 afterwards", abort=True
        )
    _control(context, "DELETE", f"/models/{model}", None, lambda a: f"model {a['model']}: {a['status']}")


@cli.command()
@click.argument("model")
@pass_context
def rollback(context: Context, model: str) -> None:
    """Put MODEL's previous live model back on its endpoint, without retraining."""
    _control(
        context,
        "POST",
        f"/models/{model}/rollback",
        None,
        lambda a: (
            f"model {a['model']}: {a['status']}: {a['model_name']} (run {a['run_id']}) "
            f"replaces {a['replaced_model_name']}"
        ),
    )


__all__ = ["OK", "cli"]
