"""Benchmark: the Glue ETL on local Spark over 1,000,000 generated rows (goal <= 60 s on 2 cores)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.data.generate import write
from pipelines.glue.curate import run_local, spark_session

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
GOAL_SECONDS = 60.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        source = write(Path(tmp) / "raw.jsonl", ROWS, seed=42)
        spark = spark_session("churn-etl-bench")
        start = time.perf_counter()
        summary = run_local(str(source), str(Path(tmp) / "out"), spark=spark)
        elapsed = time.perf_counter() - start
        spark.stop()
    assert summary["curated_rows"] + summary["rejected_rows"] == ROWS
    print(f"glue etl, local spark, {ROWS:,} rows: {elapsed:.1f} s (goal <= {GOAL_SECONDS:.0f} s) "
          f"{'OK' if elapsed <= GOAL_SECONDS else 'OVER GOAL'}; curated {summary['curated_rows']:,}, "
          f"rejected {summary['rejected_rows']:,}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
