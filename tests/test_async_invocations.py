"""Functions EventBridge invokes asynchronously keep what fails: an on-failure queue, with an alarm."""

from __future__ import annotations

import json

import pytest

from config import PROFILES
from tests.conftest import Assembly

ASYNC_FUNCTIONS = [
    ("training", "Guard"),
    ("serving", "Promotion"),
    ("serving", "Deployer"),
    ("monitoring", "DriftJobStarter"),
]


def _ref_id(value: object) -> str:
    """The logical id a Ref or GetAtt points at."""
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


@pytest.mark.parametrize(("stack", "name"), ASYNC_FUNCTIONS)
def test_failed_async_invocations_land_in_an_encrypted_queue_with_an_alarm(
    assembly: Assembly, stack: str, name: str
) -> None:
    resources = assembly.template(stack)["Resources"]
    found = [
        k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function" and k.startswith(f"{name}Function")
    ]
    if name == "Promotion" and not PROFILES[assembly.profile].serving.challenger:
        assert found == [], "no promotion function without a challenger"
        return
    (fid,) = found
    (config, *rest) = [
        v for v in resources.values()
        if v["Type"] == "AWS::Lambda::EventInvokeConfig" and _ref_id(v["Properties"]["FunctionName"]) == fid
    ]  # fmt: skip
    assert not rest
    props = config["Properties"]
    assert 0 <= props["MaximumRetryAttempts"] <= 2 and 60 <= props["MaximumEventAgeInSeconds"] <= 21600
    queue_id = _ref_id(props["DestinationConfig"]["OnFailure"]["Destination"])
    queue = resources[queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert "FifoQueue" not in queue["Properties"]  # Lambda destinations take standard queues only
    assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (queue_policy,) = [
        v for v in resources.values()
        if v["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in v["Properties"]["Queues"]
    ]  # fmt: skip
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in queue_policy["Properties"]["PolicyDocument"]["Statement"]
    )
    # Lambda sends the record as the function's role, and checks that it may when the config is created.
    role_id = resources[fid]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = {
        k: v for k, v in resources.items()
        if v["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in v["Properties"].get("Roles", [])
    }  # fmt: skip
    assert any(
        "sqs:SendMessage" in s["Action"] and s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    )
    assert set(policies) <= set(config.get("DependsOn", []))
    alarms = [
        v["Properties"] for v in resources.values()
        if v["Type"] == "AWS::CloudWatch::Alarm" and v["Properties"].get("Namespace") == "AWS/SQS"
        and v["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]  # fmt: skip
    assert [a["MetricName"] for a in alarms] == ["ApproximateNumberOfMessagesVisible"]
    assert alarms[0]["Threshold"] == 0 and alarms[0]["ComparisonOperator"] == "GreaterThanThreshold"
    assert "AlarmTopic" in json.dumps(alarms[0]["AlarmActions"])
