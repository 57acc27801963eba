"""Baseline step: what "normal" looks like, for monitoring the deployed model.

- ``data-quality/statistics.json`` and ``constraints.json``: per-feature
  statistics and constraints of the training features, in SageMaker Model
  Monitor's format (a data-quality monitoring schedule can use them as its
  baseline; the portable drift job reads the same files).
- ``model-quality/constraints.json``: the evaluation's binary-classification
  metrics as thresholds (Model Monitor's model-quality format), and
  ``statistics.json`` with the metrics themselves.
- ``drift/baseline.json``: what the portable drift job compares a window with:
  per numeric feature a histogram on fixed bins (deciles of the training data,
  or the values themselves when there are few), per categorical feature (the
  one-hot groups put back together, and the 0/1 indicators) its frequencies,
  and the distribution of the evaluation's scores on fixed bins of [0, 1].

Runs as a Processing job after evaluation, and here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.training import checks
from pipelines.training.features import CATEGORIES, INDICATORS, NUMERIC, ONE_HOT_GROUPS
from pipelines.training.metrics import classification_report

BUCKETS = 10
# How far below the baseline a metric may fall before model-quality monitoring flags it.
MODEL_QUALITY_SLACK = 0.05
# Drift baseline: decile bins for numeric features (their distinct values when at most
# DISCRETE_VALUES), scores on SCORE_BINS equal bins of [0, 1].
DRIFT_BINS = 10
DISCRETE_VALUES = 20
SCORE_BINS = 20
MISSING_CATEGORY = "(none)"
BINARY_INDICATORS = tuple(c for c in INDICATORS if not any(c in group for group in ONE_HOT_GROUPS.values()))


def numeric_edges(values: np.ndarray) -> list[float]:
    """Inner bin edges (bins are (-inf, e0), [e0, e1), ..., [en, inf)) fixed by the training data."""
    present = values[~np.isnan(values)]
    distinct = np.unique(present)
    if len(distinct) <= DISCRETE_VALUES:
        return [float(v) for v in (distinct[:-1] + distinct[1:]) / 2]
    return [float(v) for v in np.unique(np.quantile(present, np.linspace(0, 1, DRIFT_BINS + 1))[1:-1])]


def bin_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    present = values[~np.isnan(values)]
    return np.bincount(np.searchsorted(np.asarray(edges), present, side="right"), minlength=len(edges) + 1).tolist()


def categories(frame: pd.DataFrame, group: list[str], values: tuple[str, ...]) -> np.ndarray:
    """The category of each row from its one-hot columns ("(none)" when no column is 1)."""
    onehot = frame[group].to_numpy(dtype=float)
    labels = np.asarray([*values, MISSING_CATEGORY], dtype=object)
    hot = np.nan_to_num(onehot) >= 0.5
    return labels[np.where(hot.any(axis=1), hot.argmax(axis=1), len(values))]


def categorical_values(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every categorical feature the drift job checks, as an array of category labels per row."""
    out = {name: categories(frame, ONE_HOT_GROUPS[name], values) for name, values in CATEGORIES.items()}
    for name in BINARY_INDICATORS:
        column = frame[name].to_numpy(dtype=float)
        out[name] = np.where(np.isnan(column), MISSING_CATEGORY, np.where(column >= 0.5, "1", "0")).astype(object)
    return out


