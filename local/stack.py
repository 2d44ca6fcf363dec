"""The stack in-process on moto, wired as template.yaml wires it.

Uploads reach moto's EventBridge as `aws.s3` Object Created events (the bucket has
EventBridge notifications on, as in the template); each function's rule sends what it
matches to an SQS queue; `run_until_quiet` delivers queued events to the real handlers,
with the function's environment, until no queue holds anything. An event a function fails
on every attempt goes, as Lambda's on-failure destination record, to the function's
OnFailure queue (AsyncFailureQueue); a function with SQS sources (the long stages,
report_failures) gets those queues' messages as Lambda's SQS event, and only the messages it
does not name in batchItemFailures are deleted (the queues' RedrivePolicy, as moto keeps it,
moves the rest).

Time passes as on AWS: Lambda's async retries come one, then two minutes after a failure, and
a queued message a function failed on comes back when its queue's visibility timeout ends. The
stack's clock (time-machine) jumps those gaps instead of sleeping, so an idempotency record a
crashed invocation left INPROGRESS has expired exactly when it would have. `RuntimeCrash`,
raised from inside a handler, is Lambda killing the runtime (a timeout, out of memory): no
`except Exception` in the handler, Powertools' included, sees it.
"""

import importlib.util
import json
import os
import re
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import time_machine
from moto.sqs.models import sqs_backends

from local.api import LocalApi, Route
from local.botocore_cache import share_botocore_loader
from local.containers import LocalContainer
from local.iam_guard import IamGuard
from local.lambda_context import FakeLambdaContext
from local.sagemaker import EmulatedSageMaker
from local.template import (
    ACCOUNT,
    REGION,
    FunctionDefinition,
    QueueDefinition,
    QueueSource,
    Template,
    function_name,
)
from sagechain.adapters import clients

share_botocore_loader()

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

