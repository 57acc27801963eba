"""The bootstrap model: what the endpoint serves before any model is approved.

A fresh account has an empty model registry, and the serving stack must still
deploy and answer. This builds a small, deterministic XGBoost model the same
way the pipeline does (generated events -> the ETL's logic -> preprocess ->
XGBoost with fixed hyperparameters) and writes it, byte for byte reproducible,
to ``pipelines/serving/bootstrap/model.tar.gz`` (checked in; a test rebuilds
it and compares). Synth ships it as an asset; no build step needs Spark.

    python -m pipelines.serving.bootstrap
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parent / "bootstrap" / "model.tar.gz"
ROWS, SEED = 6_000, 2026
PARAMS = {"max_depth": 3, "eta": 0.2, "subsample": 1.0, "colsample_bytree": 1.0, "min_child_weight": 1.0}


def build(output: Path, spark=None) -> dict:
    from pipelines.data.generate import write
    from pipelines.glue.curate import run_local, spark_session
    from pipelines.training import evaluate, preprocess, tune_local

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_local(str(write(work / "raw.jsonl", ROWS, seed=SEED)), str(work / "etl"), spark=spark or spark_session())
        preprocess.run(work / "etl" / "curated", work / "splits", seed=SEED)
        booster = tune_local.train(
            PARAMS, tune_local.load_split(work / "splits" / "train"), tune_local.load_split(work / "splits" / "validation"),
            seed=SEED,
        )  # fmt: skip
        tune_local.save_model(booster, output.parent)
        metrics = evaluate.evaluate(output.parent, work / "splits" / "test", work / "evaluation")
    return {k: metrics[k] for k in ("auc", "accuracy", "f1")}


def main() -> int:
    metrics = build(ARTIFACT)
    print(json.dumps({"artifact": str(ARTIFACT), **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