def frequencies(labels: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(labels.astype(str), return_counts=True)
    return {str(k): int(n) for k, n in zip(keys, counts, strict=True)}


def score_counts(scores: np.ndarray) -> list[int]:
    clipped = np.clip(scores[~np.isnan(scores)], 0.0, 1.0)
    return np.histogram(clipped, bins=SCORE_BINS, range=(0.0, 1.0))[0].tolist()


def drift_baseline(frame: pd.DataFrame, scores: np.ndarray) -> dict:
    numeric = {}
    for name in NUMERIC:
        values = frame[name].to_numpy(dtype=float)
        edges = numeric_edges(values)
        numeric[name] = {"edges": edges, "counts": bin_counts(values, edges)}
    return {
        "version": 1,
        "item_count": len(frame),
        "numeric": numeric,
        "categorical": {name: frequencies(labels) for name, labels in categorical_values(frame).items()},
        "score": {"bins": SCORE_BINS, "counts": score_counts(np.asarray(scores, dtype=float))},
    }


def feature_statistics(frame: pd.DataFrame) -> dict:
    features = []
    for name in frame.columns:
        column = frame[name]
        present = column.dropna().astype(float)
        integral = bool(len(present)) and bool(np.all(present == np.floor(present)))
        counts, edges = np.histogram(present, bins=BUCKETS) if len(present) else ([], [])
        features.append(
            {
                "name": name,
                "inferred_type": "Integral" if integral else "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": int(column.notna().sum()), "num_missing": int(column.isna().sum())},
                    "mean": float(present.mean()) if len(present) else 0.0,
                    "sum": float(present.sum()),
                    "std_dev": float(present.std(ddof=0)) if len(present) else 0.0,
                    "min": float(present.min()) if len(present) else 0.0,
                    "max": float(present.max()) if len(present) else 0.0,
                    "distribution": {
                        "histogram": {
                            "buckets": [
                                {"lower_bound": float(lo), "upper_bound": float(hi), "count": int(n)}
                                for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
                            ]
                        }
                    },
                },
            }
        )
    return {"version": 0.0, "dataset": {"item_count": len(frame)}, "features": features}


def feature_constraints(statistics: dict) -> dict:
    return {
        "version": 0.0,
        "features": [
            {
                "name": f["name"],
                "inferred_type": f["inferred_type"],
                "completeness": f["numerical_statistics"]["common"]["num_present"]
                / max(statistics["dataset"]["item_count"], 1),
                "num_constraints": {"is_non_negative": f["numerical_statistics"]["min"] >= 0},
            }
            for f in statistics["features"]
        ],
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
            },
        },
    }


def model_quality(predictions: pd.DataFrame) -> tuple[dict, dict]:
    metrics = classification_report(predictions["label"].to_numpy(), predictions["probability"].to_numpy())
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": metrics["count"]},
        "binary_classification_metrics": {
            k: {"value": metrics[k], "standard_deviation": "NaN"}
            for k in ("auc", "accuracy", "precision", "recall", "f1")
        },
    }
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            k: {"threshold": max(0.0, metrics[k] - MODEL_QUALITY_SLACK), "comparison_operator": "LessThanThreshold"}
            for k in ("auc", "accuracy", "precision", "recall", "f1")
        },
    }
    return statistics, constraints


def positional(document: dict) -> dict:
    """The same statistics or constraints with Model Monitor's names for headerless CSV columns.

    Its analyzer names the columns of CSV capture ``_c0``, ``_c1``... in order (the endpoint
    takes features without a header), so a baseline that names them would match no column.
    """
    features = [{**f, "name": f"_c{i}"} for i, f in enumerate(document["features"])]
    return {**document, "features": features}


def run(train_features: Path, predictions: Path, output: Path) -> dict:
    frame = pd.concat(pd.read_csv(p) for p in checks.files(train_features, "*.csv", "CSV file"))
    stats = feature_statistics(frame)
    (output / "data-quality").mkdir(parents=True, exist_ok=True)
    (output / "data-quality" / "statistics.json").write_text(json.dumps(stats, indent=2))
    (output / "data-quality" / "constraints.json").write_text(json.dumps(feature_constraints(stats), indent=2))
    (output / "model-monitor" / "data-quality").mkdir(parents=True, exist_ok=True)
    for name, document in (("statistics", stats), ("constraints", feature_constraints(stats))):
        (output / "model-monitor" / "data-quality" / f"{name}.json").write_text(
            json.dumps(positional(document), indent=2)
        )
    scored = pd.concat(pd.read_csv(p) for p in checks.files(predictions, "*.csv", "CSV file"))
    quality_stats, quality_constraints = model_quality(scored)
    (output / "drift").mkdir(parents=True, exist_ok=True)
    drift = drift_baseline(frame, scored["probability"].to_numpy(dtype=float))
    (output / "drift" / "baseline.json").write_text(json.dumps(drift, indent=2))
    (output / "model-quality").mkdir(parents=True, exist_ok=True)
    (output / "model-quality" / "statistics.json").write_text(json.dumps(quality_stats, indent=2))
    (output / "model-quality" / "constraints.json").write_text(json.dumps(quality_constraints, indent=2))
    return {"features": len(stats["features"]), "rows": stats["dataset"]["item_count"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-features", type=Path, default=Path("/opt/ml/processing/baseline"))
    parser.add_argument("--predictions", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing/baselines"))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.train_features, args.predictions, args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
