"""Alerts stack: one encrypted, TLS-only topic that alarms and EventBridge rules can reach."""

from __future__ import annotations

import re

from ml_constructs.lambdas import RUNTIME
from tests.conftest import ROOT, Assembly


def test_topic_is_encrypted_and_tls_only(assembly: Assembly) -> None:
    (topic,) = assembly.resources("alerts", "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("TopicKey")
    (policy,) = assembly.resources("alerts", "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    publish = next(s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"})
    assert publish["Action"] == "sns:Publish" and "aws:SourceAccount" in publish["Condition"]["StringEquals"]


def test_topic_key_admits_only_alarm_publishers_of_this_account(assembly: Assembly) -> None:
    (key,) = assembly.resources("alerts", "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AlarmPublishers"]
    assert sorted(statement["Principal"]["Service"]) == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_lambda_layer_is_built_for_the_functions_runtime() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (version,) = re.findall(r"--python-version (\d+\.\d+)", makefile)
    assert RUNTIME.name == f"python{version}"
    assert "manylinux2014_aarch64" in makefile
