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

from pipelines.training import checks
from pipelines.training.features import FEATURES, LABEL, ORDER_KEYS

MIN_ROWS = 100
# Of each class in every split: fewer, and early stopping, tuning and the gate judge AUC on next to nothing.
MIN_CLASS_ROWS = 5


def load_curated(path: Path) -> pd.DataFrame:
    """Every Parquet file under ``path`` (partition folders included), else every CSV, in a
    stable row order (by the data set's id and time fields: file names differ between runs;
    the seeded split must not)."""
    if parquet := sorted(path.rglob("*.parquet")):
        frame = pd.concat((pd.read_parquet(p) for p in parquet), ignore_index=True)
    else:
        frame = pd.concat(
            (pd.read_csv(p) for p in checks.files(path, "*.csv", "Parquet or CSV file")), ignore_index=True
        )
    keys = [c for c in ORDER_KEYS if c in frame.columns]
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
    processing image needs no scikit-learn). Refuses, naming the column or split, labels
    that are not exactly 0/1, infinite or non-numeric features, and a split short of a class."""
    if not (validation > 0 and test > 0 and validation + test < 1):
        raise ValueError(f"validation ({validation}) and test ({test}) fractions must be positive and sum below 1")
    if LABEL not in frame.columns:
        raise ValueError(f"the curated data has no label column '{LABEL}'")
    labels = checks.binary_labels(frame[LABEL], f"label column '{LABEL}' of the curated data")
    features = checks.finite_features(frame, list(FEATURES), "the curated data").fillna(0.0)
    data = pd.concat([labels.rename(LABEL), features], axis=1)
    if len(data) < MIN_ROWS:
        raise ValueError(f"need at least {MIN_ROWS} rows with both labels to train; got {len(data)}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for value, kind in ((0, "negative"), (1, "positive")):
        index = rng.permutation(data.index.to_numpy()[data[LABEL].to_numpy() == value])
        n_test, n_val = round(len(index) * test), round(len(index) * validation)
        chosen = {
            "test": index[:n_test],
            "validation": index[n_test : n_test + n_val],
            "train": index[n_test + n_val :],
        }
        for name, rows in chosen.items():
            if len(rows) < MIN_CLASS_ROWS:
                raise ValueError(
                    f"the '{name}' split would get {len(rows)} {kind} row(s) (label '{LABEL}' = {value}) of "
                    f"{len(index)} in all; every split needs at least {MIN_CLASS_ROWS} of each class: "
                    "add data or change the split fractions"
                )
            parts[name].append(rows)
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
