"""The retraining guard with moto and a clock the test controls."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.retraining_guard.logic import GuardConfig, classify, decide

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
    with pytest.raises(ClientError):
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
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": "garbage"}, "new-data"),
    ],
)
def test_unknown_or_irrelevant_events_are_refused_and_recorded(aws, event, expected) -> None:
    sagemaker, table = aws
    decision = decide(event, sagemaker=sagemaker, table=table, config=CONFIG, now=T0)
    if expected == "new-data":  # malformed detail still classifies, and is handled
        assert decision.trigger == "new-data"
        return
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