PHYSICAL = {
    "DataBucket": "sagechain-demo-data",
    "RunsTable": "sagechain-demo-runs",
    "IdempotencyTable": "sagechain-demo-idempotency",
    "NotificationTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:sagechain-demo-notifications",
    "SageMakerExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/sagechain-demo-sagemaker",
    "Api": "local",
    "OperatorApi": "local-operator",
}
API_IDS = ("Api", "OperatorApi")
# ApiAuth=API_KEY offline: one key per API's usage plan (ApiApiKey, OperatorApiApiKey), as SAM's
# CreateUsagePlan PER_API makes them. A request with x-api-key must carry its route's API's key.
OFFLINE_API_KEYS = {"offline-inference-key": "Api", "offline-operator-key": "OperatorApi"}
# The ARNs the functions' policies name (template.yaml's GetAtt ... .Arn).
PHYSICAL["DataBucket.Arn"] = f"arn:aws:s3:::{PHYSICAL['DataBucket']}"
for _table in ("RunsTable", "IdempotencyTable"):
    PHYSICAL[f"{_table}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{PHYSICAL[_table]}"
# The template's queues, named as moto will create them.
QUEUES = {
    "RulesDeadLetterQueue": "sagechain-demo-rules-dead-letters",
    "AsyncFailureQueue": "sagechain-demo-async-failures",
    "ReportFailuresDeadLetterQueue": "sagechain-demo-report-failures-dead-letters",
    "PrepareDatasetQueue": "sagechain-demo-prepare-dataset",
    "PrepareDatasetDeadLetterQueue": "sagechain-demo-prepare-dataset-dead-letters",
    "StartTrainingQueue": "sagechain-demo-start-training",
    "StartTrainingDeadLetterQueue": "sagechain-demo-start-training-dead-letters",
    "StartBatchQueue": "sagechain-demo-start-batch",
    "StartBatchDeadLetterQueue": "sagechain-demo-start-batch-dead-letters",
    "CollectBatchQueue": "sagechain-demo-collect-batch",
    "CollectBatchDeadLetterQueue": "sagechain-demo-collect-batch-dead-letters",
    "CollectLabelsQueue": "sagechain-demo-collect-labels",
    "CollectLabelsDeadLetterQueue": "sagechain-demo-collect-labels-dead-letters",
}
for _logical, _name in QUEUES.items():
    PHYSICAL[f"{_logical}.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{_name}"
    PHYSICAL[f"{_logical}.QueueName"] = _name
    PHYSICAL[_logical] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{_name}"
# Endpoint expiry (deployment.ttl_hours): configure_autoscaling's schedules invoke this function
# as this role; fire_schedules invokes it.
PHYSICAL["ExpireEndpointFunction.Arn"] = (
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name('ExpireEndpointFunction')}"
)
PHYSICAL["ExpirySchedulerRole.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/sagechain-demo-expiry-scheduler"
PHYSICAL["BatchDeadlineSchedulerRole.Arn"] = (
    f"arn:aws:iam::{ACCOUNT}:role/sagechain-demo-batch-deadline-scheduler"
)
DEMO_PARAMETERS = {
    "NotificationEmail": "ml-team@example.com",
    "DefaultWorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/sagechain-demo",
}
# Nothing offline may reach AWS: dummy credentials, one region, no X-Ray daemon, and
# metrics kept out of the demo's output.
OFFLINE_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_SESSION_TOKEN": "offline",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
# Lambda retries a failed async invoke twice, one minute and then two minutes later
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
ATTEMPTS = 3
RETRY_WAITS_SECONDS = (60, 120)


class RuntimeCrash(BaseException):  # named for what it models, not an error class
    """Lambda killed the runtime mid-invocation (timeout, out of memory): raise it from a test's
    hook. A BaseException, so no `except Exception` in a handler can clean up after it."""


@dataclass
class Delivery:
    """One event handed to one function."""

    function: str
    event: dict[str, Any]
    error: str | None = None


@dataclass
class LocalFunction:
    """A function with its rule's queue and its handler loaded."""

    definition: FunctionDefinition
    queue_url: str
    module: ModuleType | None = None


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class LocalStack:
    """Resources, rules and handlers of one local stack; call inside moto's mock_aws."""

    parameters: dict[str, str] = field(default_factory=dict)
    # EventBridge delivers at least once and SageMaker may send a state change twice:
    # deliver_twice hands every event to its function a second time.
    deliver_twice: bool = False
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    failures: list[Delivery] = field(default_factory=list)
    observed: list[dict[str, Any]] = field(default_factory=list)
    # Custom images whose code runs for real offline, by image URI (local/containers.py); any other
    # custom image is simulated.
    containers: dict[str, LocalContainer] = field(default_factory=dict)
    # Every Lambda invocation, by function: each attempt of an async invoke, each SQS batch (each
    # delivery of deliver_twice too), each synchronous invoke. What a run costs in invocations.
    invocations: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.template = Template(PHYSICAL, {**DEMO_PARAMETERS, **self.parameters})
        self.bucket = PHYSICAL["DataBucket"]
        self.sagemaker = EmulatedSageMaker(emit=self._emit_sagemaker_event, containers=dict(self.containers))
        self._traveller: Any = None
        self._clock: Any = None
        self._queue_urls: dict[str, str] = {}
        # (function, queue URL) whose empty polls IAM has allowed: the same request every round.
        self._empty_polls_allowed: set[tuple[str, str]] = set()
        self.waited_seconds = 0
        self.iam = IamGuard(
            self.template, [definition.logical_id for definition in self.template.functions()]
        )

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass on the stack's clock (every Python clock moves: moto, Powertools)."""
        if self._clock is None:
            self._traveller = time_machine.travel(time.time(), tick=True)
            self._clock = self._traveller.start()
        self._clock.shift(seconds)
        self.waited_seconds += int(seconds)

    def __enter__(self) -> "LocalStack":
        # Before the emulation's session: every session created from now on is checked.
        self.iam.install()
        self.sagemaker.install()
        self._sqs = boto3.client("sqs", region_name=REGION)
        self._events = boto3.client("events", region_name=REGION)
        return self.create()

    def __exit__(self, *_: object) -> None:
        self.sagemaker.uninstall()
        self.iam.uninstall()
        clients.clear_client_cache()
        if self._traveller is not None:
            self._traveller.stop()

    def _emit_sagemaker_event(self, detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        """SageMaker's state-change events reach the default bus as AWS sends them."""
        self._events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": resources,
                }
            ]
        )

    def create(self) -> "LocalStack":
        """The template's stateful resources, rules and queues (use the stack as a context manager)."""
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=PHYSICAL["IdempotencyTable"],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # Keys and indexes as template.yaml declares them.
        dynamodb.create_table(**self.template.table("RunsTable", PHYSICAL["RunsTable"]))
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="sagechain-demo-notifications")["TopicArn"]
        # NotificationEmailSubscription, as the template makes it (moto lists it confirmed).
        sns.subscribe(
            TopicArn=topic, Protocol="email", Endpoint=self.template.parameters["NotificationEmail"]
        )
        # Dead-letter targets first: a RedrivePolicy names an existing queue.
        for queue in _targets_first(self.template.queues()):
            # A message the consumer returns is back when its visibility timeout ends, on the
            # stack's clock (see _let_time_pass).
            attributes: dict[QueueAttributeNameType, str] = {
                "VisibilityTimeout": str(queue.visibility_timeout)
            }
            if queue.dead_letter_arn:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": queue.dead_letter_arn, "maxReceiveCount": queue.max_receive_count}
                )
            self._sqs.create_queue(QueueName=QUEUES[queue.logical_id], Attributes=attributes)
        for definition in self.template.functions():
            url = self._queue_for(definition.logical_id, definition.patterns)
            self.functions[definition.logical_id] = LocalFunction(definition, url)
        # Rules declared as AWS::Events::Rule send to the template's queues.
        for rule in self.template.rules():
            self._events.put_rule(Name=rule.logical_id, EventPattern=json.dumps(rule.pattern))
            self._events.put_targets(
                Rule=rule.logical_id,
                Targets=[{"Id": f"target-{i}", "Arn": arn} for i, arn in enumerate(rule.target_arns)],
            )
        self._observer = self._queue_for("Observer", [{"source": ["sagechain"]}])
        return self

    def _queue_for(self, name: str, patterns: list[dict[str, Any]]) -> str:
        url = self._sqs.create_queue(QueueName=f"local-{name}")["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:local-{name}"  # as SQS names it: no call to ask
        for index, pattern in enumerate(patterns):
            rule = f"{name}-{index}"
            self._events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
            self._events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
        return url

    def _handler(self, function: LocalFunction) -> Callable[[dict[str, Any], Any], Any]:
        if function.module is None:
            # Cold start: fresh clients and settings under this function's environment.
            clients.clear_client_cache()
            module_name = function.definition.handler.rsplit(".", 1)[0]
            path = function.definition.code_dir / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"local_{function.definition.logical_id}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            with _environment(function.definition.environment):
                spec.loader.exec_module(module)
            function.module = module
        attribute = function.definition.handler.rsplit(".", 1)[1]
        handler: Callable[[dict[str, Any], Any], Any] = getattr(function.module, attribute)
        return handler

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """A synchronous invoke (as API Gateway makes): the handler's result, errors raised."""
        function = self.functions[logical_id]
        handler = self._handler(function)
        self.invocations[logical_id] += 1
        with _environment(function.definition.environment), self.iam.acting_as(logical_id):
            return handler(event, self._context(function))

    def api(self) -> LocalApi:
        """The REST APIs (Api and OperatorApi, on one local server): every function's `Type: Api`
        routes, answered by invoke(). OFFLINE_API_KEYS model the per-API usage plans."""
        routes = [
            Route(logical_id, method, path, api)
            for logical_id, function in self.functions.items()
            for method, path, api in function.definition.api_routes
        ]
        # The base URLs template.yaml gives the functions (PREDICT_URL_TEMPLATE, OPERATOR_API_URL).
        deployed = {api: f"https://{PHYSICAL[api]}.execute-api.{REGION}.amazonaws.com/v1" for api in API_IDS}
        return LocalApi(routes, self.invoke, OFFLINE_API_KEYS, deployed)

    def queue_url(self, arn: str) -> str:
        """The URL of one of the template's queues, by ARN (asked once: the stack never deletes one)."""
        if arn not in self._queue_urls:
            self._queue_urls[arn] = str(self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])
        return self._queue_urls[arn]

    @staticmethod
    def _holds_visible(url: str) -> bool:
        """Whether ReceiveMessage on the queue would return a message now, read from moto's state.
        A receive that returns nothing changes nothing in moto, and most of the harness's calls were
        such receives of empty queues (every queue, every round): skipping them is the e2e suite's speed."""
        return bool(sqs_backends[ACCOUNT][REGION].queues[url.rsplit("/", 1)[-1]].messages)

    def _drain(self, url: str) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        if not self._holds_visible(url):
            return received
        while True:
            batch = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def run_until_quiet(
        self,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        max_rounds: int = 100,
        on_round: Callable[[], None] | None = None,
    ) -> list[Delivery]:
        """Deliver queued events to handlers until nothing is queued; failures are kept."""
        deliveries: list[Delivery] = []
        for _ in range(max_rounds):
            delivered = False
            for function in self.functions.values():
                for event in self._drain(function.queue_url):
                    delivered = True
                    deliveries.append(self._invoke(function, event))
                    if self.deliver_twice:
                        deliveries.append(self._invoke(function, event))
                for source in function.definition.queue_sources:
                    polled = self._poll(function, source)
                    if polled is not None:
                        delivered = True
                        deliveries.append(polled)
            for event in self._drain(self._observer):
                self.observed.append(event)
                if on_event:
                    on_event(event)
                delivered = True
            if on_round:
                on_round()
            # When every queue is empty, SageMaker's jobs and endpoints move one step; when
            # nothing moves, time passes until a returned message is visible again. A receive
            # that found nothing may have moved a message to a dead letter queue (its
            # RedrivePolicy acts on receive): that queue's consumer gets it in the next round.
            if delivered or self._moved_to_a_consumed_queue():
                continue
            if not self.sagemaker.advance() and not self._let_time_pass():
                return deliveries
        raise RuntimeError(f"the chain did not settle in {max_rounds} rounds")

    def _context(self, function: LocalFunction) -> FakeLambdaContext:
        logical_id = function.definition.logical_id
        return FakeLambdaContext(
            function_name=function_name(logical_id),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name(logical_id)}",
            timeout_ms=function.definition.timeout_seconds * 1000,
        )

    def _moved_to_a_consumed_queue(self) -> bool:
        """Whether a queue some function consumes holds a visible message (moved there by a
        RedrivePolicy during a receive that returned nothing)."""
        return any(
            self._holds_visible(self.queue_url(source.queue_arn))
            for function in self.functions.values()
            for source in function.definition.queue_sources
        )

    def _let_time_pass(self) -> bool:
        """Wait out the visibility timeout of the template queues holding returned (in-flight)
        messages, so they are delivered again; whether any was waiting."""
        waits = []
        for queue in self.template.queues():
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url(queue.arn), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")):
                waits.append(queue.visibility_timeout)
        if not waits:
            return False
        self.wait(max(waits) + 1)
        return True

    def _invoke(self, function: LocalFunction, event: dict[str, Any]) -> Delivery:
        delivery = Delivery(function.definition.logical_id, event)
        handler = self._handler(function)
        error: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            if attempt > 1:
                self.wait(RETRY_WAITS_SECONDS[attempt - 2])
            self.invocations[delivery.function] += 1
            try:
                with _environment(function.definition.environment), self.iam.acting_as(delivery.function):
                    handler(event, self._context(function))
            except (Exception, RuntimeCrash) as err:
                error = err if isinstance(err, Exception) else RuntimeError(f"Runtime exited: {err}")
                delivery.error = f"{type(err).__name__}: {err}"
            else:
                delivery.error = None
                return delivery
        self.failures.append(delivery)
        if function.definition.on_failure_queue_arn and error is not None:
            self._sqs.send_message(
                QueueUrl=self.queue_url(function.definition.on_failure_queue_arn),
                MessageBody=json.dumps(
                    _destination_record(function_name(function.definition.logical_id), event, error)
                ),
            )
        return delivery

    def _poll(self, function: LocalFunction, source: QueueSource) -> Delivery | None:
        """One batch of a queue to the function, as Lambda's SQS poller hands it (twice with
        deliver_twice: SQS delivers at least once); None when the queue had none to give."""
        url = self.queue_url(source.queue_arn)
        if not self._holds_visible(url):
            # Nothing to receive: the poller's calls are still authorized (and recorded) as the
            # function's, without asking moto for an empty answer; an identical request once.
            allowed = (function.definition.logical_id, url)
            if allowed not in self._empty_polls_allowed:
                for operation, params in _poll_calls(url, source):
                    self.iam.authorize(function.definition.logical_id, self._sqs, operation, params)
                self._empty_polls_allowed.add(allowed)
            return None
        # Lambda's poller reads and deletes with the function's role.
        with self.iam.acting_as(function.definition.logical_id):
            attributes, receive = _poll_calls(url, source)
            self._sqs.get_queue_attributes(**attributes[1])
            batch = self._sqs.receive_message(**receive[1]).get("Messages", [])
        if not batch:
            return None
        event = {"Records": [_sqs_record(message, source.queue_arn) for message in batch]}
        delivery = Delivery(function.definition.logical_id, event)
        handler = self._handler(function)
        try:
            with _environment(function.definition.environment), self.iam.acting_as(delivery.function):
                self.invocations[delivery.function] += 1
                response = handler(event, self._context(function))
                if self.deliver_twice:
                    self.invocations[delivery.function] += 1
                    response = handler(event, self._context(function))
        except (Exception, RuntimeCrash) as err:
            # The whole batch returns to the queue; its RedrivePolicy counts the receive.
            delivery.error = f"{type(err).__name__}: {err}"
            self.failures.append(delivery)
            return delivery
        retry = {
            item["itemIdentifier"]
            for item in (response or {}).get("batchItemFailures", [])
            if source.report_batch_item_failures
        }
        if retry:
            delivery.error = f"returned to the queue: {sorted(retry)}"
            self.failures.append(delivery)
        with self.iam.acting_as(function.definition.logical_id):
            for message in batch:
                if message["MessageId"] not in retry:
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return delivery

    # ------------------------------------------------------------ EventBridge Scheduler, offline
    def fire_schedules(self, now: datetime | None = None) -> list[Delivery]:
        """Invoke every one-time schedule due by `now` (the stack's clock by default) as EventBridge
        Scheduler does: an async invoke of its Lambda target with its Input (a message with its Input
        as the body for an SQS target; the returned deliveries are the Lambda ones), then the schedule is
        deleted when its ActionAfterCompletion is DELETE. Call run_until_quiet after it."""
        scheduler = boto3.client("scheduler", region_name=REGION)
        due_by = now or datetime.now(UTC)
        targets = {
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name(logical_id)}": function
            for logical_id, function in self.functions.items()
        }
        deliveries = []
        for listed in scheduler.list_schedules()["Schedules"]:
            name, group = listed["Name"], listed.get("GroupName", "default")
            schedule = scheduler.get_schedule(Name=name, GroupName=group)
            at = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
            if at is None:
                raise NotImplementedError(f"schedule {name}: only at() expressions fire offline")
            zone = schedule.get("ScheduleExpressionTimezone", "UTC")
            if zone != "UTC":
                raise NotImplementedError(f"schedule {name}: only UTC fires offline, not {zone}")
            if datetime.fromisoformat(at[1]).replace(tzinfo=UTC) > due_by:
                continue
            target, payload = schedule["Target"], schedule["Target"].get("Input") or "{}"
            if target["Arn"].startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:"):
                # An SQS target is sent its Input as the message body (a batch's deadline).
                self._sqs.send_message(QueueUrl=self.queue_url(target["Arn"]), MessageBody=payload)
            else:
                deliveries.append(self._invoke(targets[target["Arn"]], json.loads(payload)))
            if schedule.get("ActionAfterCompletion") == "DELETE":
                scheduler.delete_schedule(Name=name, GroupName=group)
        return deliveries


