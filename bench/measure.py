"""What every benchmark shares: a warm-up, the median of several runs, their spread, and a verdict.

On a shared 2-core machine one run says little (the Glue figure ranged from 47 s to 142 s
between runs): the warm-up pays the one-off costs (JVM start, imports, OS cache), the median
ignores one slow run, and the spread says how much the machine moved under the figure.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def runs_from_env(default: int) -> int:
    """Runs per figure: ``BENCH_RUNS`` (at least 1) or ``default``."""
    return max(1, int(os.environ.get("BENCH_RUNS", default)))


@dataclass(frozen=True)
class Timing:
    """Wall times of the measured runs, in seconds (the warm-up excluded)."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> str:
        low, high = min(self.seconds), max(self.seconds)
        return f"median of {len(self.seconds)}, range {low:.2f}-{high:.2f} s"


def measure(run: Callable[[], object], *, runs: int, warmup: Callable[[], object] | None = None) -> Timing:
    """Call ``warmup`` (default: ``run``) once untimed, then time ``run`` ``runs`` times."""
    (warmup or run)()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


def verdict(label: str, value: float, goal: float, *, unit: str, at_most: bool, detail: str = "") -> bool:
    """Print one line with the figure, the goal and OK / MISSED GOAL; True when the goal is met."""
    ok = value <= goal if at_most else value >= goal
    sign = "<=" if at_most else ">="
    extra = f"; {detail}" if detail else ""
    print(f"{label}: {value:,.2f} {unit} (goal {sign} {goal:,.0f} {unit}) {'OK' if ok else 'MISSED GOAL'}{extra}")
    return ok
