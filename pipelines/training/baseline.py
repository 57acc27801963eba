"""Baseline step: what "normal" looks like, for monitoring the deployed model.

- ``data-quality/statistics.json`` and ``constraints.json``: per-feature
  statistics and constraints of the training features, in SageMaker Model
  Monitor's format (a data-quality monitoring schedule can use them as its
  baseline; the portable drift job reads the same files).
- ``model-quality/constraints.json``: the evaluation's binary-classification
  metrics as thresholds (Model Monitor's model-quality format), and
  ``statistics.json`` with the metrics themselves.

Runs as a Processing job after evaluation, and here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.training.metrics import classification_report

BUCKETS = 10
# How far below the baseline a metric may fall before model-quality monitoring flags it.
MODEL_QUALITY_SLACK = 0.05


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


def run(train_features: Path, predictions: Path, output: Path) -> dict:
    frame = pd.concat(pd.read_csv(p) for p in sorted(train_features.glob("*.csv")))
    stats = feature_statistics(frame)
    (output / "data-quality").mkdir(parents=True, exist_ok=True)
    (output / "data-quality" / "statistics.json").write_text(json.dumps(stats, indent=2))
    (output / "data-quality" / "constraints.json").write_text(json.dumps(feature_constraints(stats), indent=2))
    quality_stats, quality_constraints = model_quality(
        pd.concat(pd.read_csv(p) for p in sorted(predictions.glob("*.csv")))
    )
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
