"""The Firehose transform Lambda: validates, normalizes, never drops, never raises."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The Lambda reads these when its module loads, as it does in AWS.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ingest")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MlopsTest")
os.environ.setdefault("EVENT_MAX_AGE_DAYS", "3650")
os.environ.setdefault("EVENT_MAX_AHEAD_MINUTES", "15")

from config.profiles import PROFILES
from lambdas.firehose_transform import handler as handler_module
from lambdas.firehose_transform import logic
from lambdas.firehose_transform.logic import RESPONSE_LIMIT, printable, transform_data, transform_event
from lambdas.firehose_transform.model import Event
from lambdas.firehose_transform.timestamps import Window
from pipelines.data import spec as specs
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
# The property strategies below draw churn records (its dates and rules); the spec-driven file covers any set.
_CHURN = specs.load("churn")
NUMERIC_DOMAIN = {f.name: f.domain for f in _CHURN.fields if f.kind in specs.NUMERIC_KINDS}
INTEGER_FIELDS = tuple(f.name for f in _CHURN.fields if f.kind == specs.NUMERIC_KINDS[0])
CATEGORICAL = {f.name: f.values for f in _CHURN.fields if f.kind == "category"}
LABEL = _CHURN.label
REQUIRED = tuple(f.name for f in specs.required_fields(_CHURN))
OPTIONAL = tuple(f.name for f in specs.optional_fields(_CHURN))
FIELDS = REQUIRED + OPTIONAL


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
        (json.dumps({**VALID, "contract": "weekly"}), "contract: not one of"),
        (json.dumps({**VALID, "churned": "maybe"}), "churned: Input should be 0 or 1"),
        (json.dumps({**VALID, "event_time": "yesterday"}), "event_time: not an ISO-8601 instant"),
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


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firehose_events())
def test_every_record_id_comes_back_exactly_once(case) -> None:
    event, ids = case
    outcome = transform_event(event)
    assert [r["recordId"] for r in outcome.records] == ids
    assert outcome.ok + outcome.failed == len(ids)
    for record in outcome.records:
        text = decode(record)
        if record["result"] == "Ok":
            Event.model_validate_json(text)
        else:
            assert record["result"] == "ProcessingFailed"
            assert json.loads(text)["error"]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
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


# --- issue 10: timestamps, isolation, the response limit, the ETL's acceptance ---------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WINDOW = Window.around(NOW, max_age_days=3650, max_ahead_minutes=15)


def with_time(value: object, **changes) -> str:
    return b64(json.dumps({**VALID, "event_time": value, **changes}))


@churn_only
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("20260301", "not an ISO-8601 instant"),
        ("0", "not an ISO-8601 instant"),
        (1764072000, "not an ISO-8601 instant string"),
        ("2026-03-01", "not an ISO-8601 instant"),
        ("2026-03-01T10:00:00", "not an ISO-8601 instant"),  # a local time names no instant
        ("2026-02-30T10:00:00Z", "not a calendar instant"),
        ("2026-03-01T10:00:00+24:00", "not a calendar instant"),
        ("\u0662\u0660\u0662\u0666-03-01T10:00:00Z", "not an ISO-8601 instant"),  # digits, but not ASCII ones
        ("0001-01-01T00:30:00+01:00", "outside years 1-9999"),
        ("9999-12-31T23:30:00-01:00", "outside years 1-9999"),
        ("2016-11-26T12:00:00Z", "outside the accepted window"),
        ("2026-11-27T12:16:00Z", "beyond the accepted clock skew"),
    ],
)
def test_a_timestamp_must_be_a_real_iso_instant_in_the_window(value, reason) -> None:
    ok, text = transform_data(with_time(value), WINDOW)
    assert not ok and text.startswith("event_time: ") and reason in text, text


@churn_only
@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2026-03-01T10:00:00-00:00", "2026-03-01T10:00:00Z"),
        ("2026-03-01T00:30:00+01:00", "2026-02-28T23:30:00Z"),
        ("2026-03-01T10:00:00.123456789Z", "2026-03-01T10:00:00Z"),
        ("2026-11-27T12:15:00Z", "2026-11-27T12:15:00Z"),
    ],
)
def test_offsets_are_instants_written_in_utc(value, utc) -> None:
    ok, line = transform_data(with_time(value, signup_date="2025-01-15"), WINDOW)
    assert ok and json.loads(line)["event_time"] == utc


@churn_only
def test_a_signup_after_the_event_is_refused() -> None:
    ok, text = transform_data(with_time("2026-03-01T10:00:00Z", signup_date="2026-03-02"), WINDOW)
    assert (ok, text) == (False, "record: signup_date is after event_time")


@churn_only
def test_a_record_that_cannot_be_written_fails_alone_and_keeps_its_envelope() -> None:
    # Year 9999 late in the day with a negative offset leaves the calendar in UTC.
    bad = with_time("9999-12-31T23:30:00-01:00", signup_date="2025-01-15")
    good = with_time("2026-03-01T10:00:00Z")
    outcome = transform_event({"records": [{"recordId": "a", "data": good}, {"recordId": "b", "data": bad},
                                           {"recordId": "c", "data": good}]})  # fmt: skip
    assert [r["result"] for r in outcome.records] == ["Ok", "ProcessingFailed", "Ok"]
    assert json.loads(decode(outcome.records[1]))["raw"] == bad


@churn_only
def test_an_unexpected_error_fails_only_its_record(monkeypatch) -> None:
    real = logic.transform_data

    def flaky(data, window=None):
        if data == b64("boom"):
            raise RecursionError("deep")
        return real(data, window)

    monkeypatch.setattr(logic, "transform_data", flaky)
    good = with_time("2026-03-01T10:00:00Z")
    outcome = transform_event({"records": [{"recordId": "a", "data": good}, {"recordId": "b", "data": b64("boom")}]})
    assert [r["result"] for r in outcome.records] == ["Ok", "ProcessingFailed"]
    assert json.loads(decode(outcome.records[1])) == {
        "error": "unexpected error in the transform: RecursionError",
        "raw": b64("boom"),
    }


# Firehose's request for a Kinesis Data Streams source, as the transform receives it.
def kinesis_record(record_id: str, data: str, partition_key: str = "k") -> dict:
    return {
        "recordId": record_id,
        "approximateArrivalTimestamp": 1764072000000,
        "data": data,
        "kinesisRecordMetadata": {
            "shardId": "shardId-000000000000",
            "partitionKey": partition_key,
            "approximateArrivalTimestamp": 1764072000000,
            "sequenceNumber": "49546986683135544286507457936321625675700192471156785154",
            "subsequenceNumber": 0,
        },
    }


def firehose_request(records: list[dict]) -> dict:
    return {
        "invocationId": "2e6bd8f0-0d2f-4b5a-9c2c-1c7a3c5a8f00",
        "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/mlops-dev-ingest",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/mlops-dev-events",
        "region": "eu-west-1",
        "records": records,
    }


def size(payload: dict) -> int:
    return len(json.dumps(payload).encode())


def largest_request(payload: bytes) -> dict:
    """As many copies of ``payload`` as Firehose hands over at once: the processor's buffer of data,
    within Lambda's 6 MB request limit."""
    buffer = max(p.ingest.transform_buffer_mb for p in PROFILES.values()) * 1024 * 1024
    one = size(firehose_request([kinesis_record("4" * 56, b64(payload))])) - size(firehose_request([]))
    count = max(1, min(buffer // max(1, len(payload)), (RESPONSE_LIMIT - 1024) // (one + 2)))
    return firehose_request([kinesis_record(f"{i:056d}", b64(payload)) for i in range(count)])


def longest_reason_record(size_: int) -> bytes:
    """An object of many long unknown keys of non-ASCII characters: the longest reasons there are."""
    keys, out = 0, {}
    while len(json.dumps(out)) < size_ - 40:
        out["\u2603" * 30 + str(keys)] = 0
        keys += 1
    return json.dumps(out).encode()[: max(1, size_)]


@pytest.mark.parametrize(
    "payload",
    [b"{}", b"\xff", longest_reason_record(1_000), longest_reason_record(64 * 1024), b"y" * (1024 * 1024)],
    ids=["empty object", "1 bad byte", "1 KB of bad keys", "64 KB", "1 MiB"],
)
def test_the_largest_request_firehose_sends_gets_an_answer_under_the_limit_with_envelopes(payload) -> None:
    request = largest_request(payload)
    assert size(request) <= RESPONSE_LIMIT
    outcome = transform_event(request)
    assert size(outcome.response()) <= RESPONSE_LIMIT
    assert outcome.failed == len(request["records"]) and outcome.unwrapped == 0
    first = json.loads(decode(outcome.records[0]))
    assert first["raw"] == request["records"][0]["data"] and first["error"]


@churn_only
def test_the_largest_batch_of_valid_records_fits_too() -> None:
    shortest = json.dumps({"customer_id": "a", "event_time": "2026-03-01T10:00:00Z", "signup_date": "2025-01-15",
                           "tenure_months": 1, "monthly_charges": 0, "contract": "one-year", "churned": 0},
                          separators=(",", ":")).encode()  # fmt: skip
    request = largest_request(shortest)
    outcome = transform_event(request)
    assert outcome.ok == len(request["records"]) and size(outcome.response()) <= RESPONSE_LIMIT


# --- property tests of the README's promises ---------------------------------------------------

DOMAIN_EXTRA = {"customer_id": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)}
offsets = st.one_of(
    st.just("Z"), st.just("-00:00"),
    st.builds(lambda sign, h, m: f"{sign}{h:02d}:{m:02d}", st.sampled_from("+-"), st.integers(0, 23),
              st.integers(0, 59)),
)  # fmt: skip


def spelled(value: datetime, offset: str, fraction: str) -> str:
    """``value`` (UTC) written as local time at ``offset``."""
    if offset in ("Z", "-00:00"):
        local = value
    else:
        sign = 1 if offset[0] == "+" else -1
        local = value + sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return local.replace(tzinfo=None).isoformat(timespec="seconds") + fraction + offset


@st.composite
def instants(draw, window: Window = WINDOW) -> tuple[str, datetime]:
    """(ISO-8601 spelling, UTC instant) inside ``window``, at any offset, with or without a fraction."""
    value = draw(st.datetimes(window.earliest.replace(tzinfo=None), window.latest.replace(tzinfo=None)))
    value = value.replace(microsecond=0, tzinfo=UTC)
    fraction = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True)))
    return spelled(value, draw(offsets), fraction), value


