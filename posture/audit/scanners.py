"""Run each scanner on the scan copies of a profile's templates; one finding list for all.

A finding is triaged when it carries a suppression reason (read from the resource's
metadata, see ``posture.suppressions``, or a cdk-nag acknowledgment). cfn-lint and checkov
apply their metadata themselves; cfn-guard's Control Tower rules and parliament do not
read any, so the suppressions are applied here, from the same metadata.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from posture import AUDIT_REASONS as REASONS
from posture import ML_PACK, PACK_NAMES
from posture.audit.templates import IamDocument, Template
from posture.report import read_posture

TOOLS = ("cdk-nag", "ml-pack", "cfn-lint", "checkov", "cfn-guard", "parliament")


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    profile: str
    stack: str
    resource: str
    message: str
    severity: str = "error"
    # Why the finding is accepted; None while it is untriaged.
    reason: str | None = None
    # The documentation or rule-description link the scanner gives, if any.
    help_uri: str = ""

    @property
    def triaged(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Tools:
    """Where the scanners are installed."""

    venv: Path
    guard_package: Path

    @property
    def guard(self) -> Path:
        arch = os.uname().machine
        return (
            self.guard_package
            / "bin"
            / "ubuntu"
            / ("aarch64" if arch in ("aarch64", "arm64") else "x86_64")
            / "cfn-guard"
        )

    @property
    def guard_rules(self) -> Path:
        return self.guard_package / "rules" / "control-tower" / "cfn-guard"


def _env() -> dict[str, str]:
    # Checkov: no platform download, no version check, no telemetry.
    return {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_SKIP_VERSION_CHECK": "TRUE", "ANONYMIZED": "TRUE"}


def _run(args: list[str], stdin: str | None = None) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=_env(), timeout=1800)
    if not result.stdout.strip():
        raise RuntimeError(f"{args[0]} printed nothing (exit {result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def reasons_of(resource: dict) -> dict[str, str]:
    return (resource.get("Metadata") or {}).get(REASONS, {})


def _resource_of(template: Template, logical: str) -> dict:
    return template.resources.get(logical, {})


def cdk_nag(outdir: Path, profile: str) -> list[Finding]:
    """The four standard packs and the ML pack, from the assembly's validation report."""
    posture = read_posture(outdir)
    out = []
    for f in posture.findings:
        tool = "ml-pack" if f.pack == ML_PACK else "cdk-nag"
        stack = f.stack
        out.append(Finding(tool, f.rule, profile, stack, f.path, f.description, f.severity))
    for stack, path, rule, reason in posture.acknowledgments:
        tool = "ml-pack" if rule.startswith(f"{ML_PACK}-") else "cdk-nag"
        out.append(Finding(tool, rule, profile, stack, path, "acknowledged", "error", reason))
    return out


def _check_reasons(templates: list[Template], tool: str, native: Callable[[dict], list[str]]) -> list[Finding]:
    """A native suppression without a reason is itself an untriaged finding."""
    out = []
    for t in templates:
        for logical, res in t.resources.items():
            reasons = reasons_of(res)
            for rule in native(res.get("Metadata") or {}):
                if f"{tool}:{rule}" not in reasons:
                    out.append(
                        Finding(tool, rule, t.profile, t.stack, logical, "suppressed in metadata without a reason")
                    )
    return out


