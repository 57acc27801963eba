"""The retraining guard with moto and a clock the test controls."""

from __future__ import annotations

import dataclasses
import importlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from config.profiles import PROFILES, TRIGGER_DELAY_MINUTES, ProfileError
from lambdas.retraining_guard.logic import GuardConfig, StartFailed, classify, decide

REGION = "eu-west-1"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COOLDOWN = timedelta(hours=6)


def schedule_event(n: int = 0) -> dict:
    return {"id": f"evt-{n}", "source": "aws.events", "detail-type": "Scheduled Event",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/retrain"], "detail": {}}  # fmt: skip


def data_event(key: str = "churn_features/event_year=2026/event_month=11/part-0.parquet") -> dict:
    return {"id": "evt-data", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "curated"}, "object": {"key": key}}}  # fmt: skip


def alarm_event(state: str = "ALARM") -> dict:
    return {"id": "evt-alarm", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "mlops-dev-drift-data-quality", "state": {"value": state}}}  # fmt: skip


class Recorder:
    """A SageMaker client that forwards to moto and can pretend an execution is running."""

    def __init__(self, client, running: bool = False, fail_start: bool = False) -> None:
        self.client, self.running, self.fail_start, self.starts = client, running, fail_start, []

    def list_pipeline_executions(self, **kwargs):
        page = self.client.list_pipeline_executions(**kwargs)
        if self.running and page["PipelineExecutionSummaries"]:
            page["PipelineExecutionSummaries"][0]["PipelineExecutionStatus"] = "Executing"
        return page

    def start_pipeline_execution(self, **kwargs):
        if self.fail_start:
            raise ClientError({"Error": {"Code": "ResourceLimitExceeded", "Message": "no"}}, "StartPipelineExecution")
        self.starts.append(kwargs)
        return self.client.start_pipeline_execution(**kwargs)


@pytest.fixture
def aws(fake_aws_credentials):
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName="decisions", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_pipeline(
            PipelineName="churn", PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn="arn:aws:iam::123456789012:role/sagemaker",
        )  # fmt: skip
        yield Recorder(sagemaker), table


CONFIG = GuardConfig(pipeline_name="churn", table_name="decisions", cooldown=COOLDOWN, parameters={"MinAuc": "0.8"})


def decisions(table) -> list[dict]:
    return [i for i in table.scan()["Items"] if i["pk"].startswith("decision#")]


def test_a_trigger_starts_the_pipeline_with_its_parameters_and_is_recorded(aws) -> None:
    sagemaker, table = aws
    decision = decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    assert decision.started and decision.trigger == "schedule" and decision.execution_arn
    (start,) = sagemaker.starts
    assert start["PipelineParameters"] == [{"Name": "MinAuc", "Value": "0.8"}]
    assert start["PipelineExecutionDescription"].startswith("started by schedule")
    (record,) = decisions(table)
    assert record["started"] is True and record["execution_arn"] == decision.execution_arn


def test_cool_down_refuses_then_lets_the_next_one_through(aws) -> None:
    sagemaker, table = aws
    assert decide(schedule_event(1), sagemaker=sagemaker, table=table, config=CONFIG, now=T0).started
    refused = decide(data_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + timedelta(hours=1))
    assert not refused.started and "cool-down until 2026-11-25T18:00:00+00:00" in refused.reason
    later = decide(
        alarm_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + COOLDOWN + timedelta(seconds=1)
    )
    assert later.started and later.trigger == "alarm"
    assert len(sagemaker.starts) == 2
    assert [d["started"] for d in sorted(decisions(table), key=lambda d: d["pk"])] == [True, False, True]


def test_a_storm_of_100_triggers_in_a_minute_starts_exactly_one_execution(aws) -> None:
    sagemaker, table = aws
    events = [
        schedule_event(i) if i % 3 == 0 else data_event(f"k/{i}") if i % 3 == 1 else alarm_event() for i in range(100)
    ]
    results = [
        decide(e, sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + timedelta(seconds=i * 0.6))
        for i, e in enumerate(events)
    ]
    assert sum(r.started for r in results) == 1 and results[0].started
    assert len(sagemaker.starts) == 1
    executions = sagemaker.client.list_pipeline_executions(PipelineName="churn")["PipelineExecutionSummaries"]
    assert len(executions) == 1
    assert len(decisions(table)) == 100


