"""Benchmark: Firehose transform throughput on a 1,000-record batch (goal >= 20,000 records/s, one core).

The median of 20 timed batches after a warm-up batch. Exits 1 when it misses the goal.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from config import PROFILES

# The transform reads its plausible-time window from its environment, as it does in AWS.
os.environ.setdefault("EVENT_MAX_AGE_DAYS", str(PROFILES["dev"].ingest.event_max_age_days))
os.environ.setdefault("EVENT_MAX_AHEAD_MINUTES", str(PROFILES["dev"].ingest.event_max_ahead_minutes))

from bench.measure import measure, verdict
from lambdas.firehose_transform.handler import lambda_handler
from pipelines.data.generate import generate

GOAL = 20_000
BATCH = 1_000
ROUNDS = 20


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"


def main() -> int:
    lines = list(generate(BATCH, seed=1))
    event = {
        "invocationId": "bench",
        "records": [{"recordId": str(i), "data": base64.b64encode(x.encode()).decode()} for i, x in enumerate(lines)],
    }
    devnull = open(os.devnull, "w")  # noqa: SIM115 - the metrics line goes to stdout
    stdout, sys.stdout = sys.stdout, devnull
    try:
        timing = measure(lambda: lambda_handler(event, Context()), runs=ROUNDS)
    finally:
        sys.stdout = stdout
    ok = verdict(
        f"firehose transform, {BATCH}-record batch",
        BATCH / timing.median,
        GOAL,
        unit="records/s",
        at_most=False,
        detail=timing.spread,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
