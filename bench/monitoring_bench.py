"""Benchmark: the drift job on 1,000,000 captured records (goal <= 60 s on 2 cores, median of runs),
and its false-positive rate on same-distribution windows over many seeds.

Exits non-zero when the job misses the goal.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import measure, runs_from_env, verdict
from pipelines.monitoring import drift, simulate

GOAL_SECONDS = 60.0
RECORDS = 1_000_000
SEEDS = 200
WINDOW_ROWS = 3_000


def false_positive_rate(root: Path, pop: simulate.Population) -> tuple[float, int]:
    expected = json.loads((root / "baselines" / "drift" / "baseline.json").read_text())
    flags = checks = 0
    for seed in range(SEEDS):
        pick = np.random.default_rng(seed).integers(0, len(pop.scores), WINDOW_ROWS)
        result = drift.data_drift(expected, pop.features.iloc[pick].reset_index(drop=True), drift.Thresholds())
        flags += len(result["drifted_features"])
        checks += len(result["features"])
    return flags / checks, checks


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stats = simulate.write_baselines(root / "baselines")
        pop = simulate.population(20_000, 2, stats)
        rate, checks = false_positive_rate(root, pop)
        print(f"drift job, same-distribution windows of {WINDOW_ROWS:,} rows over {SEEDS} seeds: "
              f"false-positive rate {rate:.4%} of {checks:,} feature checks")  # fmt: skip
        traffic = simulate.Traffic(rows=RECORDS, label_rate=0.3, label_delay_hours=0, bad_lines=100)
        print(f"drift bench: writing {RECORDS:,} captured records, then a warm-up and the timed runs", flush=True)
        simulate.write_capture(root / "capture", root / "truth", "ep", "champion", pop, traffic)
        limits = drift.Thresholds(label_delay_hours=0)
        counter = itertools.count()
        reports = []

        def run() -> None:
            reports.append(drift.run(root / "capture", root / "baselines", root / f"out{next(counter)}", "ep",
                                     simulate.END, 24, limits, root / "truth"))  # fmt: skip

        timing = measure(run, runs=runs_from_env(3))
        variant = reports[-1]["variants"]["champion"]
        assert variant["rows"] == RECORDS and variant["malformed_records"] == 100, variant["malformed_reasons"]
    ok = verdict(
        f"drift job, {RECORDS:,} captured records",
        timing.median,
        GOAL_SECONDS,
        unit="s",
        at_most=True,
        detail=f"{timing.spread}, {RECORDS / timing.median:,.0f} records/s",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
