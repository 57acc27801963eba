"""The portable drift job on simulated data capture in SageMaker's real format."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from pipelines.data import spec as specs
from pipelines.monitoring import drift, simulate
from pipelines.monitoring.capture import read_capture, read_ground_truth
from pipelines.training import baseline
from pipelines.training.features import DATASET, FEATURES, INDICATORS

ENDPOINT = "ep"
# The active data-set spec's first numeric fields and category (the shifts below are in its units).
NUMERIC_FIELDS = specs.numeric_fields(DATASET)
CATEGORY = next(iter(specs.category_fields(DATASET)), None)


def _spread(name: str) -> float:
    lo, hi = DATASET.field(name).typical or DATASET.field(name).domain or (0.0, 1.0)
    return (hi - lo) / 6


LIMITS = drift.Thresholds(min_samples=200, label_delay_hours=0)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("drift")
    stats = simulate.write_baselines(root / "baselines", rows=6_000, seed=1)
    return {"root": root, "stats": stats, "pop": simulate.population(6_000, 2, stats)}


def run_job(world: dict, tmp_path: Path, limits: drift.Thresholds = LIMITS, **traffic) -> tuple[dict, dict]:
    written = simulate.write_capture(
        tmp_path / "capture", tmp_path / "truth", ENDPOINT, "champion", world["pop"],
        simulate.Traffic(**{"rows": 3_000, "label_delay_hours": limits.label_delay_hours, **traffic}),
    )  # fmt: skip
    report = drift.run(tmp_path / "capture", world["root"] / "baselines", tmp_path / "out", ENDPOINT,
                       simulate.END, 24, limits, tmp_path / "truth")  # fmt: skip
    return report["variants"]["champion"], written


@pytest.mark.parametrize(
    "shift",
    [
        {"feature": NUMERIC_FIELDS[0].name, "factor": 2.0},
        *({"feature": f.name, "add": _spread(f.name)} for f in NUMERIC_FIELDS[1:3]),
    ],
)
def test_an_injected_shift_is_flagged_for_that_feature_alone(world, tmp_path, shift) -> None:
    result, _ = run_job(world, tmp_path, shift=shift)
    assert result["data_drift"]["drifted_features"] == [shift["feature"]]


@pytest.mark.skipif(CATEGORY is None, reason="the data set has no category field")
def test_a_category_shift_is_flagged_for_that_feature_alone(world, tmp_path) -> None:
    pop = world["pop"]
    features = pop.features.copy()
    first, last = (specs.one_hot_column(CATEGORY.name, v) for v in (CATEGORY.values[0], CATEGORY.values[-1]))
    moved = features[first] == 1.0
    features.loc[moved, [first, last]] = [0.0, 1.0]
    shifted = {**world, "pop": simulate.Population(features, pop.labels, pop.scores)}
    result, _ = run_job(shifted, tmp_path)
    assert result["data_drift"]["drifted_features"] == [CATEGORY.name]
    assert result["data_drift"]["features"][CATEGORY.name]["chi2_p_value"] < 1e-6


def test_a_score_shift_is_prediction_drift(world, tmp_path) -> None:
    pop = world["pop"]
    shifted = {**world, "pop": simulate.Population(pop.features, pop.labels, np.clip(pop.scores + 0.25, 0, 1))}
    result, _ = run_job(shifted, tmp_path)
    assert result["prediction_drift"]["drifted"]
    assert result["data_drift"]["drifted_features"] == []


def test_same_distribution_windows_are_not_flagged(world) -> None:
    """False-positive rate over many seeds, on the job's own comparison (files are covered above)."""
    expected = json.loads((world["root"] / "baselines" / "drift" / "baseline.json").read_text())
    flags, checks = 0, 0
    for seed in range(12):
        pick = np.random.default_rng(seed).integers(0, len(world["pop"].scores), 3_000)
        window = world["pop"].features.iloc[pick].reset_index(drop=True)
        result = drift.data_drift(expected, window, LIMITS)
        flags += len(result["drifted_features"])
        checks += len(result["features"])
    rate = flags / checks
    print(f"same-distribution false-positive rate: {rate:.4f} over {checks} feature checks")
    assert rate == 0.0


