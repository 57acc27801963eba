"""Evaluators of the two pattern languages the audit stack writes, to test patterns against records.

- ``log_filter_matches``: CloudWatch Logs JSON filter patterns (metric filters):
  ``{ ($.a = "x*") || ($.b.c != 1) && $.d NOT EXISTS }``. Selectors ``$.a.b`` and
  ``$.a[0]``; ``=`` and ``!=`` on strings (quoted or bare, ``*`` matches any run of
  characters) and numbers; ``<``, ``<=``, ``>``, ``>=`` on numbers; ``EXISTS``,
  ``NOT EXISTS``, ``IS NULL``, ``IS TRUE``, ``IS FALSE``; ``&&`` binds tighter than
  ``||``; parentheses. A comparison on a missing field is false.
- ``event_matches``: EventBridge event patterns: exact values, ``prefix``,
  ``suffix``, ``anything-but`` (values, ``prefix``, ``suffix``), ``exists``,
  ``$or``; an array in the event matches when any element does, and arrays of
  objects are searched field by field. Every matcher but ``exists: false``
  needs the field to be present.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<kw>NOT\s+EXISTS|EXISTS|IS\s+NULL|IS\s+TRUE|IS\s+FALSE)\b
      | (?P<selector>\$(?:\.[A-Za-z0-9_\-]+|\[\d+\])+)
      | "(?P<quoted>(?:[^"\\]|\\.)*)"
      | (?P<bare>[^\s()"&|=!<>]+)
    )""",
    re.VERBOSE,
)


class PatternError(ValueError):
    """The filter pattern is not valid JSON filter syntax."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise PatternError(f"cannot read the pattern at {text[pos:]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _select(record: Any, selector: str) -> Any:
    node = record
    for name, index in re.findall(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]", selector[1:]):
        if name and isinstance(node, dict) and name in node:
            node = node[name]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return _MISSING
    return node


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _equals(value: Any, literal: str, quoted: bool) -> bool:
    if isinstance(value, (dict, list)) or value is _MISSING or value is None:
        return False
    if isinstance(value, bool):
        return not quoted and literal == str(value).lower()
    if isinstance(value, (int, float)):
        number = _number(literal)
        return number is not None and float(value) == number
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in literal)
    return re.fullmatch(regex, str(value), re.DOTALL) is not None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], record: Any) -> None:
        self.tokens, self.pos, self.record = tokens, 0, record

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "the end"
            raise PatternError(f"expected {kind}, found {found!r}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def disjunction(self) -> bool:
        result = self.conjunction()
        while self.peek() == "or":
            self.take("or")
            result = self.conjunction() or result
        return result

    def conjunction(self) -> bool:
        result = self.term()
        while self.peek() == "and":
            self.take("and")
            result = self.term() and result
        return result

    def term(self) -> bool:
        if self.peek() == "lparen":
            self.take("lparen")
            result = self.disjunction()
            self.take("rparen")
            return result
        value = _select(self.record, self.take("selector"))
        if self.peek() == "kw":
            keyword = " ".join(self.take("kw").split())
            return {
                "EXISTS": value is not _MISSING,
                "NOT EXISTS": value is _MISSING,
                "IS NULL": value is None,
                "IS TRUE": value is True,
                "IS FALSE": value is False,
            }[keyword]
        op = self.take("op")
        if self.peek() not in ("quoted", "bare"):
            raise PatternError(f"expected a value after {op}")
        quoted = self.peek() == "quoted"
        literal = self.take(self.peek())
        if op in ("=", "!="):
            if value is _MISSING:
                return False
            return _equals(value, literal, quoted) == (op == "=")
        number = _number(literal)
        if number is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return {"<": value < number, "<=": value <= number, ">": value > number, ">=": value >= number}[op]


def log_filter_matches(pattern: str, record: dict[str, Any]) -> bool:
    """Whether the CloudWatch Logs JSON filter ``pattern`` matches the JSON log event ``record``."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise PatternError("a JSON filter pattern is enclosed in { }")
    parser = _Parser(_tokens(text[1:-1]), record)
    result = parser.disjunction()
    if parser.peek() is not None:
        raise PatternError(f"unexpected {parser.tokens[parser.pos][1]!r}")
    return result


def _leaves(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _value_matches(value: Any, rule: Any) -> bool:
    if not isinstance(rule, dict):
        return value == rule
    ((op, arg),) = rule.items()
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _value_matches(value, arg)
        return value not in _leaves(arg)
    raise ValueError(f"matcher {op!r} is not supported by this evaluator")


def _field_matches(value: Any, rules: list[Any]) -> bool:
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            if (value is not _MISSING) == rule["exists"]:
                return True
        elif value is not _MISSING and any(_value_matches(v, rule) for v in _leaves(value)):
            return True
    return False


def _child(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    if isinstance(value, list):
        found = [item[key] for item in value if isinstance(item, dict) and key in item]
        return [leaf for item in found for leaf in _leaves(item)] if found else _MISSING
    return _MISSING


def _object_matches(node: Any, pattern: dict[str, Any]) -> bool:
    for key, rule in pattern.items():
        if key == "$or":
            if not any(_object_matches(node, branch) for branch in rule):
                return False
        elif isinstance(rule, dict):
            child = _child(node, key)
            if child is _MISSING and not _only_absence(rule):
                return False
            if not _object_matches(child, rule):
                return False
        elif not _field_matches(_child(node, key), rule):
            return False
    return True


def _only_absence(pattern: dict[str, Any]) -> bool:
    """A nested pattern that a missing object can satisfy (every leaf is ``exists: false``)."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(_only_absence(branch) for branch in rule):
                return False
        elif isinstance(rule, dict):
            if not _only_absence(rule):
                return False
        elif not _field_matches(_MISSING, rule):
            return False
    return True


def event_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether the EventBridge event ``pattern`` matches ``event``."""
    return _object_matches(event, pattern)
