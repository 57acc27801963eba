"""The churn data set's generator hook: one clean, realistic customer snapshot.

The label follows a logistic model of the features (short tenure, monthly
contracts, electronic checks, fiber, many support calls and high charges raise
churn), so a model has a real signal to learn. Faults (missing values, corrupt
rows, duplicates) are the generic generator's, driven by the spec.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from pipelines.data.spec import DataSet

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def record(rng: random.Random, index: int, spec: DataSet) -> dict:
    contract = rng.choices(spec.field("contract").values, weights=(55, 25, 20))[0]
    internet = rng.choices(spec.field("internet_service").values, weights=(45, 35, 20))[0]
    payment = rng.choices(spec.field("payment_method").values, weights=(30, 25, 30, 15))[0]
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
        "region": rng.choice(spec.field("region").values),
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
