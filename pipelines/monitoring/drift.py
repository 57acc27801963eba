"""The portable drift and model-quality job: one window of data capture vs the training baseline.

Per variant of the endpoint:

- data drift per feature: PSI and Jensen-Shannon distance (base 2, in [0, 1]) of the
  window's histogram on the baseline's fixed bins (numeric features) or of its
  category frequencies (categorical features, with a chi-square test reported);
  a feature drifts when either crosses its threshold;
- data quality: completeness, type violations (not a number, a fraction where the
  baseline is integral) and range violations (negative where the baseline is
  non-negative, outside the data-set spec's domain, an indicator not 0/1);
- prediction drift: the same distances on the score distribution;
- model quality: captured scores joined with ground truth on the inference id,
  over a window offset by the label delay; AUC, precision, recall and F1 when
  at least ``min_samples`` labels with both classes are joined.

Writes ``report.json`` and ``report.html`` (inline SVG charts) to the output folder.
A run with nothing to judge still writes them, saying why: ``status`` "no-baseline" (no
baselines yet: none before the first approved model), "no-data" (no capture in the window),
a variant's model quality "no-ground-truth" (no labels joined yet).
Runs as a SageMaker Processing job (paths under /opt/ml/processing) and here:

    python -m pipelines.monitoring.drift --capture data/monitoring/capture --baseline data/pipeline/baselines \\
        --ground-truth data/monitoring/ground-truth --endpoint mlops-dev-churn --end 2026-07-01T00:00:00Z
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from pipelines.monitoring.capture import Capture, read_capture, read_ground_truth, window_files
from pipelines.monitoring.report import render_html
from pipelines.training.baseline import bin_counts, categorical_values, frequencies, score_counts
from pipelines.training.features import DOMAINS, FEATURES, NUMERIC
from pipelines.training.metrics import classification_report

UTC = timezone.utc  # noqa: UP017 - the processing image runs Python 3.10 (no datetime.UTC)
EPSILON = 1e-4  # floor of a bin's share, so PSI stays finite for empty bins


@dataclass(frozen=True)
class Thresholds:
    """When the job flags something (the profile's ``monitoring`` settings)."""

    js: float = 0.1
    psi: float = 0.2
    # Share of a feature's values that may break its type or range before it is flagged.
    violation_rate: float = 0.01
    # How far completeness may fall below the baseline's.
    completeness_drop: float = 0.02
    min_samples: int = 200
    auc_floor: float = 0.75
    label_delay_hours: int = 24


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.full(len(counts), 1.0 / len(counts))
    shares = np.maximum(shares, EPSILON)
    return shares / shares.sum()


def distances(expected: list[int] | np.ndarray, actual: list[int] | np.ndarray) -> dict[str, float]:
    """PSI and Jensen-Shannon distance between two histograms on the same bins."""
    p, q = _shares(np.asarray(expected, dtype=float)), _shares(np.asarray(actual, dtype=float))
    return {"psi": float(np.sum((q - p) * np.log(q / p))), "js": float(jensenshannon(p, q, base=2))}


def _judge(result: dict, limits: Thresholds) -> dict:
    result["drifted"] = bool(result["psi"] > limits.psi or result["js"] > limits.js)
    return result


def data_drift(baseline: dict, frame: pd.DataFrame, limits: Thresholds) -> dict:
    features = {}
    for name, spec in baseline["numeric"].items():
        actual = bin_counts(frame[name].to_numpy(dtype=float), spec["edges"])
        features[name] = _judge({"kind": "numeric", **distances(spec["counts"], actual), "window": actual}, limits)
    window = categorical_values(frame)
    for name, expected in baseline["categorical"].items():
        seen = frequencies(window[name])
        keys = sorted(set(expected) | set(seen))
        exp, act = [expected.get(k, 0) for k in keys], [seen.get(k, 0) for k in keys]
        result = {"kind": "categorical", **distances(exp, act), "categories": keys, "window": act}
        table = np.asarray([exp, act], dtype=float)
        table = table[:, table.sum(axis=0) > 0]
        result["chi2_p_value"] = (
            float(chi2_contingency(table)[1]) if table.shape[1] > 1 and table[1].sum() > 0 else None
        )
        features[name] = _judge(result, limits)
    return {"features": features, "drifted_features": sorted(n for n, r in features.items() if r["drifted"])}


def data_quality(constraints: dict, capture: Capture, limits: Thresholds) -> dict:
    by_name = {c["name"]: c for c in constraints.get("features", [])}
    rows = max(capture.rows, 1)
    features = {}
    for i, name in enumerate(FEATURES):
        values = capture.features[:, i]
        present = values[~np.isnan(values)]
        constraint = by_name.get(name, {})
        completeness = len(present) / rows
        type_violations = int(capture.non_numeric[i]) if capture.non_numeric is not None else 0
        if constraint.get("inferred_type") == "Integral":
            type_violations += int(np.count_nonzero(present != np.floor(present)))
        if name in NUMERIC:
            lo, hi = DOMAINS.get(name, (-np.inf, np.inf))
            if constraint.get("num_constraints", {}).get("is_non_negative"):
                lo = max(lo, 0.0)
            range_violations = int(np.count_nonzero((present < lo) | (present > hi)))
        else:
            range_violations = int(np.count_nonzero((present != 0.0) & (present != 1.0)))
        expected = float(constraint.get("completeness", 1.0))
        violated = (
            completeness < expected - limits.completeness_drop
            or (type_violations + range_violations) / rows > limits.violation_rate
        )
        features[name] = {
            "completeness": completeness,
            "baseline_completeness": expected,
            "type_violations": type_violations,
            "range_violations": range_violations,
            "violated": bool(violated and capture.rows > 0),
        }
    return {"features": features, "violations": sorted(n for n, r in features.items() if r["violated"])}


def model_quality(capture: Capture, labels: dict[str, float], limits: Thresholds) -> dict:
    joined = [(labels[i], s) for i, s in zip(capture.inference_ids, capture.scores, strict=True) if i in labels]
    result: dict = {"samples": len(joined), "captured": capture.rows, "min_samples": limits.min_samples}
    y = np.asarray([j[0] for j in joined])
    if len(joined) < limits.min_samples or len(np.unique(y)) < 2:
        result["status"] = "no-ground-truth" if not joined else "insufficient"
        result["below_floor"] = False
        return result
    metrics = classification_report(y, np.asarray([j[1] for j in joined]))
    result.update({k: metrics[k] for k in ("auc", "precision", "recall", "f1", "accuracy", "confusion_matrix")})
    result["status"] = "ok"
    result["below_floor"] = bool(metrics["auc"] < limits.auc_floor)
    return result


def variant_report(capture: Capture, quality_capture: Capture, labels: dict[str, float], baselines: dict | None,
                   limits: Thresholds) -> dict:  # fmt: skip
    frame = pd.DataFrame(capture.features, columns=list(FEATURES))
    report: dict = {
        "records": capture.records,
        "rows": capture.rows,
        "malformed_records": sum(capture.malformed.values()),
        "malformed_reasons": dict(capture.malformed),
    }
    if capture.rows == 0:
        report["status"] = "no-data"
    elif baselines is None:
        report["status"] = "no-baseline"
    else:
        report["status"] = "ok"
        report["data_drift"] = data_drift(baselines["drift"], frame, limits)
        report["data_quality"] = data_quality(baselines["constraints"], capture, limits)
        actual = score_counts(capture.scores)
        report["prediction_drift"] = _judge(
            {**distances(baselines["drift"]["score"]["counts"], actual), "window": actual}, limits
        )
    report["model_quality"] = model_quality(quality_capture, labels, limits)
    return report


def load_baselines(path: Path) -> dict | None:
    """The baselines, or None before the first approved model's baselines were published."""
    if not (path / "drift" / "baseline.json").is_file() or not (path / "data-quality" / "constraints.json").is_file():
        return None
    return {
        "drift": json.loads((path / "drift" / "baseline.json").read_text()),
        "constraints": json.loads((path / "data-quality" / "constraints.json").read_text()),
    }


def run(capture_root: Path, baseline: Path, output: Path, endpoint: str, end: datetime, window_hours: int,
        limits: Thresholds, ground_truth: Path | None = None) -> dict:  # fmt: skip
    """Judge the window [end - window_hours, end) of every variant under ``capture_root/endpoint``."""
    baselines = load_baselines(baseline)
    start = end - timedelta(hours=window_hours)
    delay = timedelta(hours=limits.label_delay_hours)
    # Labels arrive after the inference: the quality window is the drift window moved back by
    # the label delay, and its labels may have landed any time up to the end of the run.
    quality_start, quality_end = start - delay, end - delay
    labels, label_errors = (
        read_ground_truth(window_files(ground_truth, quality_start, end)) if ground_truth else ({}, {})
    )
    endpoint_root = capture_root / endpoint
    variants = sorted(p.name for p in endpoint_root.iterdir() if p.is_dir()) if endpoint_root.is_dir() else []
    report: dict = {
        "endpoint": endpoint,
        "window": {"start": _iso(start), "end": _iso(end)},
        "quality_window": {"start": _iso(quality_start), "end": _iso(quality_end)},
        "thresholds": asdict(limits),
        "ground_truth": {"labels": len(labels), "malformed_records": sum(label_errors.values())},
        "variants": {},
    }
    for variant in variants:
        root = endpoint_root / variant
        capture = read_capture(window_files(root, start, end), len(FEATURES))
        quality_capture = (
            capture if delay.total_seconds() == 0 else read_capture(window_files(root, quality_start, quality_end), len(FEATURES))
        )  # fmt: skip
        report["variants"][variant] = variant_report(capture, quality_capture, labels, baselines, limits)
    with_rows = [v for v in report["variants"].values() if v["rows"] > 0]
    # What the run could judge: nothing without baselines, nothing without traffic.
    report["status"] = "no-baseline" if baselines is None else "ok" if with_rows else "no-data"
    report["summary"] = summarize(report)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(report, indent=2))
    (output / "report.html").write_text(render_html(report, baselines["drift"] if baselines else {}))
    return report


