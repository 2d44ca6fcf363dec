"""`make sandbox`: the offline stack with an S3 endpoint on 127.0.0.1, so your own dataset runs.

The stack of `make demo` (local/stack.py: moto, the SageMaker emulation, every function wired as
template.yaml wires it) with moto's server mode beside it: the data bucket answers on
http://127.0.0.1:<s3-port> (ThreadedMotoServer shares this process's moto backends), and the
API on http://127.0.0.1:<port>/v1. An object uploaded through the server raises the same
`aws.s3` Object Created event as an in-process upload (the bucket has EventBridge notifications
on); a loop delivers what the stack's queues hold every half second, under the lock the API
server takes, so an upload runs through the whole chain by itself:

    sagechain --local upload ./my-images            # the CLI (cli/), or the AWS CLI:
    aws --endpoint-url http://127.0.0.1:5000 s3 cp ./my-images \
        s3://sagechain-demo-data/datasets/mine/images/ --recursive

Emails land in <out>/outbox/. The emulated endpoint scores images by colour, and the emulated
Ground Truth workforce labels only what a test tells it to, so bring labels (class folders or
COCO, `labeling.mode: provided`) for a run that goes live. Ctrl-C (or SIGTERM) stops it.

<out>/stack.json (default local/out/sandbox/stack.json) describes the sandbox in the shape
CloudFormation's DescribeStacks gives a deployed stack; `sagechain --local` reads it.
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

LAYER = Path(__file__).resolve().parent.parent / "layers" / "common"
sys.path.insert(0, str(LAYER))

from moto import mock_aws  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from local.api import serve  # noqa: E402
from local.demo import Printer  # noqa: E402
from local.outbox import Outbox  # noqa: E402
from local.stack import OFFLINE_ENVIRONMENT, PHYSICAL, LocalStack  # noqa: E402
from local.template import REGION, ROOT  # noqa: E402

POLL_SECONDS = 0.5


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stack_document(stack: LocalStack, api_url: str, s3_url: str) -> dict[str, Any]:
    """The sandbox as CloudFormation's DescribeStacks describes a stack (the outputs the CLI reads,
    every parameter), plus the S3 endpoint to send requests to."""
    outputs = {"DataBucketName": stack.bucket, "ApiUrl": api_url, "OperatorApiUrl": api_url}
    return {
        "StackName": "sagechain-sandbox",
        "StackId": stack.template.resolve({"Ref": "AWS::StackId"}),
        "StackStatus": "CREATE_COMPLETE",
        "Region": REGION,
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": str(value)}
            for key, value in stack.template.parameters.items()
        ],
        "S3EndpointUrl": s3_url,
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080, help="the API's port (default 8080; 0: any free)")
    parser.add_argument("--s3-port", type=int, default=5000, help="the S3 endpoint's port (default 5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "local" / "out" / "sandbox", help="emails go here")
    parser.add_argument("--verbose", action="store_true", help="show the functions' own JSON logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve the sandbox until interrupted."""
    args = _arguments(argv)
    os.environ.update(OFFLINE_ENVIRONMENT)
    signal.signal(signal.SIGTERM, _stop)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: no line per request
    printer = Printer()
    lock = threading.Lock()
    with mock_aws(), LocalStack(parameters={"LogLevel": "DEBUG" if args.verbose else "ERROR"}) as stack:
        s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.s3_port, verbose=False)
        s3_server.start()
        s3_url = "http://{}:{}".format(*s3_server.get_host_and_port())
        api = stack.api()
        # Artifact links are presigned for the deployed bucket; the sandbox's answers on moto's.
        api.replacements[f"https://{stack.bucket}.s3.amazonaws.com/"] = f"{s3_url}/{stack.bucket}/"
        server = serve(api, args.port, lock)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{server.server_port}/v1"
        outbox = Outbox(PHYSICAL["NotificationTopic"], args.out / "outbox")

        def show_emails() -> None:
            for path, subject in outbox.collect():
                printer.line(f"{'email':<18} {subject}  ({path})")

        def between_rounds() -> None:
            """Emails, then the API's turn: a request waits one delivery round, not the whole chain."""
            show_emails()
            lock.release()
            time.sleep(0.01)
            lock.acquire()

        stack_file = args.out / "stack.json"
        printer.line(f"sandbox: S3 {s3_url} (bucket {stack.bucket}), API {api_url} - Ctrl-C stops")
        printer.line(f"  sagechain --local --sandbox-file {stack_file} upload ./my-images")
        printer.line(f"  aws --endpoint-url {s3_url} s3 ls s3://{stack.bucket}/ --recursive")
        printer.line(f"  emails in {outbox.folder}")
        # What `sagechain --local` reads: DescribeStacks' shape, as a deployed stack answers it.
        stack_file.write_text(json.dumps(stack_document(stack, api_url, s3_url), indent=2))
        try:
            while True:
                with lock:
                    stack.run_until_quiet(on_event=printer.event, on_round=between_rounds)
                    for failure in stack.failures:
                        printer.line(f"{'FAILED':<18} {failure.function}: {failure.error}")
                    stack.failures.clear()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            printer.line("stopped")
        finally:
            stack_file.unlink(missing_ok=True)  # `sagechain --local` then says it is not running
            server.shutdown()
            server.server_close()
            s3_server.stop()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Everything is closed; the interpreter's own teardown would spend seconds collecting moto's
    # objects (13 s measured on a busy 2-core machine) before the process ends.
    os._exit(code)
