"""`make bench`: figures are medians after a warm-up, and a missed goal is a non-zero exit."""

from __future__ import annotations

import pytest

from bench import lambda_bench
from bench.measure import measure, runs_from_env, verdict


def test_measure_warms_up_once_and_times_every_run() -> None:
    calls = []
    timing = measure(lambda: calls.append("run"), runs=5, warmup=lambda: calls.append("warm"))
    assert calls == ["warm"] + ["run"] * 5
    assert len(timing.seconds) == 5 and min(timing.seconds) <= timing.median <= max(timing.seconds)
    assert "median of 5" in timing.spread


def test_one_slow_run_does_not_move_the_median() -> None:
    from bench.measure import Timing

    assert Timing((50.0, 52.0, 140.0)).median == 52.0


@pytest.mark.parametrize(
    ("value", "goal", "at_most", "ok"),
    [(59.0, 60.0, True, True), (61.0, 60.0, True, False), (21_000, 20_000, False, True), (9_000, 20_000, False, False)],
)
def test_verdict_says_whether_the_goal_is_met(value, goal, at_most, ok, capsys) -> None:
    assert verdict("x", value, goal, unit="s", at_most=at_most) is ok
    assert ("MISSED GOAL" in capsys.readouterr().out) is not ok


def test_runs_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("BENCH_RUNS", "5")
    assert runs_from_env(3) == 5
    monkeypatch.setenv("BENCH_RUNS", "0")
    assert runs_from_env(3) == 1


@pytest.mark.parametrize(("goal", "code"), [(1, 0), (10**12, 1)])
def test_a_missed_goal_exits_non_zero(monkeypatch, capsys, goal: int, code: int) -> None:
    monkeypatch.setattr(lambda_bench, "GOAL", goal)
    monkeypatch.setattr(lambda_bench, "ROUNDS", 1)
    assert lambda_bench.main() == code
    assert "records/s" in capsys.readouterr().out
