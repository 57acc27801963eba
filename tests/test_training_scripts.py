"""The training pipeline's scripts on the ETL's output: real numbers, checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from pipelines.data import spec as specs
from pipelines.training import baseline, checks, evaluate, preprocess, run_local, tune_local
from pipelines.training.features import DATASET, FEATURES, LABEL
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
    identifiers = {*specs.pii_columns(DATASET), *specs.dedup_keys(DATASET), DATASET.label}
    assert not identifiers & set(FEATURES)
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


# --- Bad input: a clear error naming the column, split or folder, before any tuning -----------


def _frame(labels: list, seed: int = 0) -> pd.DataFrame:
    """A curated-like frame: random features, the given labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.random((len(labels), len(FEATURES))), columns=list(FEATURES))
    frame[LABEL] = pd.Series(labels, dtype=object if any(isinstance(v, str) for v in labels) else None)
    return frame


@pytest.mark.parametrize("bad", [0.5, 2, -1, 1.0000001, float("nan"), "yes"])
def test_preprocess_refuses_labels_that_are_not_exactly_0_or_1(bad) -> None:
    labels = [0, 1] * 150
    labels[17] = bad
    with pytest.raises(ValueError, match=rf"label column '{LABEL}'.*1 row"):
        preprocess.split(_frame(labels), 0.15, 0.15, 7)


def test_preprocess_names_the_split_short_of_positives() -> None:
    labels = [0] * 297 + [1] * 3
    with pytest.raises(ValueError, match=r"'(test|validation)' split would get [0-9]+ positive"):
        preprocess.split(_frame(labels), 0.15, 0.15, 7)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), 1e39])
def test_preprocess_names_a_column_with_infinite_values(bad) -> None:
    frame = _frame([0, 1] * 150)
    column = FEATURES[len(FEATURES) // 2]
    frame.loc[42, column] = bad
    with pytest.raises(ValueError, match=rf"feature column '{column}'.*infinite"):
        preprocess.split(frame, 0.15, 0.15, 7)


def test_preprocess_names_missing_and_non_numeric_feature_columns() -> None:
    frame = _frame([0, 1] * 150)
    with pytest.raises(ValueError, match=rf"lacks the feature columns.*'{FEATURES[0]}'"):
        preprocess.split(frame.drop(columns=[FEATURES[0]]), 0.15, 0.15, 7)
    frame[FEATURES[1]] = frame[FEATURES[1]].astype(object)
    frame.loc[3, FEATURES[1]] = "n/a"
    with pytest.raises(ValueError, match=rf"feature column '{FEATURES[1]}'.*not a number.*'n/a'"):
        preprocess.split(frame, 0.15, 0.15, 7)


def test_empty_folders_get_a_clear_error_not_stop_iteration(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no CSV file under .*empty"):
        tune_local.load_split(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"no model.tar.gz under .*empty"):
        evaluate.evaluate(tmp_path / "empty", tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"no CSV file under .*empty"):
        baseline.run(tmp_path / "empty", tmp_path / "empty", tmp_path / "out")


@pytest.mark.parametrize(("label", "value", "match"), [(0.5, 1.0, "label"), (1, float("inf"), "column 2")])
def test_tuning_refuses_a_split_with_a_bad_label_or_value(tmp_path, label, value, match) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.csv").write_text(f"0,1.0,2.0\n{label},3.0,{value}\n1,0.5,0.5\n")
    with pytest.raises(ValueError, match=rf"{match}.*train"):
        tune_local.load_split(tmp_path / "train")


def test_metrics_refuse_labels_that_are_not_exactly_0_or_1() -> None:
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        classification_report(np.array([0, 1, 0.5, 1]), np.array([0.1, 0.9, 0.4, 0.7]))
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        auc(np.array([0, 1, 2]), np.array([0.1, 0.9, 0.4]))


BAD_LABELS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not min(abs(v), abs(v - 1)) <= 1e-9),
    st.integers(-(2**62), 2**62).filter(lambda v: v not in (0, 1)),
    st.text(alphabet="abyesno-_", min_size=1, max_size=4),
    st.none(),
)
INFINITE = st.one_of(
    st.sampled_from([float("inf"), float("-inf")]),
    st.floats(min_value=3.5e38, max_value=1e308),
    st.floats(min_value=-1e308, max_value=-3.5e38),
)