def categories(allowed: tuple[str, ...]):
    """An allowed value in any case, padded with whitespace."""
    pad = st.sampled_from(["", " ", "  ", "\t"])
    return st.builds(lambda v, upper, a, b: a + (v.upper() if upper else v) + b, st.sampled_from(allowed),
                     st.booleans(), pad, pad)  # fmt: skip


def numbers(name: str):
    lo, hi = NUMERIC_DOMAIN[name]
    if name in INTEGER_FIELDS:
        return st.integers(lo, hi)
    return st.one_of(st.floats(lo, hi, allow_nan=False), st.integers(int(lo), int(hi)))


@st.composite
def valid_records(draw) -> tuple[dict, datetime]:
    """A record the schema accepts, every field drawn from its domain, optional ones present, null or blank."""
    spelling, instant = draw(instants())
    signup = draw(st.dates(min_value=date(1900, 1, 1), max_value=instant.date()))
    record: dict = {"customer_id": draw(DOMAIN_EXTRA["customer_id"]), "event_time": spelling,
                    "signup_date": signup.isoformat(), LABEL: draw(st.sampled_from([0, 1, True, False]))}  # fmt: skip
    for name in NUMERIC_DOMAIN:
        record[name] = draw(numbers(name))
    for name, allowed in CATEGORICAL.items():
        record[name] = draw(categories(allowed))
    for name in OPTIONAL:
        choice = draw(st.sampled_from(["keep", "drop", "null", "blank"]))
        if choice == "drop":
            record.pop(name)
        elif choice != "keep":
            record[name] = None if choice == "null" else draw(st.sampled_from(["", "  "]))
    assert set(record) >= set(REQUIRED)
    return record, instant


