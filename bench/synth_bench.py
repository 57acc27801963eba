"""Benchmark: warm offline synth of every stack against the jsii floor.

Prints the median wall time of `cdk synth` for the whole app (all stacks, all
cdk-nag packs) and for a one-bucket app on the same toolchain, and their
ratio. Goal: ratio <= 3. Exits 1 when the ratio misses it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import Timing, measure, runs_from_env, verdict  # noqa: E402
from tests.conftest import run_synth  # noqa: E402

GOAL_RATIO = 3.0


def synth(app: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as out:
        result = run_synth(Path(out), "profile=dev", app=app)
    if result.returncode != 0:
        sys.exit(f"synth failed ({app or 'app.py'}):\n{result.stderr[-3000:]}")


def timing_of(app: str | None = None) -> Timing:
    # The first synth warms the OS cache and Python bytecode.
    return measure(lambda: synth(app), runs=runs_from_env(3))


def main() -> int:
    print("synth bench: the whole app (all packs) and the one-bucket floor, each warm-up + median", flush=True)
    full = timing_of()
    floor = timing_of(f"{sys.executable} bench/one_bucket_app.py")
    print(f"synth, all stacks (dev, offline): {full.median:6.2f} s ({full.spread})")
    print(f"synth, one-bucket app (jsii floor): {floor.median:6.2f} s ({floor.spread})")
    ok = verdict("synth ratio, all stacks / floor", full.median / floor.median, GOAL_RATIO, unit="x", at_most=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