def cfn_lint(templates: list[Template], tools: Tools) -> list[Finding]:
    by_path = {str(t.path): t for t in templates}
    raw = json.loads(_run([str(tools.venv / "bin" / "cfn-lint"), "--format", "json", "--", *by_path]))
    out = []
    for item in raw:
        t = by_path[item["Filename"]]
        path = item["Location"]["Path"]
        logical = path[1] if len(path) > 1 and path[0] == "Resources" else "/".join(map(str, path))
        level = {"Error": "error", "Warning": "warning"}.get(item["Level"], "note")
        rule = item["Rule"]["Id"]
        out.append(Finding("cfn-lint", rule, t.profile, t.stack, logical, item["Message"], level,
                           help_uri=item["Rule"].get("Source", "")))  # fmt: skip
    # cfn-lint drops what ignore_checks names; list those suppressions with their reasons.
    for t in templates:
        for logical, res in t.resources.items():
            ignored = (res.get("Metadata") or {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
            for rule in ignored:
                reason = reasons_of(res).get(f"cfn-lint:{rule}")
                if reason:
                    out.append(Finding("cfn-lint", rule, t.profile, t.stack, logical, "suppressed", "warning", reason))
    out += _check_reasons(
        templates, "cfn-lint", lambda m: m.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    )
    return out


def checkov(templates: list[Template], tools: Tools, scan_dir: Path) -> list[Finding]:
    args = [str(tools.venv / "bin" / "checkov"), "-d", str(scan_dir), "--framework", "cloudformation",
            "-o", "json", "--skip-download", "--compact"]  # fmt: skip
    raw = json.loads(_run(args))
    reports = raw if isinstance(raw, list) else [raw]
    by_name = {t.path.name: t for t in templates}
    out = []
    for report in reports:
        results = report.get("results", {})
        for kind in ("failed_checks", "skipped_checks"):
            for check in results.get(kind, []):
                t = by_name[Path(check["file_path"]).name]
                logical = check["resource"].split(".", 1)[-1]
                reason = None
                if kind == "skipped_checks":
                    reason = check.get("check_result", {}).get("suppress_comment") or None
                out.append(Finding("checkov", check["check_id"], t.profile, t.stack, logical, check["check_name"],
                                   "error", reason, check.get("guideline") or ""))  # fmt: skip
    return out


_CT_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]:\s*([^\n]+)")
_RESOURCE_PATH = re.compile(r"^/Resources/([^/]+)")


def _walk(node: object, paths: set[str], messages: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "path" and isinstance(v, str) and (m := _RESOURCE_PATH.match(v)):
                paths.add(m.group(1))
            elif k == "custom_message" and isinstance(v, str):
                messages.append(v)
            else:
                _walk(v, paths, messages)
    elif isinstance(node, list):
        for v in node:
            _walk(v, paths, messages)


def cfn_guard(templates: list[Template], tools: Tools) -> list[Finding]:
    """The Control Tower proactive controls; ``Metadata.guard.SuppressedRules`` names the CT id or rule name."""
    rules = sorted(str(p) for p in tools.guard_rules.rglob("*.guard"))
    by_path = {str(t.path): t for t in templates}
    out = []
    for path, t in by_path.items():
        args = [str(tools.guard), "validate", *[a for r in rules for a in ("--rules", r)], "--data", path,
                "--output-format", "json", "--show-summary", "none", "--structured"]  # fmt: skip
        for result in json.loads(_run(args)):
            for check in result.get("not_compliant") or []:
                rule_name = check.get("Rule", {}).get("name", "?")
                paths: set[str] = set()
                messages: list[str] = []
                _walk(check, paths, messages)
                ct = next((m for msg in messages if (m := _CT_ID.search(msg))), None)
                rule = ct.group(1) if ct else rule_name
                title = ct.group(2).strip() if ct else rule_name
                for logical in sorted(paths):
                    res = _resource_of(t, logical)
                    suppressed = (res.get("Metadata") or {}).get("guard", {}).get("SuppressedRules", [])
                    reason = None
                    if rule in suppressed or rule_name in suppressed:
                        key = rule if rule in suppressed else rule_name
                        reason = reasons_of(res).get(f"cfn-guard:{key}")
                    out.append(Finding("cfn-guard", rule, t.profile, t.stack, logical, title, "error", reason))
    out += _check_reasons(templates, "cfn-guard", lambda m: m.get("guard", {}).get("SuppressedRules", []))
    return out


def parliament(docs: list[IamDocument], templates: list[Template], tools: Tools) -> list[Finding]:
    script = Path(__file__).with_name("parliament_check.py")
    items = [{"id": i, "document": d.document} for i, d in enumerate(docs)]
    raw = json.loads(_run([str(tools.venv / "bin" / "python"), str(script)], stdin=json.dumps(items)))
    by_stack = {t.stack: t for t in templates}
    out = []
    seen = set()
    for item in raw:
        d = docs[item["id"]]
        res = _resource_of(by_stack[d.stack], d.resource)
        ignored = (res.get("Metadata") or {}).get("parliament", {}).get("ignore", [])
        reason = reasons_of(res).get(f"parliament:{item['issue']}") if item["issue"] in ignored else None
        detail = item["detail"] if isinstance(item["detail"], str) else json.dumps(item["detail"], default=str)
        message = f"{item['title']}: {detail}"[:400]
        key = (d.stack, d.resource, item["issue"], message)
        if key in seen:
            continue
        seen.add(key)
        severity = {"HIGH": "error", "CRITICAL": "error", "MEDIUM": "warning"}.get(item["severity"], "note")
        out.append(Finding("parliament", item["issue"], d.profile, d.stack, d.resource, message, severity, reason))
    out += _check_reasons(templates, "parliament", lambda m: m.get("parliament", {}).get("ignore", []))
    return out


def pack_names() -> tuple[str, ...]:
    return (*PACK_NAMES, ML_PACK)
