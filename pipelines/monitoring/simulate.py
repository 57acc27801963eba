"""Simulated endpoint traffic in SageMaker's real data-capture format, for tests, the bench and
`make monitor-local`.

Records come from the project's data generator, go through the model's feature
transform (the ETL's imputation, capping and features, here in pandas, with the
training batch's statistics), get a score from a stand-in for the model (a
logistic function close to the generator's own), and are written as capture
files (CSV, JSON and BASE64 encodings in turn) under
``<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, with ground truth in Model
Monitor's format under ``<ground truth>/yyyy/mm/dd/hh/`` (the hour the label
arrives). A shift can be injected into one feature; malformed lines can be mixed in.

    python -m pipelines.monitoring.simulate --out data/monitoring --rows 20000
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.data import spec as specs
from pipelines.data.generate import FaultRates, generate
from pipelines.training import baseline
from pipelines.training.features import CATEGORIES, DATASET, FEATURES, LABEL

# The active data-set spec's names (what the ETL imputes, caps and derives).
NUMERIC_DOMAIN = {f.name: f.domain for f in specs.numeric_fields(DATASET)}
MEDIAN_IMPUTED, MEAN_IMPUTED, MODE_IMPUTED = (
    tuple(f.name for f in specs.imputed(DATASET, s)) for s in ("median", "mean", "mode")
)
DERIVED_IMPUTED = {f.name: f.impute_expression for f in specs.imputed(DATASET, "derived")}
CAPPED = tuple(f.name for f in specs.capped(DATASET))
DATES = tuple(f.name for f in DATASET.of_kind("timestamp", "date"))
# Spark SQL functions the spec's expression hooks may use, in pandas (Sunday = 1 like Spark).
SQL_FUNCTIONS = {
    "round": lambda value, digits=0: value.round(int(digits)) if hasattr(value, "round") else round(value, digits),
    "greatest": lambda *values: functools.reduce(np.maximum, values),
    "least": lambda *values: functools.reduce(np.minimum, values),
    "dayofweek": lambda moment: (moment.dt.day_of_week + 1) % 7 + 1,
    "year": lambda moment: moment.dt.year,
    "month": lambda moment: moment.dt.month,
    "to_date": lambda moment: moment.dt.normalize(),
    "datediff": lambda end, start: (end.dt.normalize() - start.dt.normalize()).dt.days,
}


def evaluate_hook(expression: str, frame: pd.DataFrame) -> pd.Series:
    """A spec expression hook (Spark SQL arithmetic and the functions above) on a pandas frame."""
    value = eval(expression, {"__builtins__": {}, **SQL_FUNCTIONS}, {c: frame[c] for c in frame.columns})
    return pd.Series(value, index=frame.index)


ENCODINGS = ("CSV", "JSON", "BASE64")
VARIANTS = ("champion", "challenger")
END = datetime(2026, 7, 1, tzinfo=UTC)
CLEAN = FaultRates(missing=0.03, corrupt=0.0, duplicate=0.0)


def raw_frame(rows: int, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([json.loads(line) for line in generate(rows, seed, CLEAN)])
    return frame.replace("", np.nan)


def batch_statistics(frame: pd.DataFrame) -> dict:
    stats: dict = {}
    for name in NUMERIC_DOMAIN:
        column = pd.to_numeric(frame[name], errors="coerce")
        q1, median, q3 = column.quantile([0.25, 0.5, 0.75]).tolist()
        stats[name] = {"q1": q1, "median": median, "q3": q3, "mean": column.mean()}
    for name in MODE_IMPUTED:
        stats[name] = {"mode": frame[name].dropna().mode().sort_values().iloc[0]}
    return stats


def transform(raw: pd.DataFrame, stats: dict) -> pd.DataFrame:
    """The curated features of ``raw`` (what the ETL does, for clean records), in FEATURES order."""
    df = raw.copy()
    for name in NUMERIC_DOMAIN:
        df[name] = pd.to_numeric(df[name], errors="coerce")
    for name in (*MEDIAN_IMPUTED, *MEAN_IMPUTED, *DERIVED_IMPUTED, *MODE_IMPUTED):
        df[f"{name}_was_missing"] = df[name].isna().astype(int)
    for name in MEDIAN_IMPUTED:
        df[name] = df[name].fillna(stats[name]["median"])
    for name in MEAN_IMPUTED:
        df[name] = df[name].fillna(float(round(stats[name]["mean"])))
    for name, expression in DERIVED_IMPUTED.items():
        df[name] = df[name].fillna(evaluate_hook(expression, df))
    for name in MODE_IMPUTED:
        df[name] = df[name].fillna(stats[name]["mode"])
    for name in CAPPED:
        q1, q3 = stats[name]["q1"], stats[name]["q3"]
        lo_domain, hi_domain = NUMERIC_DOMAIN[name]
        lo, hi = max(lo_domain, q1 - 1.5 * (q3 - q1)), min(hi_domain, q3 + 1.5 * (q3 - q1))
        df[f"{name}_capped"] = ((df[name] < lo) | (df[name] > hi)).astype(int)
        df[name] = df[name].clip(lo, hi)
    for name in DATES:
        df[name] = pd.to_datetime(df[name], utc=True)
    for engineered in DATASET.engineered:
        df[engineered.name] = evaluate_hook(engineered.expression, df)
    for name, values in CATEGORIES.items():
        for value in values:
            df[specs.one_hot_column(name, value)] = (df[name] == value).astype(int)
    return df[list(FEATURES)].astype(float)


@functools.cache
def _model():
    from pipelines.serving import bootstrap
    from pipelines.training.evaluate import load_model

    return load_model(bootstrap.artifact(DATASET.name, FEATURES))


def score(features: pd.DataFrame) -> np.ndarray:
    """A stand-in for the model: the data set's bootstrap model (trained on this transform of generated
    records), so the scores carry real signal whatever the data set."""
    import xgboost as xgb

    return _model().predict(xgb.DMatrix(features[list(FEATURES)].to_numpy(dtype=float)))


@dataclass
class Population:
    """Transformed feature rows, their labels and scores: what traffic is drawn from."""

    features: pd.DataFrame
    labels: np.ndarray
    scores: np.ndarray


def population(rows: int, seed: int, stats: dict) -> Population:
    raw = raw_frame(rows, seed)
    features = transform(raw, stats)
    return Population(features, raw[LABEL].to_numpy(dtype=float), score(features))


def write_baselines(output: Path, rows: int = 20_000, seed: int = 1) -> dict:
    """The training batch's statistics and baselines (what the pipeline's baseline step writes)."""
    raw = raw_frame(rows, seed)
    stats = batch_statistics(raw)
    features = transform(raw, stats)
    statistics = baseline.feature_statistics(features)
    (output / "data-quality").mkdir(parents=True, exist_ok=True)
    (output / "data-quality" / "statistics.json").write_text(json.dumps(statistics))
    (output / "data-quality" / "constraints.json").write_text(json.dumps(baseline.feature_constraints(statistics)))
    (output / "drift").mkdir(parents=True, exist_ok=True)
    (output / "drift" / "baseline.json").write_text(json.dumps(baseline.drift_baseline(features, score(features))))
    return stats


@dataclass
class Traffic:
    """What to write: how many rows, over which hours, with which faults."""

    rows: int
    hours: int = 24
    end: datetime = END
    label_rate: float = 0.5
    label_delay_hours: int = 24
    # {"feature": name, "factor": x, "add": y}: the window's values become value * factor + add.
    shift: dict | None = None
    bad_lines: int = 0
    seed: int = 0
    encodings: tuple[str, ...] = ENCODINGS
    file_rows: int = 50_000
    written: dict = field(default_factory=dict)


def _csv_lines(matrix: pd.DataFrame) -> list[str]:
    buffer = io.StringIO()
    matrix.to_csv(buffer, header=False, index=False, float_format="%.6g")
    return buffer.getvalue().splitlines()


def _record(body: str, score_value: float, encoding: str, event_id: str, inference_id: str, when: str) -> str:
    if encoding == "JSON":
        values = [float(v) for v in body.split(",")]
        source = {"observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON",
                  "data": json.dumps({"instances": [{"features": values}]})}  # fmt: skip
        output = {"observedContentType": "application/json", "mode": "OUTPUT", "encoding": "JSON",
                  "data": json.dumps({"predictions": [{"score": score_value}]})}  # fmt: skip
    elif encoding == "BASE64":
        source = {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "BASE64",
                  "data": base64.b64encode(body.encode()).decode()}  # fmt: skip
        output = {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "BASE64",
                  "data": base64.b64encode(f"{score_value:.6f}".encode()).decode()}  # fmt: skip
    else:
        source = {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV", "data": body}
        output = {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "encoding": "CSV",
                  "data": f"{score_value:.6f}"}  # fmt: skip
    return json.dumps(
        {
            "captureData": {"endpointInput": source, "endpointOutput": output},
            "eventMetadata": {"eventId": event_id, "inferenceId": inference_id, "inferenceTime": when},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )


BAD_LINES = (
    '{"captureData": {"endpointInput": ',  # truncated
    '{"captureData": {"endpointInput": {"mode": "INPUT", "data": "1,2,3", "encoding": "CSV"}, '
    '"endpointOutput": {"mode": "OUTPUT", "data": "0.5", "encoding": "CSV"}}, '
    '"eventMetadata": {"eventId": "bad-1", "inferenceId": "bad-1"}, "eventVersion": "0"}',  # too few values
    '{"captureData": {"endpointInput": {"mode": "INPUT", "data": "!!not base64!!", "encoding": "BASE64"}, '
    '"endpointOutput": {"mode": "OUTPUT", "data": "0.5", "encoding": "CSV"}}, '
    '"eventMetadata": {"eventId": "bad-2"}, "eventVersion": "0"}',
    "not json at all",
)


def write_capture(root: Path, truth_root: Path | None, endpoint: str, variant: str, pop: Population,
                  traffic: Traffic) -> dict:  # fmt: skip
    """Draw ``traffic.rows`` rows from ``pop`` and write them as capture (and ground-truth) files."""
    rng = np.random.default_rng(traffic.seed)
    pick = rng.integers(0, len(pop.scores), traffic.rows)
    features = pop.features.iloc[pick].reset_index(drop=True)
    scores = pop.scores[pick].round(6)  # what every encoding below carries, exactly
    if traffic.shift:
        name = traffic.shift["feature"]
        features[name] = features[name] * traffic.shift.get("factor", 1.0) + traffic.shift.get("add", 0.0)
    labels = pop.labels[pick]
    lines = _csv_lines(features)
    start = traffic.end - timedelta(hours=traffic.hours)
    seconds = np.sort(rng.integers(0, traffic.hours * 3600, traffic.rows))
    labelled = rng.random(traffic.rows) < traffic.label_rate
    by_hour: dict[datetime, list[str]] = {}
    truth: dict[datetime, list[str]] = {}
    for i in range(traffic.rows):
        moment = start + timedelta(seconds=int(seconds[i]))
        hour = moment.replace(minute=0, second=0, microsecond=0)
        inference_id = f"{variant}-{traffic.seed}-{i}"
        when = moment.isoformat().replace("+00:00", "Z")
        encoding = traffic.encodings[i % len(traffic.encodings)]
        by_hour.setdefault(hour, []).append(
            _record(lines[i], float(scores[i]), encoding, f"evt-{inference_id}", inference_id, when)
        )
        if truth_root is not None and labelled[i]:
            arrival = hour + timedelta(hours=traffic.label_delay_hours)
            truth.setdefault(arrival, []).append(
                json.dumps(
                    {
                        "groundTruthData": {"data": str(int(labels[i])), "encoding": "CSV"},
                        "eventMetadata": {"eventId": inference_id},
                        "eventVersion": "0",
                    }
                )
            )
    hours = sorted(by_hour)
    for k in range(traffic.bad_lines):
        by_hour[hours[k % len(hours)]].append(BAD_LINES[k % len(BAD_LINES)])
    files = 0
    for hour, records in by_hour.items():
        folder = root / endpoint / variant / f"{hour:%Y/%m/%d/%H}"
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(0, len(records), traffic.file_rows):
            name = f"{hour:%M-%S}-{part // traffic.file_rows:03d}-{variant}-{traffic.seed}.jsonl"
            (folder / name).write_text("\n".join(records[part : part + traffic.file_rows]) + "\n")
            files += 1
    for hour, records in truth.items():
        folder = truth_root / f"{hour:%Y/%m/%d/%H}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"labels-{variant}-{traffic.seed}.jsonl").open("a") as handle:
            handle.write("\n".join(records) + "\n")
    return {"rows": traffic.rows, "files": files, "labels": int(labelled.sum()) if truth_root else 0,
            "joined_labels": labels[labelled], "joined_scores": scores[labelled]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/monitoring"))
    parser.add_argument("--endpoint", default="mlops-local-churn")
    parser.add_argument("--rows", type=int, default=20_000, help="captured rows per variant")
    parser.add_argument("--shift-feature", help="inject a shift into this feature in the challenger's window")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    stats = write_baselines(args.out / "baselines")
    pop = population(20_000, args.seed + 100, stats)
    for offset, variant in enumerate(VARIANTS):
        shift = (
            {"feature": args.shift_feature, "factor": 2.0} if args.shift_feature and variant == "challenger" else None
        )
        traffic = Traffic(rows=args.rows, seed=args.seed + offset, shift=shift, bad_lines=5)
        # The quality window is the drift window moved back by the label delay: write both days.
        for end in (END, END - timedelta(hours=traffic.label_delay_hours)):
            traffic.end, traffic.seed = end, traffic.seed + 1000
            write_capture(args.out / "capture", args.out / "ground-truth", args.endpoint, variant, pop, traffic)
    print(json.dumps({"out": str(args.out), "endpoint": args.endpoint, "end": END.isoformat()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