bad_instants = st.one_of(
    st.from_regex(r"[0-9]{1,14}", fullmatch=True),  # digits are not epoch seconds
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda d: d.isoformat()),  # naive: no instant
    st.builds(
        spelled,
        st.datetimes(datetime(1, 1, 1), datetime(1, 1, 1, 23, 59)),
        offsets.filter(lambda o: o[0] == "+"),
        st.just(""),
    ),
    st.builds(
        spelled,
        st.datetimes(datetime(9999, 12, 31), datetime(9999, 12, 31, 23, 59)),
        offsets.filter(lambda o: o[0] == "-" and o != "-00:00"),
        st.just(""),
    ),
    st.datetimes(datetime(1, 1, 1), WINDOW.earliest.replace(tzinfo=None) - timedelta(seconds=1)).map(
        lambda d: d.isoformat(timespec="seconds") + "Z"
    ),
    st.datetimes(WINDOW.latest.replace(tzinfo=None) + timedelta(seconds=1)).map(
        lambda d: d.isoformat(timespec="seconds") + "Z"
    ),
    st.text(max_size=40),
    instants()
    .map(lambda s: s[0])
    .flatmap(lambda s: st.sampled_from([s.replace("T", " "), s.lower(), " " + s, s.replace("-", "/"), s + "x"])),
)


