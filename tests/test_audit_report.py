"""`make audit`'s report (SARIF 2.1, JSON, Markdown), its suppression metadata and its scan copies."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from posture import AUDIT_REASONS
from posture.audit import report, scanners
from posture.audit.practices import mappings
from posture.audit.templates import Template, write_scan_copies
from posture.contracts.model import Assembly
from posture.suppressions import suppress

REASON = "The queue holds nothing but test messages, and nothing reads from it in this canary."
FINDINGS = [
    scanners.Finding("checkov", "CKV_AWS_27", "dev", "mlops-dev-ingest", "Queue", "SQS encrypted", "error"),
    scanners.Finding("checkov", "CKV_AWS_27", "dev", "mlops-dev-ingest", "Other", "SQS encrypted", "error", REASON),
    scanners.Finding("parliament", "RESOURCE_MISMATCH", "prod", "mlops-prod-serving", "Policy", "No match", "warning"),
]


def test_sarif_has_one_run_per_tool_with_rules_results_and_suppressions() -> None:
    sarif = report.to_sarif(FINDINGS, {("dev", "mlops-dev-ingest"): "templates/dev/mlops-dev-ingest.template.json"})
    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    assert [run["tool"]["driver"]["name"] for run in sarif["runs"]] == list(scanners.TOOLS)
    (checkov,) = [r for r in sarif["runs"] if r["tool"]["driver"]["name"] == "checkov"]
    assert [rule["id"] for rule in checkov["tool"]["driver"]["rules"]] == ["CKV_AWS_27"]
    open_result, suppressed = checkov["results"]
    assert open_result["ruleIndex"] == 0 and open_result["level"] == "error" and "suppressions" not in open_result
    assert suppressed["suppressions"] == [{"kind": "inSource", "justification": REASON}]
    location = open_result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "templates/dev/mlops-dev-ingest.template.json"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "mlops-dev-ingest/Queue"


def test_json_counts_untriaged_and_lists_every_suppression_with_its_reason() -> None:
    body = report.to_json(FINDINGS, ["dev", "prod"], {})
    assert body["counts"]["checkov"] == {"findings": 2, "suppressed": 1, "untriaged": 1}
    assert body["counts_by_profile"]["prod"]["parliament"]["untriaged"] == 1
    assert [s["reason"] for s in body["suppressions"]] == [REASON]
    ids = {m["id"] for m in body["mappings"]}
    assert {
        "encryption-at-rest",
        "SageMaker.4",
        "SageMaker.25",
        "sagemaker-endpoint-configuration-kms-key-configured",
    } <= ids


def test_markdown_fails_on_untriaged_and_says_why_each_control_does_not_apply() -> None:
    text = report.to_markdown(FINDINGS, ["dev"], {"SageMaker.5": ["dev/mlops-dev-serving/Model"]})
    assert "**FAIL**" in text and REASON in text and "dev/mlops-dev-serving/Model" in text
    for m in mappings():
        assert m.applies or m.why_not in text.replace("\\|", "|")
    assert "**PASS**" in report.to_markdown(FINDINGS[1:2], ["dev"], {})


def test_every_practice_of_the_guide_and_all_31_ai_standard_controls_are_mapped() -> None:
    groups: dict[str, list[str]] = {}
    for m in mappings():
        groups.setdefault(m.group, []).append(m.id)
    assert len(groups["ML specialty practice"]) == 12
    assert len(groups["Security Hub control"]) == 31
    assert all(m.proved_by for m in mappings() if m.applies)


def test_suppress_writes_the_scanners_own_metadata_and_the_reason() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    queue = sqs.Queue(stack, "Q")
    suppress(queue, "checkov", "CKV_AWS_27", REASON)
    suppress(queue, "cfn-guard", "CT.SQS.PR.1", REASON)
    suppress(queue, "cfn-lint", "W3005", REASON)
    suppress(queue, "parliament", "RESOURCE_MISMATCH", REASON)
    meta = cdk.assertions.Template.from_stack(stack).to_json()["Resources"]
    (resource,) = [r for r in meta.values() if r["Type"] == "AWS::SQS::Queue"]
    m = resource["Metadata"]
    assert m["checkov"]["skip"] == [{"id": "CKV_AWS_27", "comment": REASON}]
    assert m["guard"]["SuppressedRules"] == ["CT.SQS.PR.1"]
    assert m["cfn-lint"]["config"]["ignore_checks"] == ["W3005"]
    assert m["parliament"]["ignore"] == ["RESOURCE_MISMATCH"]
    assert set(m[AUDIT_REASONS]) == {
        "checkov:CKV_AWS_27",
        "cfn-guard:CT.SQS.PR.1",
        "cfn-lint:W3005",
        "parliament:RESOURCE_MISMATCH",
    }
    with pytest.raises(ValueError, match="too short"):
        suppress(queue, "checkov", "CKV_AWS_1", "noise")


def test_a_suppression_without_a_reason_is_untriaged() -> None:
    body = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Metadata": {"guard": {"SuppressedRules": ["CT.SQS.PR.1"]}}}}
    }
    found = scanners._check_reasons([Template("dev", "S", None, body)], "cfn-guard", lambda m: m.get("guard", {}).get("SuppressedRules", []))  # type: ignore[arg-type]  # fmt: skip
    assert [(f.rule, f.triaged) for f in found] == [("CT.SQS.PR.1", False)]


def test_scan_copies_replace_cross_stack_references_by_the_producers_value(tmp_path) -> None:
    producer = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
                "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}}  # fmt: skip
    ref = {"Fn::GetStackOutput": {"StackName": "producer", "OutputName": "KeyArn", "Region": "eu-west-1"}}
    consumer = {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup",
                                       "Properties": {"KmsKeyId": ref, "LogGroupName": {"Ref": "AWS::StackName"}}}}}  # fmt: skip
    asm = Assembly.of_templates({"producer": producer, "consumer": consumer}, "eu-west-1")
    (copy,) = write_scan_copies(
        [Template("dev", "consumer", tmp_path / "consumer.template.json", consumer)], asm, tmp_path / "scan"
    )
    props = json.loads(copy.path.read_text())["Resources"]["Logs"]["Properties"]
    assert props["KmsKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert props["LogGroupName"] == {"Ref": "AWS::StackName"}


def test_only_an_endpoint_with_two_production_variants_is_evidence_of_ab_testing() -> None:
    from posture.audit.practices import resolve

    def config(*names: str) -> dict:
        variants = [{"VariantName": n, "InitialInstanceCount": 1, "InstanceType": "ml.t2.medium"} for n in names]
        return {"Resources": {"Config": {"Type": "AWS::SageMaker::EndpointConfig",
                                         "Properties": {"ProductionVariants": variants}}}}  # fmt: skip

    ab = [Template("dev", "serving", None, config("champion", "challenger"))]  # type: ignore[arg-type]
    solo = [Template("solo", "serving", None, config("champion"))]  # type: ignore[arg-type]
    assert resolve(ab).get("ab-testing") == ["dev/serving/Config"]
    assert "ab-testing" not in resolve(solo)
