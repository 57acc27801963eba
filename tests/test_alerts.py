"""Alerts stack: one encrypted, TLS-only topic that alarms and EventBridge rules can reach."""

from __future__ import annotations

import json
import re

from ml_constructs.lambdas import RUNTIME
from tests.conftest import ROOT, Assembly


def _topic_statements(assembly: Assembly) -> list[dict]:
    (policy,) = assembly.resources("alerts", "AWS::SNS::TopicPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _alarm_arns(value: object) -> bool:
    """``arn:<partition>:cloudwatch:<region>:<account>:alarm:*`` however CloudFormation spells it."""
    text = json.dumps(value)
    return ":cloudwatch:" in text and ":alarm:*" in text and "AWS::AccountId" in text


def test_topic_is_encrypted_and_tls_only(assembly: Assembly) -> None:
    (topic,) = assembly.resources("alerts", "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("TopicKey")
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in _topic_statements(assembly)
    )


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_topic(assembly: Assembly) -> None:
    """With the default topic policy replaced, only what the policy names can publish."""
    (publish,) = [
        s for s in _topic_statements(assembly) if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert _alarm_arns(publish["Condition"]["ArnLike"]["aws:SourceArn"])


def test_eventbridge_rules_of_this_account_may_publish_to_the_topic(assembly: Assembly) -> None:
    (publish,) = [s for s in _topic_statements(assembly) if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":events:" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])


def test_topic_key_admits_both_publishers_with_the_conditions_each_sends(assembly: Assembly) -> None:
    """EventBridge sends no aws:SourceAccount/aws:SourceArn when it uses an encrypted topic's key (SNS
    developer guide): any such condition would drop every Glue and pipeline failure notice. CloudWatch
    sends both."""
    (key,) = assembly.resources("alerts", "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]

    def by(service: str) -> dict:
        (statement,) = [s for s in statements if s.get("Principal") == {"Service": service}]
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        return statement

    events = by("events.amazonaws.com")
    assert "aws:Source" not in json.dumps(events.get("Condition", {}))
    cloudwatch = by("cloudwatch.amazonaws.com")
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert _alarm_arns(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"])


def test_lambda_layer_is_built_for_the_functions_runtime() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (version,) = re.findall(r"--python-version (\d+\.\d+)", makefile)
    assert RUNTIME.name == f"python{version}"
    assert "manylinux2014_aarch64" in makefile