@st.composite
def curated_frames(draw) -> tuple[pd.DataFrame, list, list]:
    """A curated frame with a drawn class balance, some cells corrupted: (frame, bad labels, infinite cells)."""
    negatives, positives = draw(st.integers(60, 260)), draw(st.integers(0, 90))
    labels: list = draw(st.permutations([0] * negatives + [1] * positives))
    # the same labels spelled as int, float or bool
    labels = [draw(st.sampled_from([v, float(v), bool(v)])) if i < 5 else v for i, v in enumerate(labels)]
    bad = draw(st.lists(st.tuples(st.integers(0, len(labels) - 1), BAD_LABELS), max_size=2, unique_by=lambda t: t[0]))
    for row, value in bad:
        labels[row] = value
    frame = _frame(labels, draw(st.integers(0, 2**16)))
    cells = draw(st.lists(st.tuples(st.integers(0, len(labels) - 1), st.sampled_from(FEATURES), INFINITE), max_size=2))
    for row, column, value in cells:
        frame.loc[row, column] = value
    return frame, bad, cells


@pytest.mark.property
@given(curated_frames())
@settings(deadline=None)
def test_property_preprocess_keeps_every_row_and_exact_label_or_names_what_is_wrong(case) -> None:
    frame, bad, cells = case
    try:
        parts = preprocess.split(frame, 0.15, 0.15, 7)
    except ValueError as error:
        message = str(error)
        if bad:
            assert f"label column '{LABEL}'" in message and f"{len(bad)} row(s)" in message, message
        elif cells:
            assert any(f"feature column '{c}'" in message and "infinite" in message for _, c, _ in cells), message
        elif len(frame) < preprocess.MIN_ROWS:
            assert f"at least {preprocess.MIN_ROWS} rows" in message
        else:  # too few of a class: only when that class really is small
            found = re.search(r"the '(train|validation|test)' split would get \d+ (positive|negative) row", message)
            assert found, message
            size = int((frame[LABEL].astype(int) == (1 if found[2] == "positive" else 0)).sum())
            assert size < preprocess.MIN_CLASS_ROWS / 0.15 + 1, message
        return
    assert not bad and not cells, "a bad label or an infinite value went through"
    together = pd.concat(parts.values())
    assert len(together) == len(frame) and together.index.is_unique  # every row, once
    assert (together[LABEL].sort_index().to_numpy() == frame[LABEL].astype(int).to_numpy()).all()  # exact labels
    for name, part in parts.items():
        assert part[LABEL].value_counts().reindex([0, 1], fill_value=0).min() >= preprocess.MIN_CLASS_ROWS, name


@pytest.mark.property
@given(
    rows=st.lists(
        st.tuples(st.sampled_from([0, 1]), st.floats(-1e30, 1e30), st.floats(-1e30, 1e30)), min_size=1, max_size=30
    ),
    corrupt=st.one_of(
        st.none(),
        st.tuples(st.integers(0, 29), st.just(0), BAD_LABELS),
        st.tuples(
            st.integers(0, 29), st.sampled_from([1, 2]), INFINITE | st.text(alphabet="abxyz/-", min_size=1, max_size=3)
        ),
    ),
)
@settings(deadline=None)
def test_property_split_readers_take_only_exact_labels_and_finite_values(tmp_path_factory, rows, corrupt) -> None:
    """What tuning and evaluation read: a bad label or value fails naming the folder and column."""
    folder = tmp_path_factory.mktemp("split")
    cells = [list(row) for row in rows]
    if corrupt is not None:
        cells[corrupt[0] % len(cells)][corrupt[1]] = corrupt[2]
    pd.DataFrame(cells).to_csv(folder / "split.csv", header=False, index=False)
    try:
        labels, features = checks.read_split(folder)
    except ValueError as error:
        assert corrupt is not None, str(error)
        assert str(folder) in str(error)
        assert ("label (column 0)" if corrupt[1] == 0 else f"column {corrupt[1]}") in str(error)
        return
    assert corrupt is None, "a bad label or value went through"
    assert labels.tolist() == [float(row[0]) for row in rows]
    assert np.isfinite(features).all() and features.shape == (len(rows), 2)
