"""deploy_model for retried runs (POST /runs/{run_id}/retry): each attempt decides once, a retry
from deployment deploys the chosen model again on a configuration of its attempt, and a stopped
or replaced attempt deploys nothing."""

from datetime import UTC, datetime

import pytest

from sagechain.deployment.bookkeeping import Outcome
from sagechain.deployment.configure_autoscaling import AutoscalingConfig, configure_autoscaling
from sagechain.deployment.deploy_model import DeployConfig, deploy_model, deploy_retry, ended_before_started
from sagechain.errors import RetryableError
from sagechain.event_sources.sagemaker import StateChange
from sagechain.events import (
    DeploymentRejected,
    DeploymentStarted,
    DeploymentWaiting,
    RetryStage,
    RunRetried,
    TrainingStarted,
)
from sagechain.names import ATTEMPT_TAG
from sagechain.ports import EndpointConfig, TuningOutcome, Variant
from sagechain.records import ModelInfo
from tests.deploy_fakes import (
    ARN,
    ENDPOINT,
    JOB,
    ROLE,
    RUN,
    FakeSageMaker,
    completed_job,
    ended_job,
    endpoint_change,
    plan,
    run_model,
    store_with_run,
    training_change,
)
from tests.fakes import MemoryDeploymentStore, RecordingPublisher
from tests.runs import STACK_NAME, claim_attempt, run_retried, stop_attempt

CONFIG = DeployConfig(name_prefix="sagechain", role_arn=ROLE, stack_name=STACK_NAME)
SIBLINGS = [f"{JOB}-0", f"{JOB}-1", f"{JOB}-2"]
NOW = datetime(2026, 11, 25, tzinfo=UTC)


class Stage:
    """One deploy_model setup: fakes in, events and calls out."""

    def __init__(self, store: MemoryDeploymentStore | None = None) -> None:
        self.sagemaker = FakeSageMaker()
        self.store = store or store_with_run()
        self.publisher = RecordingPublisher()

    def run(self, change: StateChange) -> Outcome:
        return deploy_model(
            change, self.sagemaker, self.sagemaker, self.sagemaker.scaling, self.store, self.publisher, CONFIG
        )

    def retry(self, retried: RunRetried) -> Outcome:
        return deploy_retry(
            retried,
            self.sagemaker,
            self.sagemaker,
            self.sagemaker.scaling,
            self.store,
            self.publisher,
            CONFIG,
            now=lambda: NOW,
        )


def retried(attempt: int = 2, from_stage: RetryStage = "deployment") -> RunRetried:
    return run_retried(attempt, from_stage, run_id=RUN)


def deployed_once(stage: Stage) -> EndpointConfig:
    """Attempt 1 deployed JOB onto ENDPOINT, which then failed to come into service."""
    config = EndpointConfig(
        f"{JOB}-config", f"{ARN}:endpoint-config/{JOB}-config", [Variant("AllTraffic", JOB, "ml.m5.large")]
    )
    stage.sagemaker.models[JOB] = {"tags": {}}
    stage.store.objects[f"models/{ENDPOINT}/deploying.json"] = run_model().model_dump_json().encode()
    return config


def test_a_retry_from_deployment_deploys_the_same_job_on_a_configuration_of_its_attempt() -> None:
    # Given a run whose job completed and whose endpoint is in service on attempt 1's configuration
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    config = deployed_once(stage)
    stage.sagemaker.put_endpoint("InService", config)
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    # When the retry arrives
    stage.retry(retried(2))

    # Then the model is not retrained: the same job, a new configuration, the endpoint updated to it
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.attempt, event.training_job_name, event.action) == (2, JOB, "update")
    assert event.endpoint_config_name == f"{JOB}-config-a2"
    assert stage.sagemaker.updates[-1][:2] == (ENDPOINT, f"{JOB}-config-a2")
    tags = stage.sagemaker.resource_tags[f"{ARN}:endpoint-config/{JOB}-config-a2"]
    assert tags[ATTEMPT_TAG] == "2"
    assert stage.sagemaker.calls["CreateModel"] == 1  # already there: counted as created