def summarize(report: dict) -> dict:
    out = {}
    for variant, r in report["variants"].items():
        out[variant] = {
            "rows": r["rows"],
            "malformed_records": r["malformed_records"],
            "drifted_features": r.get("data_drift", {}).get("drifted_features", []),
            "quality_violations": r.get("data_quality", {}).get("violations", []),
            "prediction_drift": r.get("prediction_drift", {}).get("drifted", False),
            "model_quality": r["model_quality"]["status"],
            "auc": r["model_quality"].get("auc"),
        }
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``), floored to the hour."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    base = Path("/opt/ml/processing")
    parser.add_argument("--capture", type=Path, default=base / "input" / "capture")
    parser.add_argument("--ground-truth", type=Path, default=base / "input" / "ground-truth")
    parser.add_argument("--baseline", type=Path, default=base / "input" / "baseline")
    parser.add_argument("--output", type=Path, default=base / "output")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--end", type=parse_time, required=True, help="window end, ISO 8601 (floored to the hour)")
    parser.add_argument("--window-hours", type=int, default=24)
    defaults = Thresholds()
    for key, value in asdict(defaults).items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    limits = Thresholds(**{k: getattr(args, k) for k in asdict(defaults)})
    truth = args.ground_truth if args.ground_truth.is_dir() else None
    report = run(args.capture, args.baseline, args.output, args.endpoint, args.end, args.window_hours, limits, truth)
    paths = {"report": str(args.output / "report.json"), "html": str(args.output / "report.html")}
    print(json.dumps({**paths, "status": report["status"], "summary": report["summary"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
