"""The data-set spec: bad specs fail with every problem named; the derived views hold for each spec shipped."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.data import spec as specs
from pipelines.data.generate import FaultRates, generate

DATASETS = Path(specs.__file__).parent / "datasets"
SHIPPED = specs.known()


def churn_document() -> dict:
    return json.loads((DATASETS / "churn.json").read_text())


def problems_of(document: dict) -> str:
    with pytest.raises(specs.SpecError) as error:
        specs.parse(document)
    return str(error.value)


def field_of(document: dict, name: str) -> dict:
    return next(f for f in document["fields"] if f["name"] == name)


def test_two_very_different_specs_ship() -> None:
    assert {"churn", "breast_cancer"} <= set(SHIPPED)
    numeric = specs.load("breast_cancer")
    assert numeric.time_field is None and not numeric.of_kind("date", "timestamp", "category")
    assert len(specs.numeric_fields(numeric)) == 30
    assert specs.partition_keys(numeric)  # the ingest date stands in for the missing time field


def test_churn_is_the_default_and_dataset_picks_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATASET", raising=False)
    assert specs.active().name == "churn"
    monkeypatch.setenv("DATASET", "breast_cancer")
    assert specs.active().name == "breast_cancer"


def test_an_unknown_data_set_names_the_known_ones() -> None:
    with pytest.raises(specs.SpecError, match=r"unknown data set 'nope'; known: .*breast_cancer.*churn"):
        specs.load("nope")
    with pytest.raises(specs.SpecError, match="lower-case identifier"):
        specs.load("../churn")


def test_specs_are_frozen() -> None:
    churn = specs.load("churn")
    with pytest.raises(AttributeError):
        churn.label = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        churn.fields[0].required = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown key 'colour'"),
        (lambda d: field_of(d, "age").update(kind="number"), "field 'age': kind 'number' is not one of"),
        (lambda d: field_of(d, "age").pop("domain"), "field 'age': a integer field needs a domain"),
        (lambda d: field_of(d, "age").update(domain=[120, 18]), "field 'age': domain: low 120 is above high 18"),
        (lambda d: field_of(d, "age").update(typical=[0, 90]), "typical [0, 90] lies outside the domain [18, 120]"),
        (lambda d: field_of(d, "contract").update(values=[]), "a category needs values"),
        (lambda d: field_of(d, "contract").update(values=["A"]), "lower-case"),
        (lambda d: field_of(d, "tenure_months").update(impute="median"), "a required field is never missing"),
        (lambda d: field_of(d, "region").update(impute="median"), "impute 'median' needs an integer or double"),
        (lambda d: field_of(d, "total_charges").pop("impute_expression"), "impute 'derived' needs impute_expression"),
        (
            lambda d: field_of(d, "total_charges").update(impute_expression="monthly_fee * tenure_months"),
            "impute_expression uses ['monthly_fee']",
        ),
        (lambda d: field_of(d, "region").update(cap=True), "only integer and double fields are capped"),
        (lambda d: field_of(d, "churned").update(required=False), "a field of kind label must be required"),
        (lambda d: d.update(label="left"), "exactly one field of kind label"),
        (lambda d: d.update(id_fields=["age"]), "id_fields: 'age' must be of kind id"),
        (lambda d: d.update(time_field="signup_date"), "time_field: 'signup_date' must be of kind timestamp"),
        (lambda d: d["fields"].append(dict(field_of(d, "age"))), "field 'age' is declared twice"),
        (lambda d: d["engineered"][0].update(expression="dayofweek(event_tme)"), "expression uses ['event_tme']"),
        (lambda d: d["engineered"][0].update(family="lag"), "family 'lag' is not one of"),
        (lambda d: d.update(partition_keys=[]), "partition_keys: at least one"),
        (lambda d: d["rules"][0].update(right="region"), "compares a date with a category"),
        (lambda d: d["rules"][0].update(op="=<"), "op '=<' is not one of"),
        (lambda d: d.update(generator="churn.record"), "must name a function as 'package.module:function'"),
        (
            lambda d: d["engineered"][0].update(name="monthly_charges_capped"),
            "curated columns would repeat: ['monthly_charges_capped']",
        ),
    ],
)
def test_a_bad_spec_fails_with_a_clear_reason(change, message: str) -> None:
    document = churn_document()
    change(document)
    assert message in problems_of(document)


def test_every_problem_is_listed_at_once() -> None:
    document = churn_document()
    field_of(document, "age").update(kind="number")
    field_of(document, "region").update(cap=True)
    reported = problems_of(document)
    assert "field 'age'" in reported and "field 'region'" in reported


def test_the_file_name_and_the_spec_name_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = churn_document()
    document["name"] = "other"
    assert specs.parse(copy.deepcopy(document)).name == "other"  # valid on its own
    monkeypatch.setattr(specs.pkgutil, "get_data", lambda *_: json.dumps(document).encode())
    with pytest.raises(specs.SpecError, match="names itself 'other'"):
        specs.load("churn")


# --- derived views ----------------------------------------------------------------------------


def test_churn_curated_columns_keep_the_table_as_it_was() -> None:
    """The Glue table's columns for churn, in order: changing them changes the deployed table."""
    churn = specs.load("churn")
    columns = specs.curated_columns(churn)
    assert columns[:14] == [
        ("customer_id", "string"), ("event_time", "timestamp"), ("signup_date", "date"), ("age", "int"),
        ("tenure_months", "int"), ("monthly_charges", "double"), ("total_charges", "double"),
        ("support_calls", "int"), ("data_usage_gb", "double"), ("contract", "string"),
        ("payment_method", "string"), ("internet_service", "string"), ("region", "string"), ("churned", "int"),
    ]  # fmt: skip
    assert [n for n, _ in columns if n.endswith("_was_missing")] == [
        "support_calls_was_missing", "data_usage_gb_was_missing", "age_was_missing", "total_charges_was_missing",
        "payment_method_was_missing", "internet_service_was_missing", "region_was_missing",
    ]  # fmt: skip
    assert ("contract_month_to_month", "int") in columns and columns[-1] == ("run_id", "string")
    assert len(columns) == 14 + 7 + 3 + 4 + 3 + 15 + 6 + 1  # fields, flags, engineered, one-hot, z, run_id
    assert specs.partition_keys(churn) == [("event_year", "int"), ("event_month", "int")]
    assert specs.curated_table(churn) == "churn_features"
    assert specs.pii_columns(churn) == ("customer_id",)
    assert specs.dedup_keys(churn) == ("customer_id", "event_time")


