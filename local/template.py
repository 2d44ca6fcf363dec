"""template.yaml, read the way CloudFormation would resolve it for one local stack."""

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse  # type: ignore[import-untyped]  # SAM CLI ships no types

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "sagechain-demo"
# AWS::StackId: the stack's ARN, as CloudFormation makes it (a fixed id for the local stack).
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/00000000-0000-4000-8000-000000000000"
)
_SUB = re.compile(r"\$\{([^}]+)\}")
# AWS::NoValue: the property it is given to is dropped.
NO_VALUE = object()


def function_name(logical_id: str) -> str:
    """A function's physical name, as CloudFormation makes it: <stack>-<LogicalId>-<suffix>."""
    return f"{STACK_NAME}-{logical_id}-LOCAL"


@dataclass
class QueueSource:
    """An SQS queue a function consumes (a `Type: SQS` event or an AWS::Lambda::EventSourceMapping)."""

    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False


@dataclass
class QueueDefinition:
    """One AWS::SQS::Queue: its name and, when it has one, where its RedrivePolicy moves messages."""

    logical_id: str
    arn: str
    dead_letter_arn: str | None = None
    max_receive_count: int | None = None
    visibility_timeout: int = 30  # SQS's default


@dataclass
class RuleDefinition:
    """One AWS::Events::Rule: its pattern and the queues it targets."""

    logical_id: str
    pattern: dict[str, Any]
    target_arns: list[str]


