"""The training pipeline's scripts on the ETL's output: real numbers, checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from pipelines.data.schema import LABEL, PII_COLUMNS
from pipelines.training import baseline, evaluate, preprocess, run_local, tune_local
from pipelines.training.features import FEATURES
from pipelines.training.metrics import auc, classification_report
from pipelines.training.registry import PENDING, gate


@pytest.fixture(scope="module")
def pipeline_run(curated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("pipeline")
    return work, run_local.run(curated_dir, work, trials=8, min_auc=0.7)


def _split(work: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(work / "preprocess" / name / f"{name}.csv", header=None)


def test_preprocess_splits_stratified_without_identifiers(pipeline_run) -> None:
    work, result = pipeline_run
    sizes = result["rows"]
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.70) < 0.01 and abs(sizes["test"] / total - 0.15) < 0.01
    rates = [_split(work, n)[0].mean() for n in ("train", "validation", "test")]
    assert max(rates) - min(rates) < 0.02  # stratified on the label
    train = _split(work, "train")
    assert train.shape[1] == 1 + len(FEATURES)
    assert set(train[0].unique()) == {0, 1}  # label first
    assert not set(PII_COLUMNS) & set(FEATURES) and "event_time" not in FEATURES
    report = json.loads((work / "preprocess" / "report" / "preprocess.json").read_text())
    assert 0.1 < report["eda"]["positive_rate"] < 0.9
    assert report["eda"]["top_correlations_with_label"]


def test_tuned_model_beats_trivial_baselines(pipeline_run) -> None:
    work, result = pipeline_run
    metrics = result["metrics"]
    test = _split(work, "test")
    majority = max(test[0].mean(), 1 - test[0].mean())
    assert metrics["auc"] > 0.75  # a coin flip scores 0.5
    assert metrics["accuracy"] > majority
    assert result["tuning"]["trials"] == 8 and result["tuning"]["strategy"].startswith("Bayesian")


def test_metrics_agree_with_sklearn_and_the_confusion_matrix(pipeline_run) -> None:
    work, _ = pipeline_run
    predictions = pd.read_csv(work / "evaluation" / "predictions.csv")
    labels, scores = predictions["label"].to_numpy(), predictions["probability"].to_numpy()
    report = classification_report(labels, scores)
    predicted = (scores >= 0.5).astype(int)
    cm = report["confusion_matrix"]
    tn, fp, fn, tp = cm["0"]["0"], cm["0"]["1"], cm["1"]["0"], cm["1"]["1"]
    assert tn + fp + fn + tp == len(labels)
    assert report["precision"] == pytest.approx(tp / (tp + fp)) == pytest.approx(precision_score(labels, predicted))
    assert report["recall"] == pytest.approx(tp / (tp + fn)) == pytest.approx(recall_score(labels, predicted))
    assert report["f1"] == pytest.approx(f1_score(labels, predicted))
    assert (
        report["accuracy"] == pytest.approx((tp + tn) / len(labels)) == pytest.approx(accuracy_score(labels, predicted))
    )
    assert report["auc"] == pytest.approx(roc_auc_score(labels, scores))


def test_auc_handles_ties_like_sklearn() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500), 1)  # many ties
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    with pytest.raises(ValueError, match="both classes"):
        auc(np.ones(5), np.ones(5))


def test_evaluation_report_is_in_sagemaker_model_quality_format(pipeline_run) -> None:
    work, result = pipeline_run
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    body = evaluation["binary_classification_metrics"]
    assert body["auc"]["value"] == pytest.approx(result["metrics"]["auc"])
    for name in ("accuracy", "precision", "recall", "f1"):
        assert "value" in body[name]
    assert set(body["confusion_matrix"]) == {"0", "1"}


def test_registered_model_is_pending_approval_with_metrics_and_baselines(pipeline_run) -> None:
    _work, result = pipeline_run
    target = Path(result["registered"])
    package = json.loads((target / "model_package.json").read_text())
    assert package["ModelApprovalStatus"] == PENDING and package["ModelPackageVersion"] == 1
    assert (target / "model.tar.gz").exists() and (target / "evaluation.json").exists()
    stats = json.loads((target / "baselines" / "data-quality" / "statistics.json").read_text())
    assert [f["name"] for f in stats["features"]] == list(FEATURES)
    constraints = json.loads((target / "baselines" / "data-quality" / "constraints.json").read_text())
    assert constraints["monitoring_config"]["evaluate_constraints"] == "Enabled"
    # Model Monitor's analyzer names headerless CSV columns _c0, _c1...: its copy uses those names.
    positional = json.loads((target / "baselines" / "model-monitor" / "data-quality" / "statistics.json").read_text())
    assert [f["name"] for f in positional["features"]] == [f"_c{i}" for i in range(len(FEATURES))]
    assert [f["numerical_statistics"] for f in positional["features"]] == [
        f["numerical_statistics"] for f in stats["features"]
    ]
    quality = json.loads((target / "baselines" / "model-quality" / "constraints.json").read_text())
    auc_floor = quality["binary_classification_constraints"]["auc"]
    assert auc_floor["comparison_operator"] == "LessThanThreshold"
    assert auc_floor["threshold"] == pytest.approx(result["metrics"]["auc"] - baseline.MODEL_QUALITY_SLACK)
    # the archive is what the built-in container writes, and evaluate can read it back
    booster = evaluate.load_model(target / "model.tar.gz")
    assert booster.num_features() == len(FEATURES)


def test_gate_fails_a_deliberately_bad_model(pipeline_run, tmp_path) -> None:
    work, _ = pipeline_run
    # a model trained on shuffled labels has no signal
    train = _split(work, "train")
    train[0] = np.random.default_rng(0).permutation(train[0].to_numpy())
    (tmp_path / "train").mkdir()
    train.to_csv(tmp_path / "train" / "train.csv", header=False, index=False)
    booster = tune_local.train({"max_depth": 2, "eta": 0.3}, tune_local.load_split(tmp_path / "train"),
                               tune_local.load_split(work / "preprocess" / "validation"))  # fmt: skip
    tune_local.save_model(booster, tmp_path / "model")
    evaluate.evaluate(tmp_path / "model", work / "preprocess" / "test", tmp_path / "evaluation")
    evaluation = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    passed, reason = gate(evaluation, 0.7)
    assert not passed and "below the required 0.7000" in reason


def test_local_pipeline_stops_at_the_gate(curated_dir: Path, tmp_path, capsys) -> None:
    code = run_local.main(
        ["--curated", str(curated_dir), "--work", str(tmp_path), "--trials", "2", "--min-auc", "0.999"]
    )
    assert code == 2
    assert "FAILED quality gate" in capsys.readouterr().err
    assert not (tmp_path / "registry").exists()


def test_preprocess_refuses_too_little_data(tmp_path) -> None:
    frame = pd.DataFrame({c: [0.0] * 10 for c in FEATURES} | {LABEL: [0, 1] * 5})
    (tmp_path / "in").mkdir()
    frame.to_csv(tmp_path / "in" / "x.csv", index=False)
    with pytest.raises(ValueError, match="at least 100 rows"):
        preprocess.run(tmp_path / "in", tmp_path / "out")
