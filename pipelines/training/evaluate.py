"""Evaluate step: score the test split with the tuned model; write the evaluation report.

``evaluation.json`` follows SageMaker's model-quality format
(``binary_classification_metrics.<metric>.value``): the pipeline's condition
step reads AUC from it, and the model registry shows it as the model's metrics.
Also writes ``predictions.csv`` (label, probability) for the model-quality
baseline. Runs in the built-in XGBoost image as a Processing job, and here.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from pipelines.training import checks
from pipelines.training.features import FEATURES
from pipelines.training.metrics import classification_report


def load_model(archive: Path) -> xgb.Booster:
    """The booster inside a built-in-algorithm ``model.tar.gz`` (JSON/UBJ, or pickled by older images)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        path = Path(tmp) / "xgboost-model"
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(path.read_bytes()))
        except xgb.core.XGBoostError:
            with path.open("rb") as handle:
                booster = pickle.load(handle)
        return booster


def sagemaker_report(metrics: dict) -> dict:
    scalar = ("auc", "accuracy", "precision", "recall", "f1", "true_positive_rate", "false_positive_rate")
    body = {name: {"value": metrics[name], "standard_deviation": "NaN"} for name in scalar}
    body["confusion_matrix"] = metrics["confusion_matrix"]
    return {"binary_classification_metrics": body}


def evaluate(model_dir: Path, test_dir: Path, output: Path, threshold: float = 0.5) -> dict:
    archive = checks.files(model_dir, "model.tar.gz", "model.tar.gz")[0]
    booster = load_model(archive)
    labels, features = checks.read_split(test_dir, FEATURES)
    scores = booster.predict(xgb.DMatrix(features))
    metrics = classification_report(labels, scores, threshold)
    output.mkdir(parents=True, exist_ok=True)
    (output / "evaluation.json").write_text(json.dumps(sagemaker_report(metrics), indent=2))
    pd.DataFrame({"label": labels.astype(int), "probability": scores}).to_csv(output / "predictions.csv", index=False)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    metrics = evaluate(args.model, args.test, args.output, args.threshold)
    print(json.dumps({k: metrics[k] for k in ("auc", "accuracy", "precision", "recall", "f1")}))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
