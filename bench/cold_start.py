"""Benchmark: the common layer's size and each function's cold start, from the `sam build` output.

Lambda-like: each sample is a fresh interpreter (`python -S -I -B`: no site-packages, no user
environment, no .pyc written, since /var/task and /opt are read-only on Lambda) whose sys.path is
what Lambda's is: the function's code directory (.aws-sam/build/<Function>, /var/task), the
layer (.aws-sam/build/CommonLayer/python, /opt/python), the standard library, and a runtime
directory holding only what the Lambda Python runtime ships (boto3, botocore, s3transfer,
urllib3, dateutil, jmespath, six: /var/runtime), taken from this virtual environment. The
environment is the function's own from template.yaml plus what Lambda sets (LAMBDA_TASK_ROOT,
AWS_REGION, credentials...). A sample times `import app`, which is Lambda's init: every import
and everything the module does at load (settings, clients, decorators).

The baseline is a bare handler in the same setting: `import boto3` and one client. Samples of
every function and of the baseline are taken in turns, so both sides of each ratio share the run.

The layer is built for arm64; on another machine its compiled extensions (pydantic_core, wrapt)
cannot load, so they are replaced by this environment's builds of the same versions (asserted).

    make build && python -m bench.cold_start [--repeats 9] [--tracing]

`--instructions` counts each sample's CPU instructions under valgrind's callgrind instead (the
whole process: `python -S -I` start-up, the same for every sample, and `import app`): a count the
machine's load does not move, where CPU time on a shared machine swings by a fifth between runs.
About 30 s a sample; `--repeats 1` is enough.
"""

import argparse
import importlib.util
import io
import json
import platform
import random
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

from local.stack import DEMO_PARAMETERS, PHYSICAL  # noqa: E402
from local.template import REGION, Template  # noqa: E402

# What the Lambda Python runtime ships besides the standard library ("Runtime-included SDK
# versions", https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six")
# Heavy modules whose presence after init the table reports.
WATCHED = ("aws_xray_sdk", "s3transfer.manager", "aws_lambda_powertools.event_handler.openapi.models")
BARE_HANDLER = '''"""A bare handler: the SDK and one client."""
import boto3

s3 = boto3.client("s3")


def handler(event, context):
    return {}
'''
SAMPLE = r"""
import importlib, json, sys, time
task, layer, runtime, module, watched = sys.argv[1:6]
sys.path[:0] = [task, layer]
sys.path.append(runtime)
start, cpu = time.perf_counter(), time.process_time()
importlib.import_module(module)
cpu_ms, wall_ms = (time.process_time() - cpu) * 1000, (time.perf_counter() - start) * 1000
loaded = [m for m in watched.split(",") if m in sys.modules]
print(json.dumps({"cpu_ms": cpu_ms, "wall_ms": wall_ms, "loaded": loaded}))
"""


def layer_zip_mb(layer: Path) -> float:
    """The layer as `sam deploy` uploads it: one deflated zip of python/ (MB = 10^6 bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(layer.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(layer.parent))
    return buffer.tell() / 1e6


def precompiled(layer: Path) -> tuple[int, int]:
    """(modules with a .pyc this Python loads without compiling, modules): the magic number
    must be this interpreter's (3.13's), and the .pyc unchecked-hash based (PEP 552 flags 0b01)."""
    modules = sorted(layer.rglob("*.py"))
    usable = 0
    for module in modules:
        cached = Path(importlib.util.cache_from_source(str(module)))
        if cached.is_file():
            header = cached.read_bytes()[:8]
            usable += header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 1
    return usable, len(modules)


def runtime_dir(into: Path) -> Path:
    """A directory with only what the Lambda runtime ships, linked from this environment."""
    site = Path(sysconfig.get_paths()["purelib"])
    into.mkdir()
    for name in RUNTIME_PACKAGES:
        source = site / name if (site / name).is_dir() else site / f"{name}.py"
        (into / source.name).symlink_to(source)
    return into


def host_layer(layer: Path, into: Path) -> tuple[Path, list[str]]:
    """The layer, with compiled extensions for another machine replaced by this one's builds."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    foreign = {
        path.relative_to(layer).parts[0]
        for path in layer.rglob("*.so")
        if not path.name.endswith(suffix) and path.relative_to(layer).parts[0]
    }
    if not foreign:
        return layer, []
    into.mkdir()
    site = Path(sysconfig.get_paths()["platlib"])
    for entry in layer.iterdir():
        if entry.name in foreign:
            dist = next(layer.glob(f"{entry.name}-*.dist-info")).name.removesuffix(".dist-info").split("-")[1]
            assert metadata.version(entry.name) == dist, f"{entry.name}: the layer has {dist}"
            (into / entry.name).symlink_to(site / entry.name)
        else:
            (into / entry.name).symlink_to(entry)
    return into, sorted(foreign)