def test_churn_model_features_keep_their_order() -> None:
    features = specs.features(specs.load("churn"))
    assert features[:9] == (
        "age", "tenure_months", "monthly_charges", "total_charges", "support_calls", "data_usage_gb",
        "avg_monthly_spend", "support_calls_per_year", "charge_per_gb",
    )  # fmt: skip
    assert features[9:13] == ("event_dayofweek", "signup_year", "signup_month", "account_age_days")
    assert features[-1] == "region_central" and len(features) == 13 + 7 + 3 + 15


@pytest.mark.parametrize("name", SHIPPED)
def test_every_feature_and_rule_names_a_curated_column(name: str) -> None:
    dataset = specs.load(name)
    columns = dict(specs.curated_columns(dataset))
    assert set(specs.features(dataset)) <= set(columns)
    assert dataset.label in columns and dataset.label not in specs.features(dataset)
    assert not set(specs.pii_columns(dataset)) & set(specs.features(dataset))
    assert all(columns[f] in ("int", "double") for f in specs.features(dataset))
    named = {n for line in specs.dq_rules(dataset).splitlines() for n in line.split('"')[1::2] if "_" in n or n}
    assert {n for n in named if n in columns or n.isidentifier()} <= set(columns) | {
        v for f in specs.category_fields(dataset) for v in f.values
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_quality_rules_are_dqdl_of_the_spec(name: str) -> None:
    dataset = specs.load(name)
    rules = specs.dq_rules(dataset)
    assert rules.startswith("Rules = [\n") and rules.endswith("\n]")
    body = rules.removeprefix("Rules = [\n").removesuffix("\n]").split(",\n")
    assert body[0].strip() == "RowCount > 0"
    assert f'ColumnValues "{dataset.label}" in [0, 1]' in rules
    for f in specs.numeric_fields(dataset):
        lo, hi = f.domain
        if f.kind == "integer":  # DQDL's between excludes its bounds
            assert f'ColumnValues "{f.name}" between {int(lo) - 1} and {int(hi) + 1}' in rules
        else:
            low = re.search(rf'ColumnValues "{f.name}" >= (\S+),', rules)
            high = re.search(rf'ColumnValues "{f.name}" <= (\S+),', rules)
            assert low and high and (float(low[1]), float(high[1])) == (lo, hi)
    assert body[-1].strip().startswith("Uniqueness ") and body[-1].strip().endswith("> 0.99")


def test_one_hot_column_names_are_identifiers() -> None:
    assert specs.one_hot_column("contract", "month-to-month") == "contract_month_to_month"
    assert specs.one_hot_column("plan", "Gold Plus/2") == "plan_gold_plus_2"


def test_rules_compare_dates_with_timestamps() -> None:
    (rule,) = specs.load("churn").rules
    assert rule.holds("2025-01-15", "2026-03-01T10:00:00+02:00")
    assert not rule.holds("2026-03-02", "2026-03-01T10:00:00Z")
    assert rule.holds(None, "2026-03-01T10:00:00Z")  # completeness is checked apart
    assert rule.expression == "signup_date <= event_time"


# --- the generator ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_clean_generated_records_keep_the_spec(name: str) -> None:
    dataset = specs.load(name)
    rows = [json.loads(x) for x in generate(400, seed=1, faults=FaultRates(0, 0, 0), dataset=dataset)]
    assert {r[dataset.label] for r in rows} == {0, 1}
    for row in rows:
        assert set(row) == {f.name for f in dataset.fields}
        for f in specs.numeric_fields(dataset):
            lo, hi = f.domain
            assert lo <= row[f.name] <= hi and (f.kind == "double" or isinstance(row[f.name], int))
        for f in specs.category_fields(dataset):
            assert row[f.name] in f.values
        assert all(rule.holds(row[rule.left], row[rule.right]) for rule in dataset.rules)


def test_the_generic_generator_gives_a_label_a_model_can_learn() -> None:
    """The pipeline's AUC gate must be reachable on generated data: one feature alone already separates."""
    dataset = specs.load("breast_cancer")
    rows = [json.loads(x) for x in generate(1_000, seed=2, faults=FaultRates(0, 0, 0), dataset=dataset)]
    labels = [r[dataset.label] for r in rows]
    best = 0.0
    for f in specs.numeric_fields(dataset):
        values = [r[f.name] for r in rows]
        pos = [v for v, y in zip(values, labels, strict=True) if y]
        neg = [v for v, y in zip(values, labels, strict=True) if not y]
        wins = sum((p > n) + 0.5 * (p == n) for p in pos[:300] for n in neg[:300])
        auc = wins / (min(300, len(pos)) * min(300, len(neg)))
        best = max(best, auc, 1 - auc)
    assert best > 0.75


def test_generated_faults_are_of_the_kinds_the_spec_allows() -> None:
    dataset = specs.load("breast_cancer")
    lines = list(generate(1_500, seed=4, faults=FaultRates(missing=0.05, corrupt=0.1, duplicate=0.05), dataset=dataset))
    assert len(lines) == 1_500 and len(set(lines)) < 1_500
    broken = [x for x in lines if not x.startswith("{") or not x.endswith("}")]
    assert broken  # truncated JSON among the corrupt rows
    parsed = [json.loads(x) for x in lines if x not in broken]
    assert any(r.get("radius_se") is None for r in parsed)  # missing optional values
    assert not any("event_time" in r for r in parsed)  # nothing the spec does not name


def test_make_data_runs_for_a_named_data_set(tmp_path: Path) -> None:
    out = tmp_path / "raw.jsonl"
    command = [sys.executable, "-m", "pipelines.data.generate", "--rows", "50", "--out", str(out)]
    result = subprocess.run(
        [*command, "--dataset", "breast_cancer"], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert result.returncode == 0, result.stderr
    assert "sample_id" in out.read_text().splitlines()[0]


# --- where it runs: the spec loads from a zip (Glue's --extra-py-files) -----------------------


def test_the_spec_loads_from_a_zip_as_glue_ships_it(tmp_path: Path) -> None:
    archive = tmp_path / "spec.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(specs.__file__, "spec.py")
        for path in DATASETS.glob("*.json"):
            zf.write(path, f"datasets/{path.name}")
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import spec; "
        "print(spec.__file__, spec.load('breast_cancer').label, ','.join(spec.known()))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(archive)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    where, label, known = result.stdout.split()
    assert where.startswith(str(archive)) and label == "malignant" and set(known.split(",")) == set(SHIPPED)