def test_a_retry_from_deployment_creates_the_endpoint_when_there_is_none() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.action, event.endpoint_config_name) == ("create", f"{JOB}-config-a2")
    assert stage.sagemaker.endpoints[ENDPOINT].config_name == f"{JOB}-config-a2"
    assert (
        ModelInfo.model_validate_json(stage.store.objects[f"runs/{RUN}/model.json"]).training_job_name == JOB
    )


def test_a_failed_endpoint_of_the_runs_dataset_is_deleted_then_the_retry_deploys() -> None:
    # Given attempt 1's endpoint, which failed to be created
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    config = deployed_once(stage)
    stage.sagemaker.put_endpoint("Failed", config, reason="The primary container did not pass the ping check")
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    # When the retry arrives, the endpoint is deleted and the deploy raised to be retried
    with pytest.raises(RetryableError, match="being deleted"):
        stage.retry(retried(2))
    assert stage.sagemaker.calls["DeleteEndpoint"] == 1
    assert stage.publisher.events == []

    # Then, while it is deleting, the deploy is retried again; once it is gone, it is created anew
    with pytest.raises(RetryableError, match="Deleting"):
        stage.retry(retried(2))
    del stage.sagemaker.endpoints[ENDPOINT]
    stage.retry(retried(2))
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.action, event.attempt) == ("create", 2)


def test_a_failed_endpoint_of_another_dataset_is_not_deleted() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    config = deployed_once(stage)
    stage.sagemaker.put_endpoint("Failed", config)
    stranger = run_model().model_copy(update={"dataset": "someone-else"})
    stage.store.objects[f"models/{ENDPOINT}/deploying.json"] = stranger.model_dump_json().encode()
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    assert stage.sagemaker.calls["DeleteEndpoint"] == 0
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)


def test_a_sets_retry_from_deployment_decides_again_among_the_completed_siblings() -> None:
    stage = Stage(store_with_run(plan(mode="sets", job_names=SIBLINGS, hyperparameters=[{}, {}, {}])))
    stage.sagemaker.add_job(completed_job(SIBLINGS[0], accuracy=0.8))
    stage.sagemaker.add_job(ended_job(SIBLINGS[1], "Failed"))
    stage.sagemaker.add_job(completed_job(SIBLINGS[2], accuracy=0.9))
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.training_job_name, event.endpoint_config_name) == (SIBLINGS[2], f"{SIBLINGS[2]}-config-a2")


def test_a_tuning_retry_from_deployment_deploys_the_tunings_best_job() -> None:
    tuning = "sagechain-flowers-tune"
    stage = Stage(store_with_run(plan(mode="tuning", job_names=[], tuning_job_name=tuning)))
    best = completed_job(f"{tuning}-007-abc")
    stage.sagemaker.add_job(best)
    stage.sagemaker.tuning[tuning] = TuningOutcome(
        tuning,
        f"{ARN}:hyper-parameter-tuning-job/{tuning}",
        "Completed",
        best.name,
        "validation:accuracy",
        0.91,
    )
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert event.training_job_name == best.name


def test_a_retry_from_deployment_of_a_job_that_did_not_complete_is_rejected_with_the_way_out() -> None:
    stage = Stage()
    stage.sagemaker.add_job(ended_job(JOB, "Failed"))
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    [event] = stage.publisher.events
    assert isinstance(event, DeploymentRejected)
    assert event.attempt == 2
    assert "retry from training" in event.reason


def test_a_replaced_retry_from_deployment_deploys_nothing() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    claim_attempt(stage.store, 3, "deployment", run_id=RUN)

    outcome = stage.retry(retried(2))

    assert outcome.outcome == "ignored"
    assert stage.publisher.events == []
    assert stage.sagemaker.calls["CreateModel"] == 0


def test_a_retry_of_another_stage_deploys_nothing() -> None:
    stage = Stage()

    assert stage.retry(retried(2, "training")).outcome == "ignored"


def test_a_stopped_runs_training_job_that_completed_anyway_deploys_nothing() -> None:
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    stop_attempt(stage.store, 1, run_id=RUN)

    outcome = stage.run(training_change())

    assert outcome.outcome == "ignored"
    assert "stopped" in outcome.reason
    assert stage.publisher.events == []
    assert stage.sagemaker.calls["CreateModel"] == 0


