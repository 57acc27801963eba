"""The Firehose transform's model is the active data-set spec's: each field's rule, whichever the data set."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta

import pytest

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ingest")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MlopsTest")

from lambdas.firehose_transform import model
from lambdas.firehose_transform.logic import transform_data
from pipelines.data import spec as specs
from pipelines.data.generate import FaultRates, generate

DATASET = specs.active()
EXAMPLE = json.loads(next(generate(1, seed=1, faults=FaultRates(0, 0, 0), dataset=DATASET)))


def check(record: dict) -> tuple[bool, str]:
    return transform_data(base64.b64encode(json.dumps(record).encode()).decode())


def cases() -> list[tuple[str, object, str]]:
    """(field, bad value, reason) for every field of the active spec, from its kind and domain."""
    out: list[tuple[str, object, str]] = []
    for f in DATASET.fields:
        if f.numeric:
            lo, hi = f.domain
            out.append((f.name, "12", "Input should be a valid"))
            out.append((f.name, lo - 1, "greater than or equal to"))
            out.append((f.name, hi + 1, "less than or equal to"))
        elif f.kind == "category":
            out.append((f.name, "not-a-value", "not one of"))
        elif f.kind == "label":
            out.append((f.name, "maybe", "Input should be 0 or 1"))
        elif f.kind == "id":
            out.append((f.name, "", "at least 1 character"))
        elif f.kind in ("timestamp", "date"):
            out.append((f.name, "someday", f"{f.name}: "))
    return out


def test_the_model_is_the_active_specs() -> None:
    assert model.DATASET == DATASET
    assert list(model.Event.model_fields) == [
        *(f.name for f in specs.required_fields(DATASET)),
        *(f.name for f in specs.optional_fields(DATASET)),
    ]
    for f in DATASET.fields:
        assert model.Event.model_fields[f.name].is_required() == f.required, f.name


def test_the_generated_example_passes_and_keeps_its_values() -> None:
    ok, line = check(EXAMPLE)
    assert ok, line
    event = json.loads(line)
    for f in specs.numeric_fields(DATASET):
        assert event[f.name] == EXAMPLE[f.name]
    assert event[DATASET.label] == EXAMPLE[DATASET.label]


@pytest.mark.parametrize(("name", "value", "reason"), cases())
def test_a_value_outside_its_field_rule_fails_with_the_reason(name: str, value: object, reason: str) -> None:
    ok, text = check({**EXAMPLE, name: value})
    assert not ok and text.startswith(name) and reason in text, text


@pytest.mark.parametrize("name", [f.name for f in specs.required_fields(DATASET)])
def test_a_missing_required_field_fails(name: str) -> None:
    ok, text = check({k: v for k, v in EXAMPLE.items() if k != name})
    assert not ok and f"{name}: Field required" in text


@pytest.mark.parametrize("name", [f.name for f in specs.optional_fields(DATASET)])
def test_a_missing_or_blank_optional_field_is_none(name: str) -> None:
    for missing in ({k: v for k, v in EXAMPLE.items() if k != name}, {**EXAMPLE, name: " "}):
        ok, line = check(missing)
        assert ok, line
        assert json.loads(line)[name] is None


def test_an_unknown_field_fails() -> None:
    ok, text = check({**EXAMPLE, "favourite_colour": "red"})
    assert not ok and "favourite_colour: Extra inputs are not permitted" in text


def breaking(rule: specs.Rule) -> dict:
    """The example with one side of ``rule`` moved so the rule no longer holds (each value valid alone)."""
    left, right = DATASET.field(rule.left), DATASET.field(rule.right)
    above = rule.op in ("<", "<=", "=")  # the left side must go above the right one to break the rule
    if left.numeric:
        return {**EXAMPLE, rule.left: left.domain[1 if above else 0], rule.right: right.domain[0 if above else 1]}
    days = timedelta(days=2 if above else -2)
    if left.kind == "date":
        moved = (datetime.fromisoformat(EXAMPLE[rule.right].replace("Z", "+00:00")).date() + days).isoformat()
        return {**EXAMPLE, rule.left: moved}
    instant = datetime.fromisoformat(EXAMPLE[rule.left].replace("Z", "+00:00"))
    if right.kind == "date":
        return {**EXAMPLE, rule.right: (instant.date() - days).isoformat()}
    return {**EXAMPLE, rule.right: (instant - days).isoformat().replace("+00:00", "Z")}


@pytest.mark.parametrize("rule", [r for r in DATASET.rules if r.op != "!="], ids=lambda r: r.name)
def test_a_broken_cross_field_rule_fails_with_its_message(rule: specs.Rule) -> None:
    broken = breaking(rule)
    assert not rule.holds(broken[rule.left], broken[rule.right])
    ok, text = check(broken)
    assert not ok and rule.reason() in text, text
