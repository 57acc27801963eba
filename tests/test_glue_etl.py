"""The Glue ETL logic, run with local Spark (pyspark 3.5, the Glue 5 line) on generated data.

The generated-data tests run on the active data set (env ``DATASET``); the tests of exact
spellings and reasons use the churn spec explicitly, whatever the active one is.
"""

from __future__ import annotations

import json
import random

import pytest
from pyspark.sql import functions as F

from pipelines.data import generate as generator
from pipelines.data import spec as specs
from pipelines.data.generate import FaultRates, generate
from pipelines.glue.curate import curated_schema, run_local, summarize, transform

DS = specs.active()
CHURN = specs.load("churn")

GOOD = {
    "customer_id": "C1", "event_time": "2026-03-01T10:00:00Z", "signup_date": "2025-01-15", "age": 40,
    "region": "north", "contract": "one-year", "payment_method": "card", "internet_service": "dsl",
    "tenure_months": 13, "monthly_charges": 50.0, "total_charges": 650.0, "support_calls": 1,
    "data_usage_gb": 20.5, "churned": 0,
}  # fmt: skip


def line(**changes) -> str:
    return json.dumps({**GOOD, **changes})


def clean(ds: specs.DataSet, count: int, seed: int = 1) -> list[dict]:
    """Valid records of ``ds``, from its generator."""
    make = generator.hook(ds) or generator.generic_record
    rng = random.Random(seed)
    return [make(rng, i, ds) for i in range(count)]


def frame(spark, lines: list[str]):
    return spark.createDataFrame([(x,) for x in lines], "value string")


@pytest.fixture(scope="module")
def generated(spark):
    rows = list(generate(5_000, seed=11, faults=FaultRates(missing=0.05, corrupt=0.03, duplicate=0.04), dataset=DS))
    result = transform(frame(spark, rows), run_id="test", ds=DS)
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
    expected = {"duplicate", "malformed", "missing", DS.label}
    expected |= {f.name for f in specs.numeric_fields(DS) if f.kind == "integer"} & set(kinds)
    assert expected <= set(kinds), kinds
    assert any(f.name in kinds for f in specs.numeric_fields(DS)), kinds


def test_curated_has_no_nulls_where_imputed(generated) -> None:
    curated = generated[2]
    columns = [f.name for f in specs.imputed(DS)]
    nulls = curated.agg(*(F.sum(F.col(c).isNull().cast("int")).alias(c) for c in columns)).first().asDict()
    assert nulls == dict.fromkeys(columns, 0)
    imputed = generated[3]["imputed"]
    assert all(imputed[c] > 0 for c in columns), imputed


def test_curated_keys_are_unique(generated) -> None:
    curated = generated[2]
    keys = specs.dedup_keys(DS)
    assert curated.count() == curated.select(*keys).distinct().count()


def test_curated_output_matches_the_declared_table(generated) -> None:
    assert generated[2].dtypes == [*specs.curated_columns(DS), *specs.partition_keys(DS)]


def test_curated_schema_and_encodings(generated) -> None:
    curated = generated[2]
    for f in specs.category_fields(DS):
        one_hot = [specs.one_hot_column(f.name, v) for v in f.values]
        total = curated.select(sum(F.col(c) for c in one_hot).alias("n")).distinct().collect()
        assert [r["n"] for r in total] == [1], f.name
    labels = {r[DS.label] for r in curated.select(DS.label).distinct().collect()}
    assert labels == {0, 1}


def test_outliers_are_capped_within_the_fences(generated) -> None:
    _, _result, curated, summary = generated
    for f in specs.capped(DS):
        col = summary["columns"][f.name]
        bounds = curated.agg(F.min(f.name), F.max(f.name)).first()
        assert col["cap_low"] <= bounds[0] and bounds[1] <= col["cap_high"]
    assert sum(summary["capped"].values()) > 0


