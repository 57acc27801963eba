"""Benchmark: warm offline synth of every stack against the jsii floor.

Prints the median wall time of `cdk synth` for the whole app (all stacks, all
cdk-nag packs) and for a one-bucket app on the same toolchain, and their
ratio. Goal: ratio <= 3 once every stack of the architecture is in.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import run_synth  # noqa: E402

RUNS = 3
GOAL_RATIO = 3.0


def timed(app: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_synth(Path(out), "profile=dev", app=app)
        elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"synth failed ({app or 'app.py'}):\n{result.stderr[-3000:]}")
    return elapsed


def median_of(app: str | None = None) -> float:
    timed(app)  # warm the OS cache and Python bytecode
    return statistics.median(timed(app) for _ in range(RUNS))


def main() -> int:
    full = median_of()
    floor = median_of(f"{sys.executable} bench/one_bucket_app.py")
    ratio = full / floor
    print(f"synth, all stacks (dev, offline, median of {RUNS}):  {full:6.2f} s")
    print(f"synth, one-bucket app (jsii floor):           {floor:6.2f} s")
    print(f"ratio: {ratio:.2f} (goal <= {GOAL_RATIO:.0f}) {'OK' if ratio <= GOAL_RATIO else 'OVER GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