def test_refuses_while_an_execution_is_running_even_after_the_cool_down(aws) -> None:
    sagemaker, table = aws
    assert decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0).started
    sagemaker.running = True
    refused = decide(schedule_event(2), sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + 2 * COOLDOWN)
    assert not refused.started and "is still running" in refused.reason
    assert len(sagemaker.starts) == 1


def test_a_failed_start_gives_the_slot_back_and_raises_for_a_retry(aws) -> None:
    sagemaker, table = aws
    sagemaker.fail_start = True
    with pytest.raises(StartFailed):
        decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    sagemaker.fail_start = False
    retried = decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + timedelta(seconds=30))
    assert retried.started


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (None, "not an EventBridge event"),
        ({"source": "aws.ec2"}, "unrecognized event"),
        (alarm_event("OK"), "changed to OK, not ALARM"),
    ],
)
def test_unknown_or_irrelevant_events_are_refused_and_recorded(aws, event, expected) -> None:
    sagemaker, table = aws
    decision = decide(event, sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    assert not decision.started and expected in decision.reason
    assert sagemaker.starts == [] and len(decisions(table)) == 1


def test_classify_names_each_trigger() -> None:
    assert classify(schedule_event())[0] == "schedule"
    assert (
        classify(data_event())[1]
        == "new curated data s3://curated/churn_features/event_year=2026/event_month=11/part-0.parquet"
    )
    assert classify(alarm_event()) == ("alarm", "alarm mlops-dev-drift-data-quality is in ALARM")


def test_handler_wires_environment_and_reports_the_decision(aws, monkeypatch, capsys, lambda_context) -> None:
    monkeypatch.setenv("DECISIONS_TABLE", "decisions")
    monkeypatch.setenv("PIPELINE_NAME", "churn")
    monkeypatch.setenv("COOLDOWN_MINUTES", "360")
    monkeypatch.setenv("PIPELINE_PARAMETERS", json.dumps({"MaxTuningJobs": 10}))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "retraining_guard")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "MlopsTest")
    handler = importlib.reload(importlib.import_module("lambdas.retraining_guard.handler"))

    first = handler.lambda_handler(schedule_event(), lambda_context)
    second = handler.lambda_handler(schedule_event(1), lambda_context)
    assert first["started"] and not second["started"]
    out = capsys.readouterr().out
    assert "RetrainingStarted" in out and "RetrainingRefused" in out


# --- issue 10: whatever the start raises, malformed fields, bounded records, the profile ----------

URL = "https://api.sagemaker.eu-west-1.amazonaws.com"