@pytest.mark.parametrize("encoding", simulate.ENCODINGS)
def test_every_capture_encoding_reads_back_exactly(world, tmp_path, encoding) -> None:
    simulate.write_capture(
        tmp_path, None, ENDPOINT, "champion", world["pop"], simulate.Traffic(rows=50, encodings=(encoding,), seed=3)
    )
    capture = read_capture(sorted((tmp_path / ENDPOINT).rglob("*.jsonl")), len(FEATURES))
    pick = np.random.default_rng(3).integers(0, len(world["pop"].scores), 50)
    assert capture.rows == 50 and not capture.malformed
    np.testing.assert_allclose(capture.features, world["pop"].features.iloc[pick].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(capture.scores, world["pop"].scores[pick].round(6))


def test_auc_precision_recall_f1_match_scikit_learn_on_the_joined_labels(world, tmp_path) -> None:
    result, written = run_job(world, tmp_path, label_rate=0.6)
    quality = result["model_quality"]
    labels, scores = written["joined_labels"], written["joined_scores"]
    assert quality["status"] == "ok" and quality["samples"] == len(labels) == written["labels"]
    assert quality["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    predicted = scores >= 0.5
    assert quality["precision"] == pytest.approx(precision_score(labels, predicted))
    assert quality["recall"] == pytest.approx(recall_score(labels, predicted))
    assert quality["f1"] == pytest.approx(f1_score(labels, predicted))


def test_below_the_minimum_sample_size_nothing_is_judged(world, tmp_path) -> None:
    result, written = run_job(world, tmp_path, label_rate=0.02)
    assert 0 < written["labels"] < LIMITS.min_samples
    assert result["model_quality"]["status"] == "insufficient"
    assert "auc" not in result["model_quality"] and not result["model_quality"]["below_floor"]


def test_labels_are_joined_over_the_window_moved_back_by_the_label_delay(world, tmp_path) -> None:
    limits = drift.Thresholds(label_delay_hours=24)
    earlier = simulate.Traffic(rows=1_000, end=simulate.END - timedelta(hours=24), label_rate=0.5, seed=11)
    written = simulate.write_capture(
        tmp_path / "capture", tmp_path / "truth", ENDPOINT, "champion", world["pop"], earlier
    )
    # Today's traffic has no labels yet: it must not count against the quality window.
    simulate.write_capture(tmp_path / "capture", None, ENDPOINT, "champion", world["pop"], simulate.Traffic(rows=500))
    report = drift.run(tmp_path / "capture", world["root"] / "baselines", tmp_path / "out", ENDPOINT, simulate.END, 24,
                       limits, tmp_path / "truth")  # fmt: skip
    variant = report["variants"]["champion"]
    assert variant["rows"] == 500
    assert variant["model_quality"]["captured"] == 1_000
    assert variant["model_quality"]["samples"] == written["labels"]


def test_malformed_lines_are_counted_and_skipped(world, tmp_path) -> None:
    result, _ = run_job(world, tmp_path, bad_lines=7)
    assert result["malformed_records"] == 7
    assert result["records"] == 3_007 and result["rows"] == 3_000
    assert set(result["malformed_reasons"]) == {"not a capture record", f"input is not {len(FEATURES)} values per row"}


def test_type_and_range_violations_and_completeness(tmp_path) -> None:
    typed, ranged, missing = (f.name for f in NUMERIC_FIELDS[:3])
    row = ["1.5"] * len(FEATURES)
    row[FEATURES.index(typed)] = "forty"  # not a number
    row[FEATURES.index(ranged)] = str(DATASET.field(ranged).domain[0] - 3)  # outside the domain
    row[FEATURES.index(missing)] = ""  # missing
    body = base64.b64encode(",".join(row).encode()).decode()
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "BASE64"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.3", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": "e", "inferenceId": "i", "inferenceTime": "2026-06-30T12:00:00Z"},
        "eventVersion": "0",
    }
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(record) + "\n")
    capture = read_capture([path], len(FEATURES))
    constraints = {"features": [{"name": typed, "inferred_type": "Integral", "completeness": 1.0}]}
    quality = drift.data_quality(constraints, capture, LIMITS)["features"]
    assert quality[typed]["type_violations"] == 1 and quality[typed]["violated"]
    assert quality[ranged]["range_violations"] == 1
    assert quality[missing]["completeness"] == 0.0
    assert quality[INDICATORS[0]]["range_violations"] == 1  # 1.5 is not an indicator value


