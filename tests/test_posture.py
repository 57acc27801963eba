"""Posture gate: every stack synthesizes with zero unacknowledged findings."""

from __future__ import annotations

import json

import pytest

from posture import CFN_VALIDATE, PACK_NAMES
from posture.report import main as report_main
from tests.conftest import Assembly


def test_every_stack_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    # The stacks are what the cloud assembly holds, so a new stack is covered without a change here.
    stacks = [name for name, art in assembly.manifest["artifacts"].items() if art["type"] == "aws:cloudformation:stack"]
    assert stacks and sorted(stacks) == assembly.posture.stacks
    errors = {
        name: [f"{f.rule} at {f.path}" for f in assembly.posture.findings_for(name) if f.severity == "error"]
        for name in stacks
    }
    assert errors == {name: [] for name in stacks}


def test_synth_succeeds_and_writes_the_validation_report(assembly: Assembly) -> None:
    assert assembly.result.returncode == 0, assembly.result.stderr[-4000:]
    assert (assembly.outdir / "validation-report.json").exists()


def test_no_rule_threw_during_validation(assembly: Assembly) -> None:
    # A rule that throws on an unresolved token is a finding to remove, never to acknowledge.
    output = assembly.result.stdout + assembly.result.stderr
    assert "threw an error" not in output
    assert not [f for f in assembly.posture.findings if "threw" in f.description]


def test_every_acknowledgment_names_its_pack_and_gives_a_reason(assembly: Assembly) -> None:
    acks = assembly.posture.acknowledgments
    assert acks, "expected the documented acknowledgments"
    prefixes = (*tuple(f"{p}-" for p in PACK_NAMES), f"{CFN_VALIDATE}::")
    for _stack, path, rule, reason in acks:
        assert rule.startswith(prefixes), (path, rule)
        assert len(reason) >= 40, (path, rule, reason)


def test_acknowledgments_sit_on_resources_not_stacks(assembly: Assembly) -> None:
    for stack, path, rule, _ in assembly.posture.acknowledgments:
        assert path.strip("/") != stack, f"{rule} acknowledged for the whole stack {stack}"


def test_acknowledgments_are_written_into_template_metadata(dev: Assembly) -> None:
    bucket = dev.template("data-lake")["Resources"]
    raw = next(v for k, v in bucket.items() if k.startswith("RawZoneBucket") and v["Type"] == "AWS::S3::Bucket")
    ids = {r["id"] for r in raw["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    assert ids == {f"{p}-S3BucketReplicationEnabled" for p in PACK_NAMES[1:]}


def test_report_command_passes_a_clean_assembly(dev: Assembly, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([str(dev.outdir)]) == 0
    out = capsys.readouterr().out
    assert "Posture: PASS" in out
    for pack in PACK_NAMES:
        assert pack in out


def test_report_command_fails_on_an_unacknowledged_finding(dev: Assembly, tmp_path, capsys) -> None:
    clone = tmp_path / "assembly"
    clone.mkdir()
    for f in dev.outdir.glob("*.json"):
        (clone / f.name).write_text(f.read_text())
    report = {
        "pluginReports": [
            {
                "pluginName": "AwsSolutions",
                "conclusion": "failure",
                "violations": [
                    {
                        "ruleName": "AwsSolutions-S10",
                        "description": "no TLS",
                        "severity": "error",
                        "violatingConstructs": [{"constructPath": f"{dev.stack_name('data-lake')}/X/Resource"}],
                    }
                ],
            }
        ]
    }
    (clone / "validation-report.json").write_text(json.dumps(report))
    assert report_main([str(clone)]) == 1
    assert "UNACKNOWLEDGED AwsSolutions-S10" in capsys.readouterr().out


def test_report_command_fails_without_an_assembly(tmp_path) -> None:
    assert report_main([str(tmp_path)]) == 1


@pytest.mark.parametrize(
    ("rule", "pack"),
    [
        ("AwsSolutions-IAM5[Resource::<RawZoneBucketD23CD850.Arn>/events/*]", "AwsSolutions"),
        ("Annotation::NIST.800.53.R5-LambdaDLQ", "NIST.800.53.R5"),
        ("CloudFormation-Validate::W3010", "CloudFormation-Validate"),
    ],
)
def test_acknowledgments_are_counted_under_their_pack(rule: str, pack: str) -> None:
    from posture.report import _pack_of

    assert _pack_of(rule) == pack


def test_summary_lists_only_known_packs(dev: Assembly, capsys: pytest.CaptureFixture[str]) -> None:
    report_main([str(dev.outdir)])
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["pack"])
    end = next(i for i, line in enumerate(lines) if line.split()[:1] == ["stack"])
    assert {line.split()[0] for line in lines[start + 1 : end]} == {*PACK_NAMES, CFN_VALIDATE}


def test_a_finding_on_a_raw_bucket_points_to_the_compliant_construct_before_an_acknowledgment(
    dev: Assembly, tmp_path, capsys
) -> None:
    clone = tmp_path / "assembly"
    clone.mkdir()
    for f in dev.outdir.glob("*.json"):
        (clone / f.name).write_text(f.read_text())
    stack = dev.stack_name("data-lake")
    path = next(r["Metadata"]["aws:cdk:path"] for r in dev.resources("data-lake", "AWS::S3::Bucket").values())
    violation = {"ruleName": "AwsSolutions-S1", "description": "no access logs", "severity": "error",
                 "violatingConstructs": [{"constructPath": path}]}  # fmt: skip
    report = {"pluginReports": [{"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [violation]}]}
    (clone / "validation-report.json").write_text(json.dumps(report))
    assert report_main([str(clone)]) == 1
    out = capsys.readouterr().out
    assert stack in path and f"UNACKNOWLEDGED AwsSolutions-S1 at {path}" in out
    fix, acknowledge = out.index("SecureBucket"), out.index("posture.checks.acknowledge")
    assert fix < acknowledge


def test_a_profile_without_contacts_synthesizes_with_warnings(assembly: Assembly) -> None:
    from config import PROFILES
    from config.profiles import missing_contacts

    assert assembly.result.returncode == 0
    warned = " ".join(w.description for w in assembly.posture.warnings)
    assert all(key in warned for key in missing_contacts(PROFILES[assembly.profile]))
    assert not [f for f in assembly.posture.findings if "mlops:" in f.rule]
