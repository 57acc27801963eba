"""Run the training pipeline's scripts end to end on this machine.

preprocess -> Bayesian search over XGBoost (Optuna TPE) -> evaluate -> gate
(AUC >= threshold) -> register (a local registry folder, pending approval) and
monitoring baselines. The same scripts run as the SageMaker pipeline's steps.

    python -m pipelines.training.run_local --curated data/etl/curated --work data/pipeline
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.training import baseline, evaluate, preprocess, tune_local
from pipelines.training.features import DATASET
from pipelines.training.registry import gate, register_local

MODEL_PACKAGE_GROUP = DATASET.name


def _step(message: str) -> None:
    # Progress on stderr: the steps take minutes together, and stdout carries the JSON result.
    print(f"pipeline-local: {message}", file=sys.stderr, flush=True)


def run(curated: Path, work: Path, *, trials: int = 15, min_auc: float = 0.75, seed: int = 7) -> dict:
    _step(f"preprocess {curated} (split, encode, EDA report)")
    report = preprocess.run(curated, work / "preprocess", seed=seed)
    _step(f"Bayesian search over XGBoost hyperparameters: {trials} trials")
    booster, tuning = tune_local.tune(work / "preprocess" / "train", work / "preprocess" / "validation", trials, seed)
    tune_local.save_model(booster, work / "model")
    _step("evaluate the best model on the test split, then the quality gate")
    metrics = evaluate.evaluate(work / "model", work / "preprocess" / "test", work / "evaluation")
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    passed, reason = gate(evaluation, min_auc)
    result = {
        "rows": report["rows"],
        "tuning": tuning,
        "metrics": {k: metrics[k] for k in ("auc", "accuracy", "precision", "recall", "f1")},
        "gate": reason,
    }
    if not passed:
        result["registered"] = None
        return result
    _step("monitoring baselines and local registration")
    baseline.run(work / "preprocess" / "baseline", work / "evaluation", work / "baselines")
    target = register_local(
        work / "registry", MODEL_PACKAGE_GROUP, work / "model" / "model.tar.gz", work / "evaluation",
        work / "baselines", {"Hyperparameters": tuning["best_hyperparameters"]},
    )  # fmt: skip
    result["registered"] = str(target)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curated", type=Path, default=Path("data/etl/curated"))
    parser.add_argument("--work", type=Path, default=Path("data/pipeline"))
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--min-auc", type=float, default=0.75)
    args = parser.parse_args(argv)
    result = run(args.curated, args.work, trials=args.trials, min_auc=args.min_auc)
    print(json.dumps(result, indent=2))
    if result["registered"] is None:
        print(f"FAILED quality gate: {result['gate']}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