def test_ground_truth_reader_counts_bad_records(tmp_path) -> None:
    path = tmp_path / "labels.jsonl"
    good = {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "a"}, "eventVersion": "0"}
    as_json = {"groundTruthData": {"data": "[0, 1]", "encoding": "JSON"}, "eventMetadata": {"eventId": "b"}}
    bad = {"groundTruthData": {"data": "7", "encoding": "CSV"}, "eventMetadata": {"eventId": "c"}}
    path.write_text("\n".join([json.dumps(good), json.dumps(as_json), json.dumps(bad), "{oops"]) + "\n")
    labels, malformed = read_ground_truth([path])
    assert labels == {"a": 1.0, "b#0": 0.0, "b#1": 1.0}
    assert sum(malformed.values()) == 2


def test_entry_points_write_the_reports(tmp_path, capsys) -> None:
    shifted = NUMERIC_FIELDS[0].name
    assert simulate.main(["--out", str(tmp_path), "--rows", "1500", "--shift-feature", shifted]) == 0
    args = ["--capture", str(tmp_path / "capture"), "--baseline", str(tmp_path / "baselines"), "--ground-truth",
            str(tmp_path / "truth-absent"), "--output", str(tmp_path / "out"), "--endpoint", "mlops-local-churn",
            "--end", "2026-07-01T00:20:00Z", "--min-samples", "50"]  # fmt: skip
    capsys.readouterr()
    assert drift.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert printed["report"].endswith("report.json") and report["window"]["end"] == "2026-07-01T00:00:00Z"
    assert report["summary"]["challenger"]["drifted_features"] == [shifted]
    assert report["variants"]["champion"]["model_quality"]["status"] == "no-ground-truth"
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("<svg") > len(FEATURES) // 2 and shifted in html


def test_no_capture_is_reported_not_fatal(world, tmp_path) -> None:
    (tmp_path / "capture" / ENDPOINT / "champion").mkdir(parents=True)
    report = drift.run(tmp_path / "capture", world["root"] / "baselines", tmp_path / "out", ENDPOINT, simulate.END, 24,
                       LIMITS)  # fmt: skip
    assert report["variants"]["champion"]["status"] == "no-data"
    assert report["variants"]["champion"]["model_quality"]["status"] == "no-ground-truth"


def test_baseline_step_writes_the_drift_baseline_next_to_its_model_monitor_files(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 2, (300, len(FEATURES))).astype(float), columns=list(FEATURES))
    numeric = NUMERIC_FIELDS[0].name
    frame[numeric] = rng.normal(45, 10, 300).round()
    (tmp_path / "train").mkdir()
    frame.to_csv(tmp_path / "train" / "train_features.csv", index=False)
    (tmp_path / "eval").mkdir()
    pd.DataFrame({"label": rng.integers(0, 2, 300), "probability": rng.random(300)}).to_csv(
        tmp_path / "eval" / "predictions.csv", index=False
    )
    baseline.run(tmp_path / "train", tmp_path / "eval", tmp_path / "out")
    for name in ("data-quality/statistics.json", "data-quality/constraints.json", "model-quality/constraints.json"):
        assert (tmp_path / "out" / name).is_file()
    drift_baseline = json.loads((tmp_path / "out" / "drift" / "baseline.json").read_text())
    assert sum(drift_baseline["score"]["counts"]) == 300
    assert sum(drift_baseline["numeric"][numeric]["counts"]) == 300
    assert len(drift_baseline["numeric"][numeric]["edges"]) == baseline.DRIFT_BINS - 1
    if CATEGORY is not None:
        assert set(drift_baseline["categorical"][CATEGORY.name]) <= {*CATEGORY.values, "(none)"}