@st.composite
def hostile_records(draw) -> bytes:
    """Valid records broken in one way the producer could: a field retyped, dropped, added, out of
    domain, a bad instant, a signup after the event, or bytes that are not a JSON object at all."""
    record, instant = draw(valid_records())
    how = draw(st.sampled_from(["retype", "drop", "extra", "domain", "time", "signup", "bytes", "json"]))
    if how == "retype":
        record[draw(st.sampled_from(sorted(record)))] = draw(json_values)
    elif how == "drop":
        record.pop(draw(st.sampled_from(sorted(REQUIRED))))
    elif how == "extra":
        record[draw(st.text(min_size=1, max_size=30).filter(lambda k: k not in FIELDS))] = draw(json_values)
    elif how == "domain":
        name = draw(st.sampled_from(sorted(NUMERIC_DOMAIN)))
        lo, hi = NUMERIC_DOMAIN[name]
        record[name] = draw(
            st.one_of(st.floats(max_value=lo, exclude_max=True), st.floats(min_value=hi, exclude_min=True))
        )
    elif how == "time":
        record["event_time"] = draw(bad_instants)
    elif how == "signup":
        record["signup_date"] = draw(st.dates(min_value=instant.date() + timedelta(days=1))).isoformat()
    elif how == "bytes":
        return draw(st.binary(max_size=300))
    else:
        return json.dumps(draw(json_values)).encode()
    return json.dumps(record).encode()


valid_payloads = valid_records().map(lambda r: json.dumps(r[0]).encode())


@st.composite
def kinesis_batches(draw):
    """A Firehose request from a Kinesis stream: (event, {recordId: payload})."""
    payloads = draw(st.lists(st.one_of(valid_payloads, hostile_records()), max_size=8))
    ids = draw(st.lists(st.integers(0, 10**56 - 1).map("{:056d}".format), min_size=len(payloads),
                        max_size=len(payloads), unique=True))  # fmt: skip
    records = [kinesis_record(i, b64(p)) for i, p in zip(ids, payloads, strict=True)]
    return firehose_request(records), dict(zip(ids, payloads, strict=True))


@churn_only
@pytest.mark.property
@settings(deadline=None)
@given(kinesis_batches())
def test_property_every_record_comes_back_exactly_once_ok_or_failed_with_its_reason(case) -> None:
    request, payloads = case
    outcome = transform_event(request, window=WINDOW)
    assert [r["recordId"] for r in outcome.records] == list(payloads)
    assert outcome.ok + outcome.failed == len(payloads) and outcome.unwrapped == 0
    for record in outcome.records:
        assert set(record) == {"recordId", "result", "data"}
        if record["result"] == "Ok":
            assert decode(record).endswith("\n") and decode(record).count("\n") == 1
        else:
            failed = json.loads(decode(record))
            assert set(failed) == {"error", "raw"} and failed["error"]
            assert base64.b64decode(failed["raw"]) == payloads[record["recordId"]]


@churn_only
@pytest.mark.property
@settings(deadline=None)
@given(kinesis_batches(), st.data())
def test_property_one_bad_record_never_fails_its_neighbours(case, data) -> None:
    request, payloads = case
    alone = {i: transform_event(firehose_request([kinesis_record(i, b64(p))]), window=WINDOW).records[0]
             for i, p in payloads.items()}  # fmt: skip
    # and a bug striking some records: only those fail
    struck = set(data.draw(st.lists(st.sampled_from(sorted(payloads)), unique=True))) if payloads else set()
    struck_data = {b64(payloads[i]) for i in struck}
    real = logic.transform_data

    def buggy(value, window=None):
        if value in struck_data:
            raise data.draw(st.sampled_from([ValueError, OverflowError, KeyError, RecursionError, MemoryError]))()
        return real(value, window)

    logic.transform_data = buggy
    try:
        outcome = transform_event(request, window=WINDOW)
    finally:
        logic.transform_data = real
    for record in outcome.records:
        if b64(payloads[record["recordId"]]) in struck_data:
            assert record["result"] == "ProcessingFailed"
            assert json.loads(decode(record))["error"].startswith("unexpected error in the transform")
        else:
            assert record == alone[record["recordId"]]