@dataclass
class FunctionDefinition:
    """One AWS::Serverless::Function: its code folder, environment, EventBridge patterns, the
    queues it consumes and the queue its failed async invocations go to."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    patterns: list[dict[str, Any]] = field(default_factory=list)
    # (method, path, the Api's logical id: RestApiId's Ref, or SAM's implicit ServerlessRestApi)
    api_routes: list[tuple[str, str, str]] = field(default_factory=list)
    queue_sources: list[QueueSource] = field(default_factory=list)
    on_failure_queue_arn: str | None = None
    timeout_seconds: int = 3  # Lambda's default


@functools.cache
def _parsed(path: Path, mtime_ns: int) -> dict[str, Any]:
    """template.yaml parsed once per process and version of the file: SAM's YAML loader is pure
    Python and takes seconds on this template, which every offline stack (every e2e test) reads."""
    del mtime_ns  # part of the cache key only: an edited template is parsed again
    document: dict[str, Any] = yaml_parse(path.read_text())
    return document


def parsed_template(path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    """template.yaml as SAM's loader reads it, a copy the caller may change (parsed once per process)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Template:
    """Parameters, physical names and functions of template.yaml, with intrinsics resolved."""

    def __init__(
        self, physical: dict[str, str], parameters: dict[str, str], path: Path = ROOT / "template.yaml"
    ):
        self.document = parsed_template(path)
        self._physical = physical
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in self.document.get("Parameters", {}).items()
        }
        self.parameters.update(parameters)

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911  # one return per intrinsic
        """A value with Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::If and Fn::FindInMap
        replaced by local names (AWS::NoValue drops its key)."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self._ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            logical, attribute = target.split(".", 1) if isinstance(target, str) else target
            return self._get_att(logical, attribute)
        if set(value) in ({"Fn::Join"}, {"Fn::Sub"}):
            return self._text(value)
        if set(value) == {"Fn::Select"}:
            index, items = self.resolve(value["Fn::Select"])
            return items[int(index)]
        if set(value) == {"Fn::If"}:
            condition, if_true, if_false = value["Fn::If"]
            return self.resolve(if_true if self.condition(condition) else if_false)
        if set(value) == {"Fn::FindInMap"}:
            return self._find_in_map(*value["Fn::FindInMap"])
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _text(self, value: dict[str, Any]) -> str:
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], self.resolve(sub[1]))

            def name(match: re.Match[str]) -> str:
                found = match.group(1)
                return str(variables[found]) if found in variables else str(self._sub_name(found))

            return _SUB.sub(name, text)
        return self._join(*value["Fn::Join"])

    def condition(self, name: str) -> bool:
        """A template condition (only Fn::Equals of resolvable values)."""
        spec = self.document["Conditions"][name]
        if set(spec) != {"Fn::Equals"}:
            raise ValueError(f"condition {name}: only Fn::Equals is resolved locally")
        left, right = self.resolve(spec["Fn::Equals"])
        return str(left) == str(right)

    def _find_in_map(self, mapping: Any, top: Any, second: Any, options: Any = None) -> Any:
        entries = self.document["Mappings"][self.resolve(mapping)]
        found = entries.get(self.resolve(top), {}).get(self.resolve(second))
        if found is None and options is not None:
            return self.resolve(options["DefaultValue"])
        return found

    def _join(self, separator: str, items: Any) -> str:
        # A CommaDelimitedList parameter resolves to its comma-joined text, as it is given.
        resolved = self.resolve(items)
        parts = resolved.split(",") if isinstance(resolved, str) else resolved
        return separator.join(str(part) for part in parts if part != "")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": STACK_ID,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.document["Resources"].get(name, {})
        if resource.get("Type") == "AWS::Serverless::Function" and name not in self._physical:
            return function_name(name)
        return self._physical[name]

    def _get_att(self, logical: str, attribute: str) -> str:
        if attribute == "Arn":
            return self._physical.get(f"{logical}.Arn", f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}")
        return self._physical[f"{logical}.{attribute}"]

    def _sub_name(self, name: str) -> str:
        return self._get_att(*name.split(".", 1)) if "." in name and "::" not in name else self._ref(name)

    def functions(self) -> list[FunctionDefinition]:
        """Every function, with Globals merged in as SAM merges them."""
        global_function = self.document.get("Globals", {}).get("Function", {})
        globals_env = global_function.get("Environment", {}).get("Variables", {})
        found = []
        for logical_id, resource in self.document["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            own_env = props.get("Environment", {}).get("Variables", {})
            environment = {k: str(self.resolve(v)) for k, v in {**globals_env, **own_env}.items()}
            patterns = [
                self.resolve(event["Properties"]["Pattern"])
                for event in props.get("Events", {}).values()
                if event["Type"] == "EventBridgeRule"
            ]
            routes = [
                (
                    str(event["Properties"]["Method"]).upper(),
                    str(event["Properties"]["Path"]),
                    str(event["Properties"].get("RestApiId", {}).get("Ref", "ServerlessRestApi")),
                )
                for event in props.get("Events", {}).values()
                if event["Type"] == "Api"
            ]
            definition = FunctionDefinition(
                logical_id, ROOT / props["CodeUri"], props["Handler"], environment, patterns, routes
            )
            definition.queue_sources = self._queue_sources(logical_id, props)
            on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Type") == "SQS":
                definition.on_failure_queue_arn = str(self.resolve(on_failure["Destination"]))
            definition.timeout_seconds = int(props.get("Timeout", global_function.get("Timeout", 3)))
            found.append(definition)
        return found

    def policies(self, logical_id: str) -> list[dict[str, Any]]:
        """A function's inline policy documents (Properties.Policies), resolved; SAM policy
        templates and managed policy ARNs are refused: the offline stack cannot read them."""
        if "Policies" in self.document.get("Globals", {}).get("Function", {}):
            raise ValueError("Globals.Function.Policies is not read by the offline stack")
        props = self.document["Resources"][logical_id]["Properties"]
        documents = []
        for policy in _as_list(props.get("Policies", [])):
            if not isinstance(policy, dict) or set(policy) - {"Version", "Statement"}:
                raise ValueError(
                    f"{logical_id}: only inline policy documents are evaluated offline, not {policy!r}"
                )
            documents.append(self.resolve(self._lists(policy)))
        return documents

    def _lists(self, value: Any) -> Any:
        """Refs to CommaDelimitedList parameters as lists (as a policy receives them)."""
        if isinstance(value, list):
            return [self._lists(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"} and self._is_list_parameter(value["Ref"]):
            return [part for part in self.parameters[value["Ref"]].split(",") if part]
        return {key: self._lists(item) for key, item in value.items()}

    def _is_list_parameter(self, name: Any) -> bool:
        spec = self.document.get("Parameters", {}).get(name, {})
        return isinstance(spec, dict) and spec.get("Type") == "CommaDelimitedList"

    def _queue_sources(self, logical_id: str, props: dict[str, Any]) -> list[QueueSource]:
        sources = [
            event["Properties"] for event in props.get("Events", {}).values() if event["Type"] == "SQS"
        ]
        sources += [
            {**resource["Properties"], "Queue": resource["Properties"]["EventSourceArn"]}
            for resource in self.document["Resources"].values()
            if resource["Type"] == "AWS::Lambda::EventSourceMapping"
            and resource["Properties"].get("FunctionName") == {"Ref": logical_id}
        ]
        return [
            QueueSource(
                str(self.resolve(source["Queue"])),
                int(source.get("BatchSize", 10)),
                "ReportBatchItemFailures" in source.get("FunctionResponseTypes", []),
            )
            for source in sources
        ]

    def queues(self) -> list[QueueDefinition]:
        """Every AWS::SQS::Queue, with its RedrivePolicy resolved."""
        found = []
        for logical_id, resource in self.document["Resources"].items():
            if resource["Type"] != "AWS::SQS::Queue":
                continue
            props = resource.get("Properties", {})
            redrive = props.get("RedrivePolicy")
            found.append(
                QueueDefinition(
                    logical_id,
                    self._get_att(logical_id, "Arn"),
                    str(self.resolve(redrive["deadLetterTargetArn"])) if redrive else None,
                    int(redrive["maxReceiveCount"]) if redrive else None,
                    int(props.get("VisibilityTimeout", 30)),
                )
            )
        return found

    def rules(self) -> list[RuleDefinition]:
        """Every AWS::Events::Rule (the rules SAM makes from a function's EventBridgeRule events
        are in `functions()`), with its pattern and targets resolved."""
        return [
            RuleDefinition(
                logical_id,
                self.resolve(resource["Properties"]["EventPattern"]),
                [str(self.resolve(target["Arn"])) for target in resource["Properties"].get("Targets", [])],
            )
            for logical_id, resource in self.document["Resources"].items()
            if resource["Type"] == "AWS::Events::Rule"
        ]

    def table(self, logical_id: str, name: str) -> dict[str, Any]:
        """CreateTable arguments for an AWS::DynamoDB::Table: keys and indexes as the template has them."""
        props = self.document["Resources"][logical_id]["Properties"]
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        return request
