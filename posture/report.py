"""Read a synthesized cloud assembly's posture and print a summary.

``python -m posture.report cdk.out`` prints findings and acknowledgments per
pack and per stack, and exits 1 on any unacknowledged error (or when the
assembly has no templates at all).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from posture import ML_PACK, PACK_NAMES

ACK_METADATA = "aws:cdk:acknowledged-rules"
REPORT_FILE = "validation-report.json"
# The project's own synth warnings (Annotations "mlops:..."): printed, never counted as a pack's findings.
PROJECT_WARNING = "Annotation::mlops:"

# Where a finding on a raw resource usually comes from: an L2 used directly instead of the project's
# construct that already meets every pack. Used before anyone reaches for an acknowledgment.
COMPLIANT_CONSTRUCTS = {
    "AWS::S3::Bucket": "ml_constructs/buckets.py SecureBucket (data) or AccessLogsBucket (server access logs)",
    "AWS::S3::BucketPolicy": "ml_constructs/buckets.py SecureBucket (its policy denies non-TLS and TLS < 1.2)",
    "AWS::KMS::Key": "PlatformStack.service_key (stacks/base.py; ml_constructs/keys.py ServiceKey, rotation on)",
    "AWS::IAM::Role": "ml_constructs/iam.py ManagedRole and its statement helpers (s3_read, kms_use, logs_write...)",
    "AWS::IAM::Policy": "ml_constructs/iam.py ManagedRole, or ml_constructs/access.py BucketAccessPolicy",
    "AWS::IAM::ManagedPolicy": "ml_constructs/iam.py ManagedRole, or ml_constructs/access.py BucketAccessPolicy",
    "AWS::Lambda::Function": "ml_constructs/lambdas.py PythonFunction (DLQ, VPC, reserved concurrency, log group)",
    "AWS::SQS::Queue": "ml_constructs/events.py DeadLetterQueue",
    "AWS::Logs::LogGroup": "PlatformStack.log_retention and the stack's logs key (stacks/base.py)",
}
ACKNOWLEDGE_HOW = (
    "only if the finding is wrong for this resource: posture.checks.acknowledge(construct, '<pack>-<rule>', reason) "
    "on that construct, with a reason a security reviewer would accept"
)


@dataclass(frozen=True)
class Finding:
    pack: str
    rule: str
    severity: str
    path: str
    description: str
    # The CloudFormation type of the resource at ``path`` ("" when the path is not a resource).
    resource_type: str = ""

    @property
    def stack(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass
class Posture:
    stacks: list[str]
    findings: list[Finding] = field(default_factory=list)
    # (stack, construct path, rule id, reason)
    acknowledgments: list[tuple[str, str, str, str]] = field(default_factory=list)
    # The project's synth warnings (e.g. a profile without alarm subscribers).
    warnings: list[Finding] = field(default_factory=list)
    resources: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def findings_for(self, stack: str) -> list[Finding]:
        return [f for f in self.findings if f.stack == stack]


def _pack_of(rule: str) -> str:
    """The pack a rule id belongs to, spelled as the report names plugins."""
    rule = rule.removeprefix("Annotation::")
    for pack in PACK_NAMES:
        if rule.startswith(f"{pack}-"):
            return pack
    # CDK's built-in checks: "CloudFormation-Validate::W3010"
    return rule.split("::", 1)[0] if "::" in rule else rule.split("-", 1)[0]


def read_posture(outdir: str | Path) -> Posture:
    """Collect findings from the validation report and acknowledgments from stack metadata."""
    outdir = Path(outdir)
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = sorted(
        name for name, art in manifest.get("artifacts", {}).items() if art.get("type") == "aws:cloudformation:stack"
    )
    posture = Posture(stacks=stacks)
    types: dict[str, str] = {}
    for name in stacks:
        template_file = outdir / manifest["artifacts"][name].get("properties", {}).get("templateFile", "")
        if template_file.is_file():
            resources = json.loads(template_file.read_text()).get("Resources", {})
            posture.resources[name] = len(resources)
            for resource in resources.values():
                if path := resource.get("Metadata", {}).get("aws:cdk:path"):
                    types[path] = resource["Type"]
    report_file = outdir / REPORT_FILE
    if report_file.exists():
        report = json.loads(report_file.read_text())
        for plugin in report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    finding = Finding(
                        pack=plugin["pluginName"].replace(" ", "-"),
                        rule=violation["ruleName"],
                        severity=violation.get("severity", "error"),
                        path=construct["constructPath"],
                        description=violation.get("description", ""),
                        resource_type=types.get(construct["constructPath"], ""),
                    )
                    project = finding.rule.startswith(PROJECT_WARNING)
                    (posture.warnings if project else posture.findings).append(finding)
    for name in stacks:
        artifact = manifest["artifacts"][name]
        meta = dict(artifact.get("metadata", {}))
        if artifact.get("additionalMetadataFile"):
            meta.update(json.loads((outdir / artifact["additionalMetadataFile"]).read_text()))
        for path, entries in meta.items():
            for entry in entries:
                if entry.get("type") == ACK_METADATA:
                    for rule, reason in entry["data"].items():
                        rule = rule.removeprefix("Annotation::").removeprefix(f"{ML_PACK}::")
                        posture.acknowledgments.append((name, path, rule, reason))
    return posture


def fix_hints(finding: Finding) -> list[str]:
    """What to do about an unacknowledged finding: the compliant construct first, an acknowledgment last."""
    hints = []
    if construct := COMPLIANT_CONSTRUCTS.get(finding.resource_type):
        hints.append(f"fix: build this {finding.resource_type} with {construct}")
    else:
        hints.append("fix: change the resource so the rule passes (see the rule's description)")
    hints.append(f"else: {ACKNOWLEDGE_HOW}")
    return hints


def summary(posture: Posture) -> str:
    lines = ["Security posture (cdk-nag packs: " + ", ".join(PACK_NAMES) + ")"]
    by_pack_err = Counter(f.pack for f in posture.errors)
    by_pack_warn = Counter(f.pack for f in posture.findings if f.severity != "error")
    by_pack_ack = Counter(_pack_of(rule) for _, _, rule, _ in posture.acknowledgments)
    packs = list(PACK_NAMES) + sorted((set(by_pack_err) | set(by_pack_warn) | set(by_pack_ack)) - set(PACK_NAMES))
    lines.append(f"  {'pack':<24}{'errors':>8}{'warnings':>10}{'acknowledged':>14}")
    for pack in packs:
        lines.append(f"  {pack:<24}{by_pack_err[pack]:>8}{by_pack_warn[pack]:>10}{by_pack_ack[pack]:>14}")
    lines.append(f"  {'stack':<40}{'errors':>8}{'acknowledged':>14}{'resources':>11}")
    for stack in posture.stacks:
        errors = sum(1 for f in posture.findings_for(stack) if f.severity == "error")
        acks = sum(1 for s, *_ in posture.acknowledgments if s == stack)
        lines.append(f"  {stack:<40}{errors:>8}{acks:>14}{posture.resources.get(stack, 0):>11}")
    for f in posture.errors:
        lines.append(f"  UNACKNOWLEDGED {f.rule} at {f.path}: {f.description[:160]}")
        lines.extend(f"      {hint}" for hint in fix_hints(f))
    for f in posture.warnings:
        lines.append(f"  WARNING {f.description} ({f.path})")
    verdict = "FAIL" if posture.errors or not posture.stacks else "PASS"
    lines.append(f"Posture: {verdict} ({len(posture.errors)} unacknowledged errors, "
                 f"{len(posture.acknowledgments)} acknowledgments, {len(posture.stacks)} stacks)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)
    if not (Path(args.outdir) / "manifest.json").exists():
        print(f"Posture: FAIL (no cloud assembly in {args.outdir}; synth did not get that far)")
        return 1
    posture = read_posture(args.outdir)
    print(summary(posture))
    print(f"Templates: {args.outdir}/<stack>.template.json ({len(posture.stacks)} stacks, "
          f"{sum(posture.resources.values())} resources)")  # fmt: skip
    return 1 if posture.errors or not posture.stacks else 0


if __name__ == "__main__":
    sys.exit(main())