def lambda_environment(function_env: dict[str, str], name: str, task: Path, tracing: bool) -> dict[str, str]:
    """What Lambda sets, the function's own variables from template.yaml, and tracing on or off."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_ACCESS_KEY_ID": "ASIABENCHMARK",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_SESSION_TOKEN": "benchmark",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **function_env,
    }
    environment["POWERTOOLS_TRACE_DISABLED"] = "false" if tracing else "true"
    return environment


def sample(
    task: Path, layer: Path, runtime: Path, env: dict[str, str], *, instructions: bool = False
) -> tuple[float, float, list[str]]:
    """One cold start: (init CPU ms, init wall ms, watched modules loaded); with `instructions`,
    (CPU instructions of the whole process under callgrind, 0, modules)."""
    counter = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] if instructions else []
    done = subprocess.run(  # noqa: S603  # our own interpreter and script
        [
            *counter,
            sys.executable,
            "-S",
            "-I",
            "-B",
            "-c",
            SAMPLE,
            str(task),
            str(layer),
            str(runtime),
            "app",
            ",".join(WATCHED),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=task,
    )
    if done.returncode:
        raise SystemExit(f"{task.name}: init failed\n{done.stderr}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if instructions:
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if collected is None:
            raise SystemExit(f"{task.name}: callgrind reported no count\n{done.stderr}")
        return float(collected.group(1)), 0.0, answer["loaded"]
    return answer["cpu_ms"], answer["wall_ms"], answer["loaded"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--tracing", action="store_true", help="with tracing on, as Tracing: Active runs")
    parser.add_argument("--functions", nargs="*", help="logical ids (default: every function)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count CPU instructions under valgrind's callgrind instead of timing (load does not move them)",
    )
    args = parser.parse_args()
    build: Path = args.build_dir
    layer = build / "CommonLayer" / "python"
    if not layer.is_dir():
        raise SystemExit(f"no layer in {build}: run `make build` (sam build) first")
    definitions = [
        d
        for d in Template(PHYSICAL, DEMO_PARAMETERS).functions()
        if not args.functions or d.logical_id in args.functions
    ]
    usable, modules = precompiled(layer)
    print(f"layer: {usable} of {modules} modules precompiled (unchecked-hash .pyc for this Python)")
    print(
        f"layer: {layer_zip_mb(layer):.2f} MB zipped; runtime packages in it: "
        f"{[p for p in RUNTIME_PACKAGES if (layer / p).exists() or (layer / f'{p}.py').exists()] or 'none'}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        runtime = runtime_dir(Path(scratch) / "runtime")
        opt_python, replaced = host_layer(layer, Path(scratch) / "opt-python")
        if replaced:
            print(f"layer built for another machine: {replaced} from this environment ({platform.machine()})")
        bare = Path(scratch) / "bare"
        bare.mkdir()
        (bare / "app.py").write_text(BARE_HANDLER)
        cases = {"bare handler": (bare, {})}
        for definition in definitions:
            task = build / definition.logical_id
            cases[definition.logical_id] = (task, definition.environment)
        envs = {
            name: lambda_environment(env, name, task, args.tracing) for name, (task, env) in cases.items()
        }
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        walls: dict[str, list[float]] = {name: [] for name in cases}
        loaded: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            order = list(cases)
            random.shuffle(order)
            for name in order:
                task = cases[name][0]
                cpu_ms, wall_ms, modules = sample(
                    task,
                    opt_python if name != "bare handler" else layer,
                    runtime,
                    envs[name],
                    instructions=args.instructions,
                )
                cpus[name].append(cpu_ms)
                walls[name].append(wall_ms)
                loaded[name] = modules
    if args.instructions:
        print_instructions(cpus, args.repeats)
        return
    bare_cpu, bare_wall = statistics.median(cpus["bare handler"]), statistics.median(walls["bare handler"])
    print(
        f"\n{args.repeats} fresh processes per function, tracing {'on' if args.tracing else 'off'}, "
        f"Python {platform.python_version()} on {platform.machine()}; init = `import app`, CPU time "
        "(what a shared machine's load disturbs least) and wall time\n"
    )
    print(
        "| function | init CPU min / median / max (ms) | CPU ratio | init wall median (ms) | wall ratio "
        "| loaded |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in cases:
        cpu, wall = cpus[name], statistics.median(walls[name])
        print(
            f"| {name} | {min(cpu):.0f} / {statistics.median(cpu):.0f} / {max(cpu):.0f} | "
            f"{statistics.median(cpu) / bare_cpu:.2f}x | {wall:.0f} | {wall / bare_wall:.2f}x | "
            f"{', '.join(loaded[name]) or '-'} |"
        )
    worst = max((statistics.median(cpus[n]) / bare_cpu, n) for n in cases if n != "bare handler")
    print(f"\nhighest CPU ratio: {worst[0]:.2f}x ({worst[1]})")


def print_instructions(counts: dict[str, list[float]], repeats: int) -> None:
    """The instruction counts' table: whole processes (interpreter start-up included, the same for all)."""
    print(
        f"\n{repeats} processes per function under callgrind, Python {platform.python_version()} on "
        f"{platform.machine()}; CPU instructions of the whole process (`python -S -I`, then `import app`)\n"
    )
    print("| function | instructions, millions (median) | ratio |")
    print("| --- | --- | --- |")
    bare = statistics.median(counts["bare handler"])
    for name, values in counts.items():
        print(
            f"| {name} | {statistics.median(values) / 1e6:,.0f} | {statistics.median(values) / bare:.2f}x |"
        )
    worst = max((statistics.median(counts[n]) / bare, n) for n in counts if n != "bare handler")
    print(f"\nhighest instruction ratio: {worst[0]:.2f}x ({worst[1]})")


if __name__ == "__main__":
    main()