def test_a_retried_training_decides_again_with_its_own_decision_record() -> None:
    # Given attempt 1's siblings all ended (none completed) and attempt 1 decided (a rejection)
    store = store_with_run(plan(mode="sets", job_names=SIBLINGS[:2], hyperparameters=[{}, {}]))
    stage = Stage(store)
    for name in SIBLINGS[:2]:
        stage.sagemaker.add_job(ended_job(name, "Failed"))
    stage.run(training_change(SIBLINGS[1], "Failed"))
    assert isinstance(stage.publisher.events[-1], DeploymentRejected)
    assert f"runs/{RUN}/deployment/decision.json" in store.objects

    # When attempt 2 retrains both sets and its last one completes
    retrained = [f"{name}-a2" for name in SIBLINGS[:2]]
    second = plan(mode="sets", job_names=retrained, hyperparameters=[{}, {}], attempt=2)
    store.objects[f"runs/{RUN}/training.json"] = second.model_dump_json().encode()
    stage.sagemaker.add_job(ended_job(retrained[0], "Failed"))
    stage.sagemaker.add_job(completed_job(retrained[1]))
    stage.run(training_change(retrained[1]))

    # Then attempt 2 decides for itself, and deploys
    assert f"runs/{RUN}/deployment/decision-a2.json" in store.objects
    event = stage.publisher.events[-1]
    assert isinstance(event, DeploymentStarted)
    assert (event.attempt, event.training_job_name, event.endpoint_config_name) == (
        2,
        retrained[1],
        f"{retrained[1]}-config",
    )


def test_a_retry_whose_siblings_were_all_reused_deploys_from_its_training_started() -> None:
    # Given attempt 2 reused all of attempt 1's completed siblings (stopped before deciding)
    store = store_with_run(plan(mode="sets", job_names=SIBLINGS[:2], hyperparameters=[{}, {}], attempt=2))
    stage = Stage(store)
    stage.sagemaker.add_job(completed_job(SIBLINGS[0], accuracy=0.8))
    stage.sagemaker.add_job(completed_job(SIBLINGS[1], accuracy=0.9))
    started = TrainingStarted(
        run_id=RUN,
        dataset="flowers",
        attempt=2,
        job_names=SIBLINGS[:2],
        reused_jobs=SIBLINGS[:2],
        algorithm="image-classification",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        spot=False,
        train_objects=8,
        validation_objects=2,
    )

    # When its Training Started hands the ended jobs over
    for change in ended_before_started(started, stage.sagemaker, NOW):
        stage.run(change)

    # Then the best one is deployed, once, on a configuration of attempt 2
    [event] = stage.publisher.events
    assert isinstance(event, DeploymentStarted)
    assert (event.attempt, event.training_job_name) == (2, SIBLINGS[1])
    assert event.endpoint_config_name == f"{SIBLINGS[1]}-config-a2"


def test_a_retry_that_meets_a_busy_endpoint_waits_and_starts_later_as_its_attempt() -> None:
    # Given attempt 1's endpoint busy updating when the retry from deployment arrives
    stage = Stage()
    stage.sagemaker.add_job(completed_job())
    config = deployed_once(stage)
    stage.sagemaker.put_endpoint("Updating", config)
    claim_attempt(stage.store, 2, "deployment", run_id=RUN)

    stage.retry(retried(2))

    [waiting] = stage.publisher.events
    assert isinstance(waiting, DeploymentWaiting)
    assert (waiting.attempt, waiting.endpoint_config_name) == (2, f"{JOB}-config-a2")

    # When the endpoint's update ends, configure_autoscaling carries the waiting deployment out
    stage.sagemaker.finish()
    configure_autoscaling(
        endpoint_change("IN_SERVICE", config.name),
        stage.sagemaker,
        stage.sagemaker,
        stage.sagemaker.scaling,
        stage.store,
        stage.publisher,
        AutoscalingConfig("sagechain", "https://api.example.com/v1/models/{model}/predict", STACK_NAME),
    )

    # Then it starts as attempt 2's deployment
    started = [e for e in stage.publisher.events if isinstance(e, DeploymentStarted)]
    assert [(e.attempt, e.endpoint_config_name) for e in started] == [(2, f"{JOB}-config-a2")]