@churn_only
@pytest.mark.property
@settings(deadline=None)
@given(valid_records())
def test_property_ok_records_are_one_normalized_line_utc_lower_case_blanks_null(case) -> None:
    record, instant = case
    ok, line = transform_data(b64(json.dumps(record)), WINDOW)
    assert ok, line
    event = json.loads(line)
    assert event["event_time"] == instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, allowed in CATEGORICAL.items():
        value = record.get(name)
        expected = value.strip().lower() if isinstance(value, str) and value.strip() else None
        assert event[name] == expected and (expected is None or expected in allowed)
    for name in NUMERIC_DOMAIN:
        value = record.get(name)
        assert event[name] == (None if value is None or isinstance(value, str) else value)
    assert event[LABEL] == int(record[LABEL])


@churn_only
@pytest.mark.property
@settings(deadline=None)
@given(valid_records(), bad_instants)
def test_property_only_a_real_iso_instant_inside_the_window_is_an_event_time(case, bad) -> None:
    record, _ = case
    ok, text = transform_data(b64(json.dumps({**record, "event_time": bad})), WINDOW)
    assert not ok and "event_time" in text, (bad, text)


@churn_only
@pytest.mark.property
@settings(deadline=None)
@given(st.lists(st.one_of(hostile_records(), valid_records().map(lambda r: json.dumps(r[0]).encode()),
                          st.binary(min_size=500, max_size=5_000)), max_size=40),
       st.integers(2_000, 60_000))  # fmt: skip
def test_property_the_response_stays_under_the_payload_limit(payloads, budget) -> None:
    """The same rule at a scale hypothesis can explore: any budget, any mix of records."""
    request = firehose_request([kinesis_record(f"{i:056d}", b64(p)) for i, p in enumerate(payloads)])
    original = logic.RESPONSE_BUDGET
    logic.RESPONSE_BUDGET = budget
    try:
        outcome = transform_event(request, window=WINDOW)
    finally:
        logic.RESPONSE_BUDGET = original
    if outcome.unwrapped == 0:
        assert size(outcome.response()) <= budget
        return
    # Envelopes are dropped only when even the shortest reasons would not fit; then each failed
    # record carries its original data, as Firehose sent it.
    shortest = len('{"records": []}') + sum(len(json.dumps(r)) + 2 for r in outcome.records if r["result"] == "Ok")
    for record_id, reason in outcome.failures:
        data = b64(
            logic.envelope(printable(reason, logic.REASON_STEPS[-1]), request["records"][int(record_id)]["data"])
        )
        shortest += len(json.dumps({"recordId": record_id, "result": "ProcessingFailed", "data": data})) + 2
    assert shortest > budget
    assert all(r["data"] == request["records"][int(r["recordId"])]["data"] for r in outcome.records
               if r["result"] == "ProcessingFailed")  # fmt: skip


@churn_only
@pytest.mark.property
def test_property_whatever_the_lambda_writes_the_etl_accepts(spark) -> None:
    """One Spark run over every generated record: the profile's number of examples (1,000 in fuzz)."""
    from pipelines.glue.curate import transform

    lines: list[str] = []

    @settings(deadline=None, database=None)
    @given(valid_records())
    def collect(case) -> None:
        record, _ = case
        unique = {**record, "customer_id": f"{record['customer_id'][:52]}-{len(lines)}"}  # no duplicate rejects
        ok, line = transform_data(b64(json.dumps(unique)), WINDOW)
        assert ok, line
        lines.append(line.rstrip("\n"))

    collect()
    rejected = transform(spark.createDataFrame([(x,) for x in lines], ["value"])).rejects.collect()
    # Every line parses: the only rejects allowed are the batch's imputation outcomes (a derived value that
    # falls outside its domain depends on the batch, not on the line's spelling, and is not the Lambda's to judge).
    spelling = [(r["reason"], r["raw"]) for r in rejected if "cannot be imputed" not in r["reason"]]
    assert spelling == []


@churn_only
def test_a_date_the_etl_cannot_write_is_refused_here_first() -> None:
    ok, text = transform_data(with_time("2026-03-01T10:00:00Z", signup_date="1899-12-31"), WINDOW)
    assert (ok, text) == (False, "signup_date: outside 1900-01-01..9999-12-31")
