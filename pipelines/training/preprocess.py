"""Preprocess step: curated table -> train / validation / test for built-in XGBoost.

Reads the curated Parquet (partition folders included) or CSV, keeps the model's
features, splits stratified on the label (70/15/15 by default, seeded), and
writes CSV with the label first and no header (the built-in algorithm's input),
plus a header CSV of the training features for the monitoring baseline and an
exploratory report (class balance, missing rates, skew, correlation with the
label) that documents the data each model was trained on.

Runs as a SageMaker Processing job (default paths under /opt/ml/processing) and
on this machine with --input/--output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.data.schema import LABEL
from pipelines.training.features import FEATURES

MIN_ROWS = 100


def load_curated(path: Path) -> pd.DataFrame:
    """Every Parquet file under ``path`` (partition folders included), else every CSV, in a
    stable row order (file names differ between runs; the seeded split must not)."""
    if parquet := sorted(path.rglob("*.parquet")):
        frame = pd.concat((pd.read_parquet(p) for p in parquet), ignore_index=True)
    elif csv := sorted(path.rglob("*.csv")):
        frame = pd.concat((pd.read_csv(p) for p in csv), ignore_index=True)
    else:
        raise FileNotFoundError(f"no Parquet or CSV files under {path}")
    keys = [c for c in ("customer_id", "event_time") if c in frame.columns]
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True) if keys else frame


def explore(frame: pd.DataFrame) -> dict:
    """What the data looks like: the basis for the feature choices above."""
    features = frame[list(FEATURES)].astype(float)
    label = frame[LABEL].astype(float)
    correlation = features.corrwith(label).fillna(0.0)
    return {
        "rows": len(frame),
        "positive_rate": float(label.mean()),
        "missing_rate": {c: float(frame[c].isna().mean()) for c in FEATURES if frame[c].isna().any()},
        "skew": {c: round(float(features[c].skew()), 4) for c in FEATURES if abs(features[c].skew()) > 1},
        "top_correlations_with_label": {
            c: round(float(correlation[c]), 4) for c in correlation.abs().sort_values(ascending=False).index[:10]
        },
    }


def split(frame: pd.DataFrame, validation: float, test: float, seed: int) -> dict[str, pd.DataFrame]:
    """Stratified on the label: each split keeps the positive rate (numpy only: the
    processing image needs no scikit-learn)."""
    data = frame[[LABEL, *FEATURES]].dropna(subset=[LABEL]).copy()
    data[LABEL] = data[LABEL].astype(int)
    data[list(FEATURES)] = data[list(FEATURES)].astype(float).fillna(0.0)
    if len(data) < MIN_ROWS or data[LABEL].nunique() < 2:
        raise ValueError(f"need at least {MIN_ROWS} rows with both labels to train; got {len(data)}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for _, group in data.groupby(LABEL):
        index = rng.permutation(group.index.to_numpy())
        n_test, n_val = round(len(index) * test), round(len(index) * validation)
        parts["test"].append(index[:n_test])
        parts["validation"].append(index[n_test : n_test + n_val])
        parts["train"].append(index[n_test + n_val :])
    return {name: data.loc[rng.permutation(np.concatenate(ix))] for name, ix in parts.items()}


def run(input_path: Path, output: Path, validation: float = 0.15, test: float = 0.15, seed: int = 7) -> dict:
    frame = load_curated(input_path)
    parts = split(frame, validation, test, seed)
    for name, part in parts.items():
        (output / name).mkdir(parents=True, exist_ok=True)
        part.to_csv(output / name / f"{name}.csv", header=False, index=False)
    (output / "baseline").mkdir(parents=True, exist_ok=True)
    parts["train"][list(FEATURES)].to_csv(output / "baseline" / "train_features.csv", index=False)
    report = {
        "features": list(FEATURES),
        "label": LABEL,
        "rows": {name: len(part) for name, part in parts.items()},
        "eda": explore(frame),
    }
    (output / "report").mkdir(parents=True, exist_ok=True)
    (output / "report" / "preprocess.json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    report = run(args.input, args.output, args.validation_fraction, args.test_fraction, args.seed)
    print(json.dumps(report["rows"]))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
