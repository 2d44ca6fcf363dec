"""IAM's evaluation of identity-based policies, for the offline stack.

One function's role has only identity-based policies (no boundaries, SCPs or session
policies), so the logic is IAM's for that case ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, then any Allow, else the request is implicitly denied. moto's own
access control (moto.core.access_control) matches actions and resources but ignores
Condition blocks, and the template's guardrails live in conditions, so this evaluator
implements the condition operators the template uses and refuses every other one.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

# A request context value: a single-valued key has one string, a multivalued key several.
ContextValues = tuple[str, ...]
Effect = Literal["Allow", "Deny"]


class UnsupportedConditionError(Exception):
    """A policy uses a condition operator or key the offline evaluator cannot evaluate."""


@dataclass(frozen=True)
class Request:
    """One authorization request: an action on a resource, with its request context."""

    action: str
    resource: str
    context: dict[str, ContextValues] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    """One policy statement, as the template writes it (lists normalised)."""

    sid: str
    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "Statement":
        """A statement from its JSON form; NotAction, NotResource and Principal are refused."""
        unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unknown:
            raise UnsupportedConditionError(
                f"statement {raw.get('Sid')!r}: {sorted(unknown)} not evaluated offline"
            )
        conditions = tuple(
            (
                operator,
                key,
                tuple(
                    str(value).lower() if isinstance(value, bool) else str(value) for value in _listed(values)
                ),
            )
            for operator, block in (raw.get("Condition") or {}).items()
            for key, values in block.items()
        )
        for operator, _, _ in conditions:
            _operator(operator)  # refuses an unknown operator when the policy is read
        return cls(
            str(raw.get("Sid", "")),
            raw["Effect"],
            tuple(str(action) for action in _listed(raw["Action"])),
            tuple(str(resource) for resource in _listed(raw["Resource"])),
            conditions,
        )

    def applies_to(self, request: Request) -> bool:
        """Whether action, resource and every condition match the request."""
        return (
            any(_glob(pattern, ignore_case=True).fullmatch(request.action) for pattern in self.actions)
            and any(_glob(pattern).fullmatch(request.resource) for pattern in self.resources)
            and all(
                _condition_holds(operator, key, values, request.context)
                for operator, key, values in self.conditions
            )
        )


@dataclass(frozen=True)
class Decision:
    """The outcome for one request, and the statement that decided it (none: implicit deny)."""

    allowed: bool
    statement: Statement | None = None


@dataclass(frozen=True)
class Policy:
    """All statements of one role's identity-based policies."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, documents: Iterable[dict[str, Any]]) -> "Policy":
        """A policy from policy documents ({"Version", "Statement"})."""
        return cls(
            tuple(Statement.parse(raw) for document in documents for raw in _listed(document["Statement"]))
        )

    def evaluate(self, request: Request) -> Decision:
        """Explicit Deny wins, then an Allow; otherwise the request is implicitly denied."""
        matching = [statement for statement in self.statements if statement.applies_to(request)]
        for statement in matching:
            if statement.effect == "Deny":
                return Decision(False, statement)
        return Decision(True, matching[0]) if matching else Decision(False)

    def granted_actions(self) -> set[str]:
        """Every action an Allow statement names (as written, wildcards included)."""
        return {
            action
            for statement in self.statements
            if statement.effect == "Allow"
            for action in statement.actions
        }


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: * matches any run of characters (across "/" and ":"), ? one character."""
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def _string_equals(policy: str, value: str) -> bool:
    return policy == value


def _string_like(policy: str, value: str) -> bool:
    return _glob(policy).fullmatch(value) is not None


def _numeric_less_than_equals(policy: str, value: str) -> bool:
    try:
        return float(value) <= float(policy)
    except ValueError:
        return False


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


# Condition operators ("IAM JSON policy elements: Condition operators",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
# ArnEquals and ArnLike both take wildcards; matching the whole ARN is what they do for ARNs
# without wildcards in the account or region fields, as every ARN in the template is.
_MATCHERS = {
    "StringEquals": _string_equals,
    "StringLike": _string_like,
    "ArnEquals": _string_like,
    "ArnLike": _string_like,
    "NumericLessThanEquals": _numeric_less_than_equals,
    "Bool": _bool,
}


def _operator(operator: str) -> tuple[str | None, str, bool]:
    """(set operator, base operator, IfExists) of a condition operator, or UnsupportedConditionError."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if qualifier not in ("", "ForAllValues", "ForAnyValue") or (base not in _MATCHERS and base != "Null"):
        raise UnsupportedConditionError(f"condition operator {operator} is not evaluated offline")
    if base == "Null" and (qualifier or if_exists):
        raise UnsupportedConditionError(f"condition operator {operator} is not evaluated offline")
    return qualifier or None, base, if_exists


def _condition_holds(
    operator: str, key: str, policy_values: tuple[str, ...], context: dict[str, ContextValues]
) -> bool:
    qualifier, base, if_exists = _operator(operator)
    values = _lookup(context, key)
    if base == "Null":
        # "true": the key must be absent; "false": present.
        return all((values is None) == (policy == "true") for policy in policy_values)
    if values is None:
        # A missing key: ForAllValues holds (nothing to check), IfExists holds, the rest fail.
        return qualifier == "ForAllValues" or if_exists
    matcher = _MATCHERS[base]
    if qualifier == "ForAllValues":
        return all(any(matcher(policy, value) for policy in policy_values) for value in values)
    if qualifier == "ForAnyValue":
        return any(matcher(policy, value) for policy in policy_values for value in values)
    if len(values) != 1:
        raise UnsupportedConditionError(
            f"{operator} on multivalued key {key}: use ForAllValues or ForAnyValue"
        )
    return any(matcher(policy, values[0]) for policy in policy_values)


def _lookup(context: dict[str, ContextValues], key: str) -> ContextValues | None:
    # Condition key names are case-insensitive; tag keys after "/" are too.
    lowered = key.lower()
    return next((values for name, values in context.items() if name.lower() == lowered), None)
