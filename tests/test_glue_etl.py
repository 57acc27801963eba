"""The Glue ETL logic, run with local Spark (pyspark 3.5, the Glue 5 line) on generated data."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from pipelines.data.generate import FaultRates, generate
from pipelines.data.schema import CATEGORICAL, MODE_IMPUTED, PARTITION_KEYS, curated_columns
from pipelines.glue.churn_etl import run_local, summarize, transform

GOOD = {
    "customer_id": "C1", "event_time": "2026-03-01T10:00:00Z", "signup_date": "2025-01-15", "age": 40,
    "region": "north", "contract": "one-year", "payment_method": "card", "internet_service": "dsl",
    "tenure_months": 13, "monthly_charges": 50.0, "total_charges": 650.0, "support_calls": 1,
    "data_usage_gb": 20.5, "churned": 0,
}  # fmt: skip


def line(**changes) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.fixture(scope="module")
def generated(spark):
    rows = list(generate(5_000, seed=11, faults=FaultRates(missing=0.05, corrupt=0.03, duplicate=0.04)))
    lines = spark.createDataFrame([(r,) for r in rows], ["value"])
    result = transform(lines, run_id="test")
    curated = result.curated.cache()
    return rows, result, curated, summarize(result, len(rows))


def test_no_row_is_lost(generated) -> None:
    rows, result, _curated, summary = generated
    assert summary["curated_rows"] + summary["rejected_rows"] == len(rows) == summary["input_rows"]
    assert result.rejects.count() == summary["rejected_rows"] > 0
    # every rejected line is one of the inputs, with a reason
    rejected = result.rejects.collect()
    assert all(r["reason"] for r in rejected)
    inputs = set(rows)
    assert all(r["raw"] in inputs for r in rejected)


def test_each_fault_kind_is_quarantined_and_counted(generated) -> None:
    kinds = generated[3]["rejects_by_kind"]
    for kind in ("duplicate", "malformed", "monthly_charges", "event_time", "contract", "tenure_months", "age"):
        assert kinds.get(kind, 0) > 0, kinds


def test_curated_has_no_nulls_where_imputed(generated) -> None:
    curated = generated[2]
    columns = ["age", "total_charges", "support_calls", "data_usage_gb", *MODE_IMPUTED]
    nulls = curated.agg(*(F.sum(F.col(c).isNull().cast("int")).alias(c) for c in columns)).first().asDict()
    assert nulls == dict.fromkeys(columns, 0)
    imputed = generated[3]["imputed"]
    assert all(imputed[c] > 0 for c in columns), imputed


def test_curated_keys_are_unique(generated) -> None:
    curated = generated[2]
    assert curated.count() == curated.select("customer_id", "event_time").distinct().count()


def test_curated_output_matches_the_declared_table(generated) -> None:
    assert generated[2].dtypes == [*curated_columns(), *PARTITION_KEYS]


def test_curated_schema_and_encodings(generated) -> None:
    curated = generated[2]
    types = dict(curated.dtypes)
    assert types["event_time"] == "timestamp" and types["signup_date"] == "date"
    assert types["churned"] == "int" and types["tenure_months"] == "int" and types["monthly_charges"] == "double"
    for column in ("event_year", "event_month", "account_age_days", "avg_monthly_spend", "tenure_months_z"):
        assert column in types
    for name, allowed in CATEGORICAL.items():
        one_hot = [f"{name}_{v.replace('-', '_')}" for v in allowed]
        total = curated.select(sum(F.col(c) for c in one_hot).alias("n")).distinct().collect()
        assert [r["n"] for r in total] == [1], name
    labels = {r["churned"] for r in curated.select("churned").distinct().collect()}
    assert labels == {0, 1}


def test_outliers_are_capped_within_the_fences(generated) -> None:
    _, _result, curated, summary = generated
    for name in ("monthly_charges", "support_calls", "data_usage_gb"):
        col = summary["columns"][name]
        bounds = curated.agg(F.min(name), F.max(name)).first()
        assert col["cap_low"] <= bounds[0] and bounds[1] <= col["cap_high"]
    assert summary["capped"]["data_usage_gb"] > 0


def test_scaled_features_are_standardized(generated) -> None:
    curated = generated[2]
    mean, std = curated.agg(F.avg("tenure_months_z"), F.stddev_pop("tenure_months_z")).first()
    assert abs(mean) < 0.05 and abs(std - 1) < 0.05


def test_known_faults_get_exact_reasons(spark) -> None:
    lines = [
        line(),
        line(),  # exact duplicate
        line(customer_id="C2", age=None, total_charges=None, payment_method=""),  # imputed, kept
        '{"customer_id": "C3", "event_time": ',  # truncated
        "[1, 2, 3]",  # JSON, but not an object
        line(customer_id="C4", contract="weekly"),
        line(customer_id="C5", tenure_months=-3),
        line(customer_id="C6", monthly_charges="abc"),
        line(customer_id="C7", event_time="yesterday"),
        line(customer_id="C8", churned="maybe"),
        line(customer_id="C9", signup_date=None),
        line(customer_id="C10", support_calls=2.5),
    ]
    result = transform(spark.createDataFrame([(x,) for x in lines], ["value"]))
    reasons = sorted(r["reason"] for r in result.rejects.collect())
    assert reasons == sorted(
        [
            "duplicate of an earlier record for this customer_id and event_time",
            "malformed JSON",
            "malformed JSON",
            "contract: not one of month-to-month, one-year, two-year",
            "tenure_months: outside [0, 600]",
            "monthly_charges: not a number",
            "event_time: not an ISO-8601 timestamp",
            "churned: not a 0/1 label",
            "missing required field signup_date",
            "support_calls: not a whole number",
        ]
    )
    kept = {r["customer_id"]: r for r in result.curated.collect()}
    assert set(kept) == {"C1", "C2"}
    c2 = kept["C2"]
    assert c2["age_was_missing"] == 1 and c2["age"] == 40  # mean of the batch
    assert c2["total_charges"] == 650.0 and c2["total_charges_was_missing"] == 1  # monthly x tenure
    assert c2["payment_method"] == "card" and c2["payment_method_was_missing"] == 1


def test_local_run_writes_partitioned_parquet_and_stats(spark, tmp_path) -> None:
    source = tmp_path / "raw.jsonl"
    source.write_text("\n".join(generate(2_000, seed=3)) + "\n")
    summary = run_local(str(source), str(tmp_path / "out"), spark=spark)
    assert summary["curated_rows"] + summary["rejected_rows"] == 2_000
    partitions = sorted(p.name for p in (tmp_path / "out" / "curated").glob("event_year=*"))
    assert partitions == ["event_year=2026"]
    assert list((tmp_path / "out" / "curated" / "event_year=2026").glob("event_month=*/*.parquet"))
    written = spark.read.parquet(str(tmp_path / "out" / "curated")).count()
    assert written == summary["curated_rows"]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["input_rows"] == 2_000


def test_the_local_entry_point_prints_the_counts(spark, tmp_path, capsys) -> None:
    from pipelines.glue.churn_etl import main

    source = tmp_path / "raw.jsonl"
    source.write_text("\n".join(generate(300, seed=4)) + "\n")
    assert main(["--input", str(source), "--output", str(tmp_path / "out")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["input_rows"] == 300 == printed["curated_rows"] + printed["rejected_rows"]
    assert (tmp_path / "out" / "stats.json").exists()
