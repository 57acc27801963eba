"""A small IAM policy evaluator: enough of AWS's evaluation logic to reason about templates.

It decides one request (action, resource ARN, request context) against policy
statements: action and resource wildcards, ``NotAction``/``NotResource``, explicit
``Deny`` over ``Allow``, and the condition operators the platform uses, evaluated
against the keys the request really carries. A key missing from the request makes
a positive operator (``StringEquals``, ``StringLike``, ``ArnLike``, ``Bool``...)
false: that is how a ``s3:prefix`` condition silently denies every action that
never carries ``s3:prefix``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

Context = Mapping[str, "str | list[str]"]


@dataclass(frozen=True)
class Request:
    """One authorization question. ``principal`` only matters for resource policies.

    :param principal: ``{"Service": "events.amazonaws.com"}`` or ``{"AWS": "arn:aws:iam::123456789012:role/x"}``.
    """

    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    principal: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    effect: str  # "Allow" | "Deny" (explicit) | "ImplicitDeny"
    statements: tuple[dict, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


@lru_cache(maxsize=4096)
def _pattern(glob: str, case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", 0 if case else re.IGNORECASE | re.DOTALL)


def glob_match(glob: str, value: str, *, case: bool = True) -> bool:
    """IAM wildcard match: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    return bool(_pattern(glob, case).match(value))


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(a, action, case=False) for a in _as_list(statement["NotAction"]))
    return any(glob_match(a, action, case=False) for a in _as_list(statement.get("Action")))


def _resource_matches(statement: dict, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_arn_glob(r, resource) for r in _as_list(statement["NotResource"]))
    if "Resource" not in statement:  # resource policies may omit it: the attached resource
        return True
    return any(_arn_glob(r, resource) for r in _as_list(statement["Resource"]))


def _arn_glob(pattern: object, value: str) -> bool:
    return isinstance(pattern, str) and glob_match(pattern, value)


def _principal_matches(statement: dict, principal: Mapping[str, str]) -> bool:
    if "NotPrincipal" in statement:
        raise NotImplementedError("NotPrincipal")
    declared = statement.get("Principal")
    if declared is None or not principal:
        return not principal
    if declared == "*" or declared == {"AWS": "*"}:
        return True
    for kind, value in principal.items():
        for candidate in _as_list(declared.get(kind) if isinstance(declared, dict) else None):
            if candidate == value or (kind == "AWS" and _same_account_root(candidate, value)):
                return True
    return False


def _same_account_root(candidate: object, arn: str) -> bool:
    """An account principal (``arn:...:root`` or the bare id) delegates to that account's IAM policies."""
    if not isinstance(candidate, str) or not arn.startswith("arn:"):
        return False
    account = arn.split(":")[4]
    return candidate == account or (candidate.endswith(":root") and candidate.split(":")[4] == account)


# ---- conditions -------------------------------------------------------------------------------
def _string_eq(policy: str, actual: str) -> bool:
    return policy == actual


def _string_eq_ic(policy: str, actual: str) -> bool:
    return policy.lower() == actual.lower()


def _string_like(policy: str, actual: str) -> bool:
    return glob_match(policy, actual)


def _bool(policy: str, actual: str) -> bool:
    return str(policy).lower() == str(actual).lower()


def _numeric(op: str):
    def compare(policy: str, actual: str) -> bool:
        a, p = float(actual), float(policy)
        return {"Equals": a == p, "LessThan": a < p, "LessThanEquals": a <= p,
                "GreaterThan": a > p, "GreaterThanEquals": a >= p}[op]  # fmt: skip

    return compare


_POSITIVE = {
    "StringEquals": _string_eq,
    "StringEqualsIgnoreCase": _string_eq_ic,
    "StringLike": _string_like,
    "ArnEquals": _string_like,  # ArnEquals and ArnLike both honour wildcards
    "ArnLike": _string_like,
    "Bool": _bool,
    **{
        f"Numeric{op}": _numeric(op)
        for op in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
    },
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


class UnsupportedCondition(NotImplementedError):
    """An operator the evaluator does not know: refuse rather than guess."""


def _lookup(context: Context, key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():
            return [str(v) for v in _as_list(value)]
    return None


def condition_holds(operator: str, key: str, policy_values: object, context: Context) -> bool:
    """One ``operator: {key: values}`` entry against the request context."""
    values = [str(v) for v in _as_list(policy_values)]
    actual = _lookup(context, key)
    if operator == "Null":
        return (actual is None) == (values[0].lower() == "true")
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if base not in _POSITIVE:
        raise UnsupportedCondition(operator)
    compare = _POSITIVE[base]
    if actual is None:
        if qualifier == "ForAllValues":
            return True
        return if_exists or negated
    if qualifier == "ForAllValues":
        hit = all(any(compare(p, a) for p in values) for a in actual)
        return not hit if negated else hit
    any_hit = any(compare(p, a) for p in values for a in actual)
    return not any_hit if negated else any_hit


def conditions_hold(conditions: Mapping[str, Mapping[str, object]] | None, context: Context) -> bool:
    for operator, entries in (conditions or {}).items():
        for key, values in entries.items():
            if not condition_holds(operator, key, values, context):
                return False
    return True


def statements_of(document: Mapping | None) -> list[dict]:
    return [dict(s) for s in _as_list((document or {}).get("Statement"))]


def evaluate(statements: Iterable[dict], request: Request) -> Decision:
    """Explicit Deny wins; else any matching Allow; else implicit deny."""
    allows: list[dict] = []
    denies: list[dict] = []
    for statement in statements:
        if not (_action_matches(statement, request.action) and _resource_matches(statement, request.resource)):
            continue
        if request.principal and not _principal_matches(statement, request.principal):
            continue
        if not conditions_hold(statement.get("Condition"), request.context):
            continue
        (denies if statement.get("Effect") == "Deny" else allows).append(statement)
    if denies:
        return Decision("Deny", tuple(denies))
    if allows:
        return Decision("Allow", tuple(allows))
    return Decision("ImplicitDeny")
