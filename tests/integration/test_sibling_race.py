"""Only one sibling decides: training jobs of one run that end together, handled by concurrent
writers on moto's S3 (the conditional write is the real PutObject with If-None-Match: *).

moto (5.2) supports IfNoneMatch on PutObject but checks and writes in two steps: with threads
switching every microsecond, about one trial in ten let two writers through (measured with 8
writers, 100 trials). S3 makes the write atomic: one writer wins, the others get 412
PreconditionFailed (or 409 ConditionalRequestConflict). The `atomic_conditional_writes` fixture
gives moto that guarantee, conditional PutObjects only, so everything else still races.
"""

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.responses import S3Response

from sagechain.adapters.s3 import S3ObjectStore
from sagechain.deployment.deploy_model import DeployConfig, Outcome, deploy_model
from sagechain.events import DeploymentStarted
from tests.aws import BUCKET, create_stack_resources
from tests.deploy_fakes import ROLE, RUN, FakeSageMaker, completed_job, plan, spec, training_change
from tests.fakes import RecordingPublisher
from tests.runs import STACK_NAME

pytestmark = pytest.mark.integration
CONFIG = DeployConfig(name_prefix="sagechain", role_arn=ROLE, stack_name=STACK_NAME)
SIBLINGS = [f"sagechain-{RUN}-set-{i}" for i in (1, 2, 3)]
ROUNDS = 15


def _now() -> datetime:
    return datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
def atomic_conditional_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's conditional PutObject made atomic, as S3's is; threads switch every microsecond."""
    lock = threading.Lock()
    put_object: Callable[[S3Response], Any] = S3Response.put_object

    def atomic_put(self: S3Response) -> Any:
        if not self.headers.get("If-None-Match"):
            return put_object(self)
        with lock:
            return put_object(self)

    monkeypatch.setattr(S3Response, "put_object", atomic_put)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with mock_aws():
            create_stack_resources()
            yield
    finally:
        sys.setswitchinterval(interval)


def together(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call on its own thread, all released at once; their results (or exceptions)."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except Exception as err:  # a failed writer is a result the test reports
            results[index] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.usefixtures("atomic_conditional_writes")
def test_of_eight_concurrent_conditional_writes_to_one_key_exactly_one_is_written() -> None:
    store = S3ObjectStore(BUCKET, boto3.client("s3"))
    # One conditional write first: moto imports its S3 modules on the first request, and
    # eight threads importing at once may see a half-imported module (an ImportError).
    store.put_bytes_if_absent("runs/warm-up/deployment/decision.json", b"{}", "application/json")

    for trial in range(ROUNDS):
        key = f"runs/race-{trial}/deployment/decision.json"
        writes = [
            partial(store.put_bytes_if_absent, key, f"writer {n}".encode(), "application/json")
            for n in range(8)
        ]

        won = together(writes)

        assert sorted(won, key=str) == [False] * 7 + [True], won
        assert store.read_bytes(key, 100) == f"writer {won.index(True)}".encode()


@pytest.mark.usefixtures("atomic_conditional_writes")
def test_siblings_ending_together_deploy_once_the_best_chosen_by_exactly_one() -> None:
    s3 = boto3.client("s3")
    store = S3ObjectStore(BUCKET, s3)
    record = plan(job_names=SIBLINGS)
    # Each thread lists the run's attempts (attempts.why_not_start) and writes conditionally:
    # both once first, so moto imports its S3 modules before the threads race to.
    list(store.iter_objects("runs/warm-up/attempts/"))
    store.put_bytes_if_absent("runs/warm-up/deployment/decision.json", b"{}", "application/json")

    for trial in range(ROUNDS):
        # Given a run's three siblings all completed, their events handled at the same moment
        run_id = f"{RUN}-{trial}"
        s3.put_object(
            Bucket=BUCKET,
            Key=f"runs/{run_id}/training.json",
            Body=record.model_copy(update={"run_id": run_id}).model_dump_json().encode(),
        )
        s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/spec.json", Body=spec().model_dump_json().encode())
        sagemaker, publisher = FakeSageMaker(), RecordingPublisher()
        for name, accuracy in zip(SIBLINGS, (0.90, 0.96, 0.93), strict=True):
            sagemaker.add_job(completed_job(name, accuracy), run_id=run_id)

        # When each sibling's completion is handled on its own thread
        outcomes = together(
            [
                partial(
                    deploy_model,
                    training_change(name, tagged=False),
                    sagemaker,
                    sagemaker,
                    sagemaker.scaling,
                    store,
                    publisher,
                    CONFIG,
                    now=_now,
                )
                for name in SIBLINGS
            ]
        )

        # Then exactly one decides, the others are told it already chose, and the best goes live
        assert all(isinstance(outcome, Outcome) for outcome in outcomes), outcomes
        decided = [o for o in outcomes if isinstance(o, Outcome) and o.outcome != "ignored"]
        assert len(decided) == 1, outcomes
        assert sum("already chose the model" in str(o) for o in outcomes) == 2, outcomes
        [started] = publisher.events
        assert isinstance(started, DeploymentStarted)
        assert started.training_job_name == SIBLINGS[1]
        assert (sagemaker.calls["CreateModel"], sagemaker.calls["CreateEndpoint"]) == (1, 1)
