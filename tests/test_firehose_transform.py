"""The Firehose transform Lambda: validates, normalizes, never drops, never raises."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The Lambda reads these when its module loads, as it does in AWS.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ingest")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MlopsTest")

from lambdas.firehose_transform import handler as handler_module
from lambdas.firehose_transform.logic import transform_data, transform_event
from lambdas.firehose_transform.model import ChurnEvent
from pipelines.data.generate import FaultRates, generate
from tests.conftest import LambdaContext

VALID = {
    "customer_id": "C1", "event_time": "2026-03-01T10:00:00+02:00", "signup_date": "2025-01-15",
    "tenure_months": 13, "monthly_charges": 50, "contract": " One-Year ", "churned": True,
    "payment_method": "", "age": None, "region": "North",
}  # fmt: skip
# The literal cases are churn's; with another data set (make test DATASET=...) the claims that hold for any
# spec take that spec's own valid record (tests/test_firehose_transform_spec.py has the spec-driven cases).
DATASET_NAME = os.environ.get("DATASET") or "churn"
if DATASET_NAME != "churn":
    VALID = json.loads(next(generate(1, seed=1, faults=FaultRates(0, 0, 0))))
churn_only = pytest.mark.skipif(DATASET_NAME != "churn", reason="churn's literal cases")


def b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


def decode(record: dict) -> str:
    return base64.b64decode(record["data"]).decode()


@churn_only
def test_valid_record_is_normalized() -> None:
    ok, line = transform_data(b64(json.dumps(VALID)))
    assert ok and line.endswith("\n")
    event = json.loads(line)
    assert event["event_time"] == "2026-03-01T08:00:00Z"
    assert event["contract"] == "one-year" and event["region"] == "north"
    assert event["churned"] == 1 and event["monthly_charges"] == 50.0
    assert event["payment_method"] is None and event["age"] is None


@churn_only
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json at all", "Invalid JSON"),
        ("[1, 2]", "record: Input should be an object"),
        (json.dumps({**VALID, "tenure_months": "13"}), "tenure_months: Input should be a valid integer"),
        (json.dumps({**VALID, "tenure_months": -1}), "tenure_months: Input should be greater than or equal to 0"),
        (json.dumps({**VALID, "contract": "weekly"}), "contract: Value error, not one of"),
        (json.dumps({**VALID, "churned": "maybe"}), "churned: Input should be 0 or 1"),
        (json.dumps({**VALID, "event_time": "yesterday"}), "event_time: Input should be a valid datetime"),
        (json.dumps({k: v for k, v in VALID.items() if k != "customer_id"}), "customer_id: Field required"),
        (json.dumps({**VALID, "favourite_colour": "red"}), "favourite_colour: Extra inputs are not permitted"),
    ],
)
def test_bad_records_fail_with_the_reason(payload: str, reason: str) -> None:
    ok, text = transform_data(b64(payload))
    assert not ok and reason in text


def test_bad_base64_fails_with_the_reason() -> None:
    assert transform_data("!!not base64!!") == (False, "data is not valid base64")


def test_failed_record_keeps_the_original_data_and_reason() -> None:
    raw = b64("nope")
    outcome = transform_event({"records": [{"recordId": "r1", "data": raw}]})
    (record,) = outcome.records
    assert record["result"] == "ProcessingFailed"
    envelope = json.loads(decode(record))
    assert envelope["raw"] == raw and "Invalid JSON" in envelope["error"]
    assert outcome.failures == [("r1", envelope["error"])]


def test_generated_clean_records_pass() -> None:
    lines = list(generate(500, seed=5, faults=FaultRates(missing=0.05, corrupt=0.0, duplicate=0.0)))
    outcome = transform_event({"records": [{"recordId": str(i), "data": b64(x)} for i, x in enumerate(lines)]})
    assert outcome.ok == 500 and outcome.failed == 0


# --- property-based: throw malformed events and records at it ------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_event(draw) -> bytes:
    """A valid event with one field dropped, retyped or garbled, or extra junk."""
    event = dict(VALID)
    key = draw(st.sampled_from(sorted(VALID)))
    action = draw(st.sampled_from(["drop", "retype", "junk", "keep"]))
    if action == "drop":
        event.pop(key)
    elif action == "retype":
        event[key] = draw(json_values)
    elif action == "junk":
        event[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return json.dumps(event).encode()


payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_event(),
    st.text(max_size=100).map(str.encode),
)
data_fields = st.one_of(payloads.map(lambda p: base64.b64encode(p).decode()), st.text(max_size=30), json_values)


@st.composite
def firehose_events(draw) -> tuple[object, list[str]]:
    count = draw(st.integers(min_value=0, max_value=12))
    ids = draw(st.lists(st.text(min_size=1, max_size=12), min_size=count, max_size=count, unique=True))
    records: list[object] = []
    for record_id in ids:
        record = {"recordId": record_id, "approximateArrivalTimestamp": 1, "data": draw(data_fields)}
        if draw(st.integers(0, 9)) == 0:
            record.pop("data")
        records.append(record)
    # records without an id, or not records at all, sprinkled in
    junk = draw(st.lists(st.one_of(json_values, st.fixed_dictionaries({"data": data_fields})), max_size=3))
    return {"invocationId": "i", "records": records + junk}, ids


@settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firehose_events())
def test_every_record_id_comes_back_exactly_once(case) -> None:
    event, ids = case
    outcome = transform_event(event)
    assert [r["recordId"] for r in outcome.records] == ids
    assert outcome.ok + outcome.failed == len(ids)
    for record in outcome.records:
        text = decode(record)
        if record["result"] == "Ok":
            ChurnEvent.model_validate_json(text)
        else:
            assert record["result"] == "ProcessingFailed"
            assert json.loads(text)["error"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(event=st.one_of(json_values, firehose_events().map(lambda c: c[0])))
def test_handler_never_raises(event, capsys) -> None:
    response = handler_module.lambda_handler(event, LambdaContext())
    assert isinstance(response["records"], list)
    capsys.readouterr()


def test_handler_marks_everything_failed_if_the_logic_breaks(monkeypatch, capsys) -> None:
    def boom(event):
        raise RuntimeError("bug")

    monkeypatch.setattr(handler_module, "transform_event", boom)
    event = {"records": [{"recordId": "a", "data": b64("x")}, {"recordId": "b", "data": b64("y")}]}
    response = handler_module.lambda_handler(event, LambdaContext())
    assert [(r["recordId"], r["result"]) for r in response["records"]] == [
        ("a", "ProcessingFailed"),
        ("b", "ProcessingFailed"),
    ]
    out = capsys.readouterr().out
    assert '"RecordsFailed"' in out or "RecordsFailed" in out
