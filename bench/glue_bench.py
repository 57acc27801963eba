"""Benchmark: the Glue ETL on local Spark over 1,000,000 generated rows (goal <= 60 s on 2 cores).

A warm-up on a small input starts the JVM and Spark first; the figure is the median of
``BENCH_RUNS`` (default 3) runs over the same input. Exits 1 when the median misses the goal.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import measure, runs_from_env, verdict
from pipelines.data.generate import write
from pipelines.glue.curate import run_local, spark_session

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
WARMUP_ROWS = 20_000
GOAL_SECONDS = 60.0


def main() -> int:
    runs = runs_from_env(3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"glue bench: generating {ROWS:,} events, then a warm-up and {runs} ETL runs on local Spark", flush=True)
        source = write(root / "raw.jsonl", ROWS, seed=42)
        small = write(root / "small.jsonl", WARMUP_ROWS, seed=7)
        spark = spark_session("churn-etl-bench")
        counter = itertools.count()
        summaries = []

        def run() -> None:
            summaries.append(run_local(str(source), str(root / f"out{next(counter)}"), spark=spark))

        try:
            timing = measure(run, runs=runs, warmup=lambda: run_local(str(small), str(root / "warm"), spark=spark))
        finally:
            spark.stop()
    summary = summaries[-1]
    assert summary["curated_rows"] + summary["rejected_rows"] == ROWS
    ok = verdict(
        f"glue etl, local spark, {ROWS:,} rows",
        timing.median,
        GOAL_SECONDS,
        unit="s",
        at_most=True,
        detail=f"{timing.spread}; curated {summary['curated_rows']:,}, rejected {summary['rejected_rows']:,}",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
