"""Deterministic generator of a realistic customer-churn data set, with faults injected.

The label follows a logistic model of the features (short tenure, monthly
contracts, electronic checks, fiber, many support calls and high charges raise
churn), so a model has a real signal to learn. Faults, each at its own rate:
missing optional values, corrupt rows (bad numbers, bad dates, unknown
categories, values outside their domain, broken JSON), and duplicates (exact
copies and re-sent records).

    python -m pipelines.data.generate --rows 100000 --seed 7 --out data/raw.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.data.schema import CONTRACTS, INTERNET_SERVICES, OPTIONAL, PAYMENT_METHODS, REGIONS

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FaultRates:
    missing: float = 0.03  # per optional field
    corrupt: float = 0.01  # per row
    duplicate: float = 0.02  # per row


def _clean_record(rng: random.Random, index: int) -> dict:
    contract = rng.choices(CONTRACTS, weights=(55, 25, 20))[0]
    internet = rng.choices(INTERNET_SERVICES, weights=(45, 35, 20))[0]
    payment = rng.choices(PAYMENT_METHODS, weights=(30, 25, 30, 15))[0]
    tenure = min(72, int(rng.expovariate(1 / (8 if contract == "month-to-month" else 30))))
    base = {"fiber": 75.0, "dsl": 50.0, "none": 22.0}[internet]
    monthly = round(max(18.0, rng.gauss(base, 12.0)), 2)
    total = round(monthly * tenure * rng.uniform(0.95, 1.05), 2)
    support_calls = min(30, int(rng.expovariate(1 / 1.5)))
    usage = round(rng.lognormvariate(3.0 if internet != "none" else 0.5, 0.8), 2)
    age = int(min(90, max(18, rng.gauss(45, 15))))
    logit = (
        -1.2
        - 0.045 * tenure
        + {"month-to-month": 1.3, "one-year": -0.2, "two-year": -1.4}[contract]
        + (0.6 if payment == "electronic-check" else 0.0)
        + (0.45 if internet == "fiber" else 0.0)
        + 0.28 * support_calls
        + 0.012 * (monthly - 60)
        - 0.008 * (age - 45)
    )
    churned = int(rng.random() < 1 / (1 + math.exp(-logit)))
    event_time = EPOCH + timedelta(seconds=rng.randrange(0, 180 * 86_400))
    signup = (event_time - timedelta(days=30 * tenure + rng.randrange(0, 30))).date()
    return {
        "customer_id": f"C{index:09d}",
        "event_time": event_time.isoformat().replace("+00:00", "Z"),
        "signup_date": signup.isoformat(),
        "age": age,
        "region": rng.choice(REGIONS),
        "contract": contract,
        "payment_method": payment,
        "internet_service": internet,
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": support_calls,
        "data_usage_gb": usage,
        "churned": churned,
    }


def _corrupt(rng: random.Random, record: dict) -> dict | str:
    kind = rng.randrange(7)
    record = dict(record)
    if kind == 0:
        record["monthly_charges"] = rng.choice(["abc", "12,5", "NaN-ish", "$70"])
    elif kind == 1:
        record["event_time"] = rng.choice(["yesterday", "2026-13-45T00:00:00Z", "31/02/2026"])
    elif kind == 2:
        record["contract"] = rng.choice(["lifetime", "weekly", "???"])
    elif kind == 3:
        record["tenure_months"] = rng.choice([-5, -1, 10_000])
    elif kind == 4:
        record["age"] = rng.choice([7, 150, "forty"])
    elif kind == 5:
        record["churned"] = rng.choice(["maybe", 3, None])
    else:
        return json.dumps(record)[: rng.randrange(5, 40)]  # truncated JSON
    return record


def generate(rows: int, seed: int = 7, faults: FaultRates = FaultRates()) -> Iterator[str]:
    """Yield ``rows`` JSON lines (duplicates included in the count)."""
    rng = random.Random(seed)
    recent: list[str] = []
    produced = 0
    index = 0
    while produced < rows:
        if recent and rng.random() < faults.duplicate:
            line = rng.choice(recent)  # an exact re-send of a recent record
        else:
            record = _clean_record(rng, index)
            index += 1
            for name in OPTIONAL:
                if rng.random() < faults.missing:
                    record[name] = rng.choice([None, ""]) if name in ("payment_method", "region") else None
            if rng.random() < faults.corrupt:
                record = _corrupt(rng, record)
            line = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
            recent.append(line)
            if len(recent) > 1000:
                recent.pop(0)
        produced += 1
        yield line


def write(path: Path, rows: int, seed: int = 7, faults: FaultRates = FaultRates()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for line in generate(rows, seed, faults):
            out.write(line + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the churn data set as JSON lines.")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write(args.out, args.rows, args.seed)
    print(f"wrote {args.rows} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
