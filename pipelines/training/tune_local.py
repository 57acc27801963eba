"""Local stand-in for the tuning step: a Bayesian search over XGBoost hyperparameters.

Optuna's TPE sampler (sequential model-based optimization) explores the same
search space as the SageMaker tuning job (``hyperparameters.SEARCH_SPACE``),
maximizing validation AUC with early stopping, and writes the best model the
way the built-in XGBoost container does: ``model.tar.gz`` holding ``xgboost-model``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import optuna
import xgboost as xgb

from pipelines.training import checks
from pipelines.training.features import FEATURES
from pipelines.training.hyperparameters import SEARCH_SPACE, STATIC


def load_split(folder: Path) -> xgb.DMatrix:
    """A split folder (label first, no header) as a DMatrix; bad labels or values fail here, before tuning."""
    labels, features = checks.read_split(folder, FEATURES)
    return xgb.DMatrix(features, label=labels)


def _params(trial: optuna.Trial) -> dict:
    params = {}
    for name, (kind, low, high, scale) in SEARCH_SPACE.items():
        if kind == "integer":
            params[name] = trial.suggest_int(name, int(low), int(high))
        else:
            params[name] = trial.suggest_float(name, low, high, log=scale == "Logarithmic")
    return params


def train(params: dict, dtrain: xgb.DMatrix, dvalid: xgb.DMatrix, seed: int = 7) -> xgb.Booster:
    booster_params = {
        "objective": STATIC["objective"],
        "eval_metric": STATIC["eval_metric"],
        "tree_method": STATIC["tree_method"],
        "seed": seed,
        "nthread": 1,
        **params,
    }
    return xgb.train(
        booster_params,
        dtrain,
        num_boost_round=STATIC["num_round"],
        evals=[(dvalid, "validation")],
        early_stopping_rounds=STATIC["early_stopping_rounds"],
        verbose_eval=False,
    )


def tune(train_dir: Path, validation_dir: Path, trials: int, seed: int = 7) -> tuple[xgb.Booster, dict]:
    dtrain, dvalid = load_split(train_dir), load_split(validation_dir)
    boosters: dict[int, xgb.Booster] = {}

    def objective(trial: optuna.Trial) -> float:
        booster = train(_params(trial), dtrain, dvalid, seed)
        boosters[trial.number] = booster
        return float(booster.best_score)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    best = study.best_trial
    summary = {
        "strategy": "Bayesian (TPE)",
        "trials": len(study.trials),
        "best_validation_auc": best.value,
        "best_hyperparameters": best.params,
        "best_iteration": boosters[best.number].best_iteration,
    }
    return boosters[best.number], summary


def save_model(booster: xgb.Booster, output: Path) -> Path:
    """``model.tar.gz`` with ``xgboost-model`` (JSON), byte-for-byte the same for the same booster."""
    output.mkdir(parents=True, exist_ok=True)
    payload = bytes(booster.save_raw(raw_format="json"))
    info = tarfile.TarInfo("xgboost-model")
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    archive = output / "model.tar.gz"
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        tar.addfile(info, io.BytesIO(payload))
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--validation", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    booster, summary = tune(args.train, args.validation, args.trials)
    save_model(booster, args.output)
    (args.output / "tuning.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
