"""The bootstrap model: what the endpoint serves before any model is approved.

A fresh account has an empty model registry, and the serving stack must still
deploy and answer. This builds a small, deterministic XGBoost model for the
active data-set spec (environment variable ``DATASET``, default churn) the way
the pipeline does, without Spark: records from the spec's generator, the curated
features as the ETL derives them for clean records (the monitoring simulator's
pandas transform, driven by the same spec), preprocess, XGBoost with fixed
hyperparameters. It writes, byte for byte reproducible,
``pipelines/serving/bootstrap/<data set>/model.tar.gz`` and ``model.json`` (the
feature list it takes and its test metrics), both checked in. Synth ships the
data set's archive as an asset and fails, naming this command, when it is missing
or takes other features than the spec's:

    make bootstrap-model DATASET=<name>        # = DATASET=<name> python -m pipelines.serving.bootstrap
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from pipelines.data import spec as specs

HERE = Path(__file__).resolve().parent / "bootstrap"
ROWS, SEED = 6_000, 2026
PARAMS = {"max_depth": 3, "eta": 0.2, "subsample": 1.0, "colsample_bytree": 1.0, "min_child_weight": 1.0}


def artifact_path(dataset: str) -> Path:
    return HERE / dataset / "model.tar.gz"


# The active data set's archive (environment variable DATASET, default churn).
ARTIFACT = artifact_path(specs.active().name)


def features_digest(features: tuple[str, ...] | list[str]) -> str:
    return hashlib.sha256("\n".join(features).encode()).hexdigest()


def artifact(dataset: str, features: tuple[str, ...] | list[str]) -> Path:
    """The bootstrap archive of ``dataset``; a FileNotFoundError naming the command to build it when it
    is missing or was built for another feature list than ``features``."""
    path = artifact_path(dataset)
    command = f"run `make bootstrap-model DATASET={dataset}` and commit {path.parent.relative_to(HERE.parents[2])}"
    try:
        built = json.loads((path.parent / "model.json").read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no bootstrap model for data set {dataset!r}: {command}") from None
    if not path.exists() or built.get("features_sha256") != features_digest(features):
        raise FileNotFoundError(
            f"the bootstrap model of data set {dataset!r} was built for other features than its spec's: {command}"
        )
    return path


def build(output: Path) -> dict:
    """Train the bootstrap model of the active data set into ``output`` (a model.tar.gz path)."""
    from pipelines.monitoring import simulate
    from pipelines.training import evaluate, preprocess, tune_local
    from pipelines.training.features import FEATURES, LABEL

    raw = simulate.raw_frame(ROWS, SEED)
    curated = simulate.transform(raw, simulate.batch_statistics(raw))
    curated[LABEL] = raw[LABEL].to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "curated").mkdir()
        curated.to_csv(work / "curated" / "curated.csv", index=False)
        preprocess.run(work / "curated", work / "splits", seed=SEED)
        booster = tune_local.train(
            PARAMS, tune_local.load_split(work / "splits" / "train"), tune_local.load_split(work / "splits" / "validation"),
            seed=SEED,
        )  # fmt: skip
        tune_local.save_model(booster, output.parent)
        metrics = evaluate.evaluate(output.parent, work / "splits" / "test", work / "evaluation")
    return {
        "features": list(FEATURES),
        "features_sha256": features_digest(FEATURES),
        **{k: round(metrics[k], 4) for k in ("auc", "accuracy", "f1")},
    }


def describe(dataset: str, described: dict) -> str:
    return json.dumps({"dataset": dataset, **described}, indent=1) + "\n"


def main() -> int:
    name = specs.active().name
    described = build(ARTIFACT)
    (ARTIFACT.parent / "model.json").write_text(describe(name, described))
    print(json.dumps({"artifact": str(ARTIFACT), **{k: described[k] for k in ("auc", "accuracy", "f1")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
