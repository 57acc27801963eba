"""Deterministic generator of a data set described by its spec, with faults injected.

Clean records come from the spec's generator hook when it names one (churn keeps its
domain logic in ``pipelines.data.generators.churn``), otherwise from the generic
generator: the label is drawn first (share ``positive_rate``), then every numeric field
from a normal law inside its typical range whose centre shifts with the label, and every
category with label-tilted weights, so a model has a real signal to learn. Cross-field
rules are kept by drawing again. Faults, each at its own rate: missing optional values,
corrupt rows (bad numbers, numbers outside their domain, fractions in whole-number fields,
bad timestamps and dates, unknown categories, bad labels, missing required fields, broken
JSON), and duplicates (exact re-sends of recent records).

    python -m pipelines.data.generate --rows 100000 --seed 7 --out data/raw.jsonl [--dataset churn]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.data import spec as specs
from pipelines.data.spec import DataSet, Field

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_RULE_ATTEMPTS = 50


@dataclass(frozen=True)
class FaultRates:
    missing: float = 0.03  # per optional field
    corrupt: float = 0.01  # per row
    duplicate: float = 0.02  # per row


def hook(spec: DataSet) -> Callable[[random.Random, int, DataSet], dict] | None:
    """The spec's generator hook (``module:function``), or None for the generic generator."""
    if not spec.generator:
        return None
    module, _, name = spec.generator.partition(":")
    return getattr(importlib.import_module(module), name)


@functools.cache
def _effect(dataset: str, name: str) -> float:
    """A fixed, per-field shift (in standard deviations) between the two label classes."""
    return random.Random(f"{dataset}:{name}").uniform(-1.0, 1.0)


def _number(rng: random.Random, spec: DataSet, f: Field, label: int) -> float | int:
    lo, hi = f.typical or f.domain or (0.0, 1.0)
    sd = (hi - lo) / 6 or 1.0
    value = (lo + hi) / 2 + sd * (rng.gauss(0.0, 1.0) + _effect(spec.name, f.name) * (label - 0.5))
    value = min(hi, max(lo, value))
    return round(value) if f.kind == "integer" else round(value, 6)


def _category(rng: random.Random, spec: DataSet, f: Field, label: int) -> str:
    weights = [math.exp(_effect(spec.name, f"{f.name}={v}") * (label - 0.5) * 2) for v in f.values]
    return rng.choices(f.values, weights=weights)[0]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def keeps(spec: DataSet, record: dict) -> bool:
    """True when the record keeps every cross-field rule of the spec."""
    return all(rule.holds(record.get(rule.left), record.get(rule.right)) for rule in spec.rules)


def generic_record(rng: random.Random, index: int, spec: DataSet) -> dict:
    """A clean record drawn from the spec alone."""
    label = int(rng.random() < (spec.positive_rate or 0.3))
    for _ in range(_RULE_ATTEMPTS):
        moment = EPOCH + timedelta(seconds=rng.randrange(0, 180 * 86_400))
        record: dict = {}
        for f in spec.fields:
            if f.kind == "id":
                record[f.name] = f"{f.name[0].upper()}{index:09d}"
            elif f.kind == "timestamp":
                record[f.name] = _iso(moment)
            elif f.kind == "date":
                record[f.name] = (moment.date() - timedelta(days=rng.randrange(0, 3 * 365))).isoformat()
            elif f.numeric:
                record[f.name] = _number(rng, spec, f, label)
            elif f.kind == "category":
                record[f.name] = _category(rng, spec, f, label)
            elif f.kind == "label":
                record[f.name] = label
        if keeps(spec, record):
            return record
    raise ValueError(f"{spec.name}: no record keeping the rules after {_RULE_ATTEMPTS} draws; check the typical ranges")


def corrupt(rng: random.Random, spec: DataSet, record: dict) -> dict | str:
    """One fault of a kind the spec's fields allow; a string is a broken JSON line."""
    numbers = [f for f in spec.fields if f.numeric]
    kinds: list[Callable[[dict], None]] = []
    if numbers:

        def not_a_number(r: dict) -> None:
            r[rng.choice(numbers).name] = rng.choice(["abc", "12,5", "NaN-ish", "$70"])

        def outside(r: dict) -> None:
            f = rng.choice(numbers)
            lo, hi = f.domain or (0, 0)
            r[f.name] = rng.choice([lo - 1 - abs(lo), hi + 1 + abs(hi)])
            if f.kind == "integer":
                r[f.name] = int(r[f.name])

        kinds += [not_a_number, outside]
    whole = [f for f in numbers if f.kind == "integer"]
    if whole:
        kinds.append(lambda r: r.__setitem__(rng.choice(whole).name, 2.5))
    if spec.time_field:
        kinds.append(lambda r: r.__setitem__(spec.time_field, rng.choice(["yesterday", "2026-13-45T00:00:00Z"])))
    dates = spec.of_kind("date")
    if dates:
        kinds.append(lambda r: r.__setitem__(rng.choice(dates).name, rng.choice(["31/02/2026", "2026-02-30"])))
    categories = spec.of_kind("category")
    if categories:
        kinds.append(lambda r: r.__setitem__(rng.choice(categories).name, rng.choice(["lifetime", "weekly", "???"])))
    kinds.append(lambda r: r.__setitem__(spec.label, rng.choice(["maybe", 3, None])))
    required = [f.name for f in spec.fields if f.required]
    kinds.append(lambda r: r.pop(rng.choice(required), None))
    record = dict(record)
    choice = rng.randrange(len(kinds) + 1)
    if choice == len(kinds):
        return json.dumps(record)[: rng.randrange(5, 40)]  # truncated JSON
    kinds[choice](record)
    return record


def generate(
    rows: int, seed: int = 7, faults: FaultRates = FaultRates(), dataset: DataSet | None = None
) -> Iterator[str]:
    """Yield ``rows`` JSON lines (duplicates included in the count) of ``dataset`` (default: the active one)."""
    spec = dataset or specs.active()
    make = hook(spec) or generic_record
    optional = [f for f in spec.fields if not f.required]
    rng = random.Random(seed)
    recent: list[str] = []
    produced = 0
    index = 0
    while produced < rows:
        if recent and rng.random() < faults.duplicate:
            line = rng.choice(recent)  # an exact re-send of a recent record
        else:
            record: dict | str = make(rng, index, spec)
            index += 1
            for f in optional:
                if rng.random() < faults.missing:
                    record[f.name] = rng.choice([None, ""]) if f.kind == "category" else None  # type: ignore[index]
            if rng.random() < faults.corrupt:
                record = corrupt(rng, spec, record)  # type: ignore[arg-type]
            line = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
            recent.append(line)
            if len(recent) > 1000:
                recent.pop(0)
        produced += 1
        yield line


def write(
    path: Path, rows: int, seed: int = 7, faults: FaultRates = FaultRates(), dataset: DataSet | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for line in generate(rows, seed, faults, dataset):
            out.write(line + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a data set (from its spec) as JSON lines.")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", default=None, help="data-set spec name (default: env DATASET, else churn)")
    args = parser.parse_args(argv)
    dataset = specs.load(args.dataset) if args.dataset else specs.active()
    write(args.out, args.rows, args.seed, dataset=dataset)
    print(f"wrote {args.rows} rows of {dataset.name} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