def test_scaled_features_are_standardized(generated) -> None:
    curated = generated[2]
    name = f"{specs.scaled(DS)[0].name}_z"
    mean, std = curated.agg(F.avg(name), F.stddev_pop(name)).first()
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
    result = transform(frame(spark, lines), ds=CHURN)
    reasons = sorted(r["reason"] for r in result.rejects.collect())
    instant = "not an ISO-8601 instant (yyyy-MM-ddTHH:mm:ss[.ffffff] and Z or +hh:mm)"
    assert reasons == sorted(
        [
            "duplicate of an earlier record for customer_id and event_time",
            "malformed: not one flat JSON object of plain values",
            "malformed: not one flat JSON object of plain values",
            "contract: not one of month-to-month, one-year, two-year",
            "tenure_months: outside [0, 600]",
            "monthly_charges: not a number",
            f"event_time: {instant}",
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


# --- hostile input: one bad value goes to rejects with its reason, never raises -----------------

GOOD_TEXT = line()
HOSTILE = [
    # not exactly one JSON object
    (GOOD_TEXT + ' {"a": 1}', "malformed"),
    (GOOD_TEXT + GOOD_TEXT, "malformed"),
    (GOOD_TEXT + " x", "malformed"),
    (GOOD_TEXT[:-1] + ', "age": {"years": 40}}', "malformed"),
    ("\ufeff" + GOOD_TEXT, "malformed"),
    ("", "malformed"),
    ("null", "malformed"),
    ('"text"', "malformed"),
    (GOOD_TEXT.replace("{", "{ \u00a0", 1), "malformed"),
    (GOOD_TEXT.replace('"north"', '"nor\\u0074h"'), "malformed"),
    (GOOD_TEXT.replace('"age": 40', '"age": NaN'), "malformed"),
    (GOOD_TEXT.replace('"age": 40', '"age": Infinity'), "malformed"),
    (GOOD_TEXT.replace('"age": 40', '"age": 0x28'), "malformed"),
    (GOOD_TEXT.replace('"age": 40', '"age": +40'), "malformed"),
    (GOOD_TEXT.replace('"age": 40', '"age": 040'), "malformed"),
    (GOOD_TEXT.replace('"monthly_charges": 50.0', '"monthly_charges": .5'), "malformed"),
    (GOOD_TEXT.replace('"monthly_charges": 50.0', '"monthly_charges": 50.'), "malformed"),
    (GOOD_TEXT.replace("'", '"').replace('"age"', "'age'"), "malformed"),
    # other numeric notations
    (GOOD_TEXT.replace('"age": 40', '"age": 4e1'), "age: not a whole number"),
    (GOOD_TEXT.replace('"age": 40', '"age": 40.0'), "age: not a whole number"),
    (line(monthly_charges="50.0"), "monthly_charges: not a number"),
    (line(monthly_charges=True), "monthly_charges: not a number"),
    (GOOD_TEXT.replace('"monthly_charges": 50.0', '"monthly_charges": 1' + "0" * 400), "monthly_charges: outside"),
    # keys
    (GOOD_TEXT.replace('"age"', '" age"'), "unknown fields"),
    (GOOD_TEXT.replace('"age"', '"age "'), "unknown fields"),
    (GOOD_TEXT.replace('"age"', '"Age"'), "unknown fields"),
    (GOOD_TEXT[:-1] + ', "age": 41}', 'repeated fields: ["age"]'),
    # dates and instants in other shapes or out of range
    (line(event_time="2026-03-01 10:00:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T10:00:00"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T10:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T10:00:00+0200"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T10:00:00z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-02-30T10:00:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T24:00:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="2026-03-01T10:00:00.1234567Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="10000-01-01T00:00:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="+12026-01-01T00:00:00Z"), "event_time: not an ISO-8601 instant"),
    (line(event_time="1772359200"), "event_time: not an ISO-8601 instant"),
    (line(event_time=1772359200), "event_time: not an ISO-8601 instant"),
    (line(event_time="9999-12-31T23:30:00-01:00"), "event_time: outside"),
    (line(event_time="1899-12-31T23:00:00Z", signup_date="1899-01-01"), "event_time: outside"),
    (line(signup_date="2025/01/15"), "signup_date: not a yyyy-MM-dd date"),
    (line(signup_date="15-01-2025"), "signup_date: not a yyyy-MM-dd date"),
    (line(signup_date="2025-02-29"), "signup_date: not a yyyy-MM-dd date"),
    (line(signup_date="2025-01-15T00:00:00Z"), "signup_date: not a yyyy-MM-dd date"),
    (line(signup_date="0500-01-01"), "signup_date: outside"),
    (line(signup_date="2026-03-02"), "signup_date is after event_time"),
    # categories, labels and ids in other spellings
    (line(contract="One-Year"), "contract: not one of"),
    (line(contract=" one-year"), "contract: not one of"),
    (line(churned="1"), "churned: not a 0/1 label"),
    (GOOD_TEXT.replace('"churned": 0', '"churned": 1.0'), "churned: not a 0/1 label"),
    (line(customer_id=1), "customer_id: not an id"),
    (line(customer_id="C 1"), "customer_id: not an id"),
    (line(customer_id="C" * 65), "customer_id: not an id"),
    (GOOD_TEXT.replace('"C1"', '"C1\u2028"'), "customer_id: not an id"),
]


@pytest.fixture(scope="module")
def hostile_result(spark):
    lines = [text for text, _ in HOSTILE]
    result = transform(frame(spark, lines), ds=CHURN)
    return {r["raw"]: r["reason"] for r in result.rejects.collect()}, result.curated.count()


@pytest.mark.parametrize(("text", "reason"), HOSTILE, ids=[f"{i}:{r}" for i, (_, r) in enumerate(HOSTILE)])
def test_a_value_outside_the_documented_spellings_is_rejected_with_its_reason(hostile_result, text, reason) -> None:
    reasons, curated = hostile_result
    assert curated == 0
    assert reason in reasons.get(text, "<curated>"), reasons.get(text)


def test_iso_offsets_name_the_same_instant(spark) -> None:
    spellings = [
        "2026-03-01T10:00:00Z",
        "2026-03-01T12:00:00+02:00",
        "2026-03-01T10:00:00-00:00",
        "2026-03-01T10:00:00+00:00",
        "2026-03-01T04:30:00-05:30",
        "2026-03-02T09:59:00+23:59",
        "2026-03-01T10:00:00.000000Z",
    ]
    lines = [line(customer_id=f"C{i}", event_time=t) for i, t in enumerate(spellings)]
    lines.append(line(customer_id="C0", event_time="2026-03-01T11:00:00+01:00"))  # C0 again: a duplicate
    result = transform(frame(spark, lines), ds=CHURN)
    times = result.curated.select(F.date_format("event_time", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS").alias("t"))
    assert [r["t"] for r in times.collect()] == ["2026-03-01T10:00:00.000000"] * len(spellings)
    assert [r["reason"] for r in result.rejects.collect()] == [
        "duplicate of an earlier record for customer_id and event_time"
    ]
    fraction = transform(frame(spark, [line(event_time="2026-03-01T10:00:00.25-01:00")]), ds=CHURN).curated
    assert fraction.select(F.date_format("event_time", "HH:mm:ss.SSS")).first()[0] == "11:00:00.250"


def test_hostile_values_never_raise_even_with_ansi_sql(spark, tmp_path) -> None:
    """With ANSI mode a bad cast raises instead of giving null: nothing here may depend on that."""
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        source = tmp_path / "raw.jsonl"
        source.write_text("\n".join([GOOD_TEXT, *(text for text, _ in HOSTILE if "\n" not in text)]) + "\n")
        summary = run_local(str(source), str(tmp_path / "out"), spark=spark, ds=CHURN)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "false")
    assert summary["input_rows"] == summary["curated_rows"] + summary["rejected_rows"]
    assert summary["curated_rows"] == 1


# --- a batch with no valid row ------------------------------------------------------------------


def _imputed_number(ds: specs.DataSet) -> specs.Field:
    return next(f for f in ds.fields if f.impute in ("median", "mean"))


def _no_valid_row_batches(ds: specs.DataSet) -> dict[str, list[str]]:
    records = clean(ds, 20)
    number = _imputed_number(ds)
    return {
        "empty input": [],
        "all rejected": ["{", *(json.dumps({**r, ds.label: "maybe"}) for r in records)],
        f"{number.name} null in every valid row": [json.dumps({**r, number.name: None}) for r in records],
    }


@pytest.mark.parametrize("case", list(_no_valid_row_batches(DS)))
def test_a_batch_with_no_valid_row_writes_its_rejects_and_an_empty_curated_output(spark, tmp_path, case) -> None:
    lines = _no_valid_row_batches(DS)[case]
    source = tmp_path / "raw.jsonl"
    source.write_text("".join(f"{x}\n" for x in lines))

    summary = run_local(str(source), str(tmp_path / "out"), spark=spark, ds=DS)

    assert summary["input_rows"] == len(lines) == summary["rejected_rows"] and summary["curated_rows"] == 0
    curated = spark.read.parquet(str(tmp_path / "out" / "curated"))
    assert curated.count() == 0 and curated.dtypes == curated_schema(DS)
    rejects = spark.read.schema("raw string, reason string, run_id string").json(str(tmp_path / "out" / "rejects"))
    assert sorted(r["raw"] for r in rejects.collect()) == sorted(lines)
    assert all(r["reason"] for r in rejects.collect())


def test_nothing_to_impute_from_is_a_reason_never_a_made_up_value(spark) -> None:
    number = _imputed_number(DS)
    records = clean(DS, 10)
    lines = [json.dumps({**r, number.name: None}) for r in records]
    result = transform(frame(spark, lines), ds=DS)
    assert result.curated.count() == 0
    reasons = {r["reason"] for r in result.rejects.collect()}
    assert reasons == {f"{number.name}: missing, and no value in this batch to impute it from"}


def test_a_derived_value_outside_its_domain_is_a_reason(spark) -> None:
    """churn's total_charges = monthly x tenure: 10,000 x 600 lies past its domain (1,000,000)."""
    lines = [line(), line(customer_id="C2", monthly_charges=10_000.0, tenure_months=600, total_charges=None)]
    result = transform(frame(spark, lines), ds=CHURN)
    assert [r["customer_id"] for r in result.curated.collect()] == ["C1"]
    (reason,) = [r["reason"] for r in result.rejects.collect()]
    assert reason.startswith(
        "total_charges: missing, and cannot be imputed: round(monthly_charges * tenure_months, 2) gives no value"
    )


def test_imputed_statistics_stay_inside_the_domain(spark) -> None:
    """The mean of values at the top of a domain may round past it in floating point."""
    top = CHURN.field("age").domain[1]
    lines = [line(customer_id=f"C{i}", age=top) for i in range(30)] + [line(customer_id="X", age=None)]
    curated = transform(frame(spark, lines), ds=CHURN).curated
    assert curated.where(F.col("customer_id") == "X").first()["age"] == top


# --- local runs ---------------------------------------------------------------------------------


def test_local_run_writes_partitioned_parquet_and_stats(spark, tmp_path) -> None:
    source = generator.write(tmp_path / "raw.jsonl", 2_000, seed=3, dataset=DS)
    summary = run_local(str(source), str(tmp_path / "out"), spark=spark, ds=DS)
    assert summary["curated_rows"] + summary["rejected_rows"] == 2_000
    first, *_ = [name for name, _ in specs.partition_keys(DS)]
    assert list((tmp_path / "out" / "curated").glob(f"{first}=*/*=*/*.parquet"))
    written = spark.read.parquet(str(tmp_path / "out" / "curated")).count()
    assert written == summary["curated_rows"]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["input_rows"] == 2_000


def test_the_local_entry_point_prints_the_counts(spark, tmp_path, capsys) -> None:
    from pipelines.glue.curate import SUMMARY_EVENT, main

    source = generator.write(tmp_path / "raw.jsonl", 300, seed=4, dataset=DS)
    assert main(["--input", str(source), "--output", str(tmp_path / "out"), "--dataset", DS.name]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["event"] == SUMMARY_EVENT and printed["dataset"] == DS.name
    assert printed["input_rows"] == 300 == printed["curated_rows"] + printed["rejected_rows"]
    assert (tmp_path / "out" / "stats.json").exists()