def _poll_calls(url: str, source: QueueSource) -> list[tuple[str, dict[str, Any]]]:
    """The calls Lambda's SQS poller makes for one batch: (operation, parameters)."""
    return [
        ("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["VisibilityTimeout"]}),
        (
            "ReceiveMessage",
            {
                "QueueUrl": url,
                "MaxNumberOfMessages": min(source.batch_size, 10),
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        ),
    ]


def _targets_first(queues: list[QueueDefinition]) -> list[QueueDefinition]:
    """The queues in an order where each one's dead-letter target comes before it."""
    ordered: list[QueueDefinition] = []
    pending = list(queues)
    while pending:
        ready = [q for q in pending if q.dead_letter_arn in (None, *(o.arn for o in ordered))]
        if not ready:
            raise ValueError(f"RedrivePolicy targets outside the template: {[q.logical_id for q in pending]}")
        ordered += ready
        pending = [q for q in pending if q not in ready]
    return ordered


def _destination_record(function: str, event: dict[str, Any], error: Exception) -> dict[str, Any]:
    """Lambda's on-failure destination record for an async invocation that failed every attempt
    ("Capturing records of Lambda asynchronous invocations",
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    request_id = str(uuid.uuid4())
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": ATTEMPTS,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        },
    }


def _sqs_record(message: "MessageTypeDef", queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage message as one record of Lambda's SQS event
    (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