def client_error(status: int) -> ClientError:
    return ClientError({"Error": {"Code": "X", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "StartPipelineExecution")  # fmt: skip


# (what start raises, whether an execution was started before it raised, whether it certainly did not start)
START_FAILURES = {
    "refused (4xx)": (lambda: client_error(400), False, True),
    "server error (5xx)": (lambda: client_error(503), True, False),
    "no connection": (lambda: EndpointConnectionError(endpoint_url=URL), False, True),
    "connect timeout": (lambda: ConnectTimeoutError(endpoint_url=URL), False, True),
    "invalid parameters": (lambda: ParamValidationError(report="bad"), False, True),
    "read timeout": (lambda: ReadTimeoutError(endpoint_url=URL), True, False),
    "connection dropped": (lambda: ConnectionClosedError(endpoint_url=URL), True, False),
    "a bug": (lambda: RuntimeError("bug"), False, False),
}


class Flaky(Recorder):
    """Raises ``error`` from the next start; ``reached`` starts the execution first (its answer is lost)."""

    def __init__(self, client, error=None, reached: bool = False) -> None:
        super().__init__(client)
        self.error, self.reached = error, reached

    def start_pipeline_execution(self, **kwargs):
        if self.error is None:
            return super().start_pipeline_execution(**kwargs)
        error, self.error = self.error, None
        if self.reached:
            super().start_pipeline_execution(**kwargs)
        raise error


def executions(sagemaker) -> int:
    return len(sagemaker.client.list_pipeline_executions(PipelineName="churn")["PipelineExecutionSummaries"])


@pytest.mark.parametrize("failure", START_FAILURES)
def test_whatever_the_start_raises_it_is_recorded_and_no_second_execution_starts(aws, failure) -> None:
    recorder, table = aws
    make, reached, certain = START_FAILURES[failure]
    sagemaker = Flaky(recorder.client, make(), reached)
    with pytest.raises(StartFailed):
        decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    (record,) = decisions(table)
    assert record["started"] is False and record["reason"].startswith("start failed (schedule")
    retry = decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0 + timedelta(seconds=30))
    # The slot comes back only when the execution certainly did not start: one execution at most.
    assert retry.started is certain and executions(sagemaker) == int(reached or certain)
    assert len(decisions(table)) == 2


def test_a_failed_release_still_records_the_failed_start(aws, monkeypatch) -> None:
    recorder, table = aws
    sagemaker = Flaky(recorder.client, client_error(400))
    real = table.delete_item

    def broken(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    monkeypatch.setattr(table, "delete_item", broken)
    with pytest.raises(StartFailed, match="giving the slot back failed"):
        decide(schedule_event(), sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    monkeypatch.setattr(table, "delete_item", real)
    (record,) = decisions(table)
    assert "cool-down holds" in record["reason"]


@pytest.mark.parametrize(
    "event",
    [
        {**schedule_event(), "resources": 7},
        {**schedule_event(), "resources": [None]},
        {**schedule_event(), "id": {"x": 1}},
        {**data_event(), "detail": {"bucket": {"name": "curated"}, "object": {"key": 5}}},
        {**data_event(), "detail": "garbage"},
        {**data_event(), "detail": {"bucket": "curated", "object": {"key": "k"}}},
        {**alarm_event(), "detail": {"alarmName": ["x"], "state": {"value": "ALARM"}}},
        {**alarm_event(), "detail": {"alarmName": "mlops-dev-retrain-x", "state": "ALARM"}},
        {"id": "m", "source": "mlops.manual", "detail-type": "Retrain", "detail": {"reason": {"nested": True}}},
    ],
)
def test_malformed_fields_are_a_recorded_refusal(aws, event) -> None:
    sagemaker, table = aws
    decision = decide(event, sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    assert not decision.started and decision.trigger == "malformed" and decision.reason.startswith("refused: ")
    assert sagemaker.starts == [] and len(decisions(table)) == 1


def test_the_decision_record_stays_small_whatever_the_event_carries(aws) -> None:
    sagemaker, table = aws
    huge = "\ud800" + "x" * 500_000  # a lone surrogate DynamoDB cannot store, then far past its item limit
    event = {"id": huge, "source": "mlops.manual", "detail-type": "Retrain", "detail": {"reason": huge}}
    assert decide(event, sagemaker=sagemaker, table=table, config=CONFIG, now=T0).started
    (record,) = decisions(table)
    assert item_bytes(record) < 4_096


def item_bytes(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values, UTF-8 (numbers counted generously)."""
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in item.items())


@pytest.mark.parametrize(("etl_timeout", "cooldown"), [(60, 179), (180, 0), (5, 124)])
def test_the_profile_refuses_a_cool_down_shorter_than_a_storm(etl_timeout, cooldown) -> None:
    with pytest.raises(ProfileError, match=r"training\.cooldown_minutes"):
        with_cooldown(etl_timeout, cooldown)


def with_cooldown(etl_timeout: int, cooldown: int):
    dev = PROFILES["dev"]
    return dataclasses.replace(dev, etl=dataclasses.replace(dev.etl, timeout_minutes=etl_timeout),
                               training=dataclasses.replace(dev.training, cooldown_minutes=cooldown))  # fmt: skip


# --- property tests: the README's promises ---------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# Short text, or long runs of one character (any plane, lone surrogates included) past DynamoDB's item limit.
texts = st.one_of(st.text(max_size=30), st.builds(lambda c, n: c * n, st.characters(), st.integers(1_000, 300_000)))
arns = st.builds("arn:aws:events:eu-west-1:123456789012:rule/{}".format, st.from_regex(r"[\w.-]{1,64}", fullmatch=True))


def envelope(source: str, detail_type: str, detail, resources=None) -> st.SearchStrategy:
    """An EventBridge event as AWS delivers it (every top-level field of the real shape)."""
    return st.fixed_dictionaries({
        "version": st.just("0"), "id": st.uuids().map(str), "detail-type": st.just(detail_type),
        "source": st.just(source), "account": st.just("123456789012"), "time": st.just("2026-11-25T12:00:00Z"),
        "region": st.just("eu-west-1"), "resources": st.just([]) if resources is None else resources, "detail": detail,
    })  # fmt: skip


scheduled = envelope("aws.events", "Scheduled Event", st.just({}), st.lists(arns, min_size=1, max_size=2))
object_created = envelope(
    "aws.s3", "Object Created",
    st.fixed_dictionaries({
        "version": st.just("0"),
        "bucket": st.fixed_dictionaries({"name": st.from_regex(r"[a-z0-9.-]{3,63}", fullmatch=True)}),
        "object": st.fixed_dictionaries({"key": st.text(min_size=1, max_size=200).filter(str.strip),
                                         "size": st.integers(0, 2**40), "etag": st.text(max_size=32)}),
        "request-id": st.text(max_size=16), "requester": st.just("123456789012"), "reason": st.just("PutObject"),
    }),
)  # fmt: skip
alarm_changed = envelope(
    "aws.cloudwatch", "CloudWatch Alarm State Change",
    st.fixed_dictionaries({
        "alarmName": st.from_regex(r"mlops-dev-retrain-[\w-]{1,40}", fullmatch=True),
        "state": st.fixed_dictionaries({"value": st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA"]),
                                        "reason": st.text(max_size=50)}),
        "previousState": st.fixed_dictionaries({"value": st.sampled_from(["ALARM", "OK"])}),
    }),
)  # fmt: skip
manual = envelope("mlops.manual", "Retrain", st.fixed_dictionaries({}, optional={"reason": texts.filter(str.strip)}))
real_events = st.one_of(scheduled, object_created, alarm_changed, manual)


@st.composite
def mangled(draw):
    """A real event with one field, at any depth, replaced by any JSON value or long text, or removed."""
    event = draw(real_events)
    node, path = event, []
    while isinstance(node, dict) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node)))
        path.append(key)
        if not isinstance(node[key], dict) or not node[key]:
            break
        node = node[key]
    if not path:
        return draw(st.one_of(json_values, st.just(event)))
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = draw(st.one_of(json_values, texts))
    return event


def well_formed_trigger(event: object) -> bool:
    """Whether ``event`` is a retraining trigger with every field the guard reads of the type AWS sends."""

    def text_at(node, *path) -> bool:
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return isinstance(node, str) and bool(node.strip())

    if not isinstance(event, dict) or ("id" in event and not text_at(event, "id")):
        return False
    kind = (event.get("source"), event.get("detail-type"))
    if kind == ("aws.events", "Scheduled Event"):
        resources = event.get("resources", [])
        return isinstance(resources, list) and all(isinstance(r, str) and r.strip() for r in resources)
    if kind == ("aws.s3", "Object Created"):
        return text_at(event, "detail", "bucket", "name") and text_at(event, "detail", "object", "key")
    if kind == ("aws.cloudwatch", "CloudWatch Alarm State Change"):
        return text_at(event, "detail", "alarmName") and event["detail"].get("state", {}).get("value") == "ALARM"
    if event.get("source") == "mlops.manual":
        detail = event.get("detail")
        return (
            text_at(detail, "reason") if isinstance(detail, dict) and "reason" in detail else isinstance(detail, dict)
        )
    return False


class FakeSageMaker:
    """The pipeline side of a storm: no execution is ever still running (the worst case for the lock)."""

    def __init__(self, failures: list) -> None:
        self.failures, self.executions = list(failures), 0

    def list_pipeline_executions(self, **_):
        return {"PipelineExecutionSummaries": []}

    def start_pipeline_execution(self, **_):
        make, reached, _certain = self.failures.pop(0) if self.failures else (None, False, True)
        if make is None or reached:
            self.executions += 1
        if make is not None:
            raise make()
        return {
            "PipelineExecutionArn": f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/churn/execution/{self.executions}"
        }


@pytest.fixture(scope="module")
def dynamodb():
    with mock_aws():
        yield boto3.resource("dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def fresh_table(dynamodb):
    return dynamodb.create_table(
        TableName=f"decisions-{uuid.uuid4().hex[:12]}", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def storm(table, sagemaker, events, offsets_s, cooldown: timedelta) -> list:
    config = GuardConfig(pipeline_name="churn", table_name=table.name, cooldown=cooldown)
    outcomes = []
    for event, offset in zip(events, sorted(offsets_s), strict=False):
        now = T0 + timedelta(seconds=offset)
        try:
            outcomes.append(decide(event, sagemaker=sagemaker, table=table, config=config, now=now))
        except StartFailed as error:
            outcomes.append(error)
    return outcomes


def recorded(table) -> list[dict]:
    return [i for i in table.scan()["Items"] if i["pk"].startswith("decision#")]


@pytest.mark.property
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    events=st.lists(st.one_of(real_events, mangled()), min_size=1, max_size=10),
    offsets=st.lists(st.floats(0, 1), min_size=10, max_size=10),
    failures=st.lists(st.sampled_from(sorted(START_FAILURES)).map(START_FAILURES.get), max_size=3),
    etl_timeout=st.integers(5, 2880),
    cooldown=st.integers(0, 10_080),
)
def test_property_a_storm_of_triggers_starts_exactly_one_execution(dynamodb, events, offsets, failures, etl_timeout,
                                                                    cooldown) -> None:  # fmt: skip
    try:
        with_cooldown(etl_timeout, cooldown)
    except ProfileError:
        # Refused exactly when a storm spread over the run and its delivery delays could start two executions.
        assert cooldown < etl_timeout + TRIGGER_DELAY_MINUTES
        return
    span = (etl_timeout + TRIGGER_DELAY_MINUTES) * 60  # the triggers of one ETL run, delivered late
    table, sagemaker = fresh_table(dynamodb), FakeSageMaker(failures)
    outcomes = storm(table, sagemaker, events, [o * span for o in offsets], timedelta(minutes=cooldown))
    assert sagemaker.executions <= 1
    started = [o for o in outcomes if not isinstance(o, StartFailed) and o.started]
    assert len(started) <= 1
    if not failures and any(well_formed_trigger(e) for e in events):
        assert len(started) == 1 == sagemaker.executions
    assert len(recorded(table)) == len(outcomes)  # every trigger leaves exactly one decision record


@pytest.mark.property
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(event=st.one_of(mangled(), json_values))
def test_property_a_malformed_event_is_a_recorded_refusal_never_a_crash(dynamodb, event) -> None:
    table, sagemaker = fresh_table(dynamodb), FakeSageMaker([])
    (decision,) = storm(table, sagemaker, [event], [0], COOLDOWN)
    assert decision.started == well_formed_trigger(event) == bool(sagemaker.executions)
    (record,) = recorded(table)
    assert record["reason"] and record["started"] == decision.started
    assert item_bytes(record) < 400 * 1024 // 100  # DynamoDB's item limit, with a hundredfold margin


def test_handler_raises_a_failed_start_for_a_retry_and_counts_it(aws, monkeypatch, capsys, lambda_context) -> None:
    recorder, _ = aws
    for key, value in {"DECISIONS_TABLE": "decisions", "PIPELINE_NAME": "churn", "COOLDOWN_MINUTES": "360",
                       "POWERTOOLS_SERVICE_NAME": "retraining_guard",
                       "POWERTOOLS_METRICS_NAMESPACE": "MlopsTest"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    handler = importlib.reload(importlib.import_module("lambdas.retraining_guard.handler"))
    monkeypatch.setattr(handler, "_sagemaker", Flaky(recorder.client, ReadTimeoutError(endpoint_url=URL), True))
    with pytest.raises(StartFailed, match="may have started"):
        handler.lambda_handler(schedule_event(), lambda_context)
    assert "RetrainingStartFailed" in capsys.readouterr().out
