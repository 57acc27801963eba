"""The audit report: Markdown for people, JSON for tools, SARIF 2.1 (one run per tool) for code scanning."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from posture.audit.practices import Mapping, mappings
from posture.audit.scanners import TOOLS, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def counts(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """Per tool: findings, suppressed (triaged with a reason), untriaged."""
    out = {}
    for tool in TOOLS:
        mine = [f for f in findings if f.tool == tool]
        out[tool] = {
            "findings": len(mine),
            "suppressed": sum(f.triaged for f in mine),
            "untriaged": sum(not f.triaged for f in mine),
        }
    return out


def to_json(findings: list[Finding], profiles: list[str], resolved: dict[str, list[str]]) -> dict:
    return {
        "profiles": profiles,
        "counts": counts(findings),
        "counts_by_profile": {p: counts([f for f in findings if f.profile == p]) for p in profiles},
        "untriaged": [asdict(f) for f in findings if not f.triaged],
        "suppressions": [asdict(f) for f in findings if f.triaged],
        "mappings": [m.as_dict(resolved) for m in mappings()],
    }


def to_sarif(findings: list[Finding], template_uris: dict[tuple[str, str], str]) -> dict:
    runs = []
    for tool in TOOLS:
        mine = [f for f in findings if f.tool == tool]
        rules = sorted({f.rule for f in mine})
        results = []
        for f in mine:
            result = {
                "ruleId": f.rule,
                "ruleIndex": rules.index(f.rule),
                "level": _LEVEL.get(f.severity, "warning"),
                "message": {"text": f.message or f.rule},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": template_uris.get((f.profile, f.stack), f"{f.stack}.template.json")
                            }
                        },
                        "logicalLocations": [{"name": f.resource, "fullyQualifiedName": f"{f.stack}/{f.resource}"}],
                    }
                ],
                "properties": {"profile": f.profile, "stack": f.stack},
            }
            if f.triaged:
                result["suppressions"] = [{"kind": "inSource", "justification": f.reason}]
            results.append(result)
        help_uris = {f.rule: f.help_uri for f in mine if f.help_uri}
        runs.append(
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "rules": [{"id": r, **({"helpUri": help_uris[r]} if r in help_uris else {})} for r in rules],
                    }
                },
                "results": results,
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(findings: list[Finding], profiles: list[str], resolved: dict[str, list[str]]) -> str:
    c = counts(findings)
    untriaged = [f for f in findings if not f.triaged]
    lines = [
        "# Architecture audit",
        "",
        f"Profiles: {', '.join(profiles)}. Verdict: **{'FAIL' if untriaged else 'PASS'}** "
        f"({len(untriaged)} untriaged findings).",
        "",
        "Scanners read copies of the synthesized templates in which every `Fn::GetStackOutput` (a CDK",
        "cross-stack reference, which no scanner resolves) is replaced by the producer's output rendered as",
        "a string of the right shape; nothing else is changed.",
        "",
        "| tool | findings | suppressed with a reason | untriaged |",
        "| --- | ---: | ---: | ---: |",
    ]
    for tool, n in c.items():
        lines.append(f"| {tool} | {n['findings']} | {n['suppressed']} | {n['untriaged']} |")
    if untriaged:
        lines += ["", "## Untriaged findings", "", "| tool | rule | profile | stack | resource | message |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for f in untriaged:
            lines.append(
                f"| {f.tool} | {f.rule} | {f.profile} | {f.stack} | {_cell(f.resource)} | {_cell(f.message[:200])} |"
            )
    lines += ["", "## Practices and controls", "", "Each practice of the ML specialty guide, each control of the Security Hub AI",
              "security standard and each SageMaker rule of the AI/ML Config conformance packs, with what implements",
              "it here and the check that proves it.", ""]  # fmt: skip
    for group in ("ML specialty practice", "Security Hub control", "Config rule"):
        lines += [f"### {group}s", "", "| id | practice or control | applies | implemented by | proved by |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for m in mappings():
            if m.group == group:
                lines.append(_mapping_row(m, resolved))
        lines.append("")
    lines += [
        "## Suppressions",
        "",
        "| tool | rule | profile | stack | resource | reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    triaged = sorted({(f.tool, f.rule, f.profile, f.stack, f.resource, f.reason) for f in findings if f.triaged})
    for tool, rule, profile, stack, resource, reason in triaged:
        lines.append(f"| {tool} | {rule} | {profile} | {stack} | {_cell(resource)} | {_cell(reason or '')} |")
    return "\n".join(lines) + "\n"


def _mapping_row(m: Mapping, resolved: dict[str, list[str]]) -> str:
    if not m.applies:
        return f"| {m.id} | {_cell(m.title)} | no: {_cell(m.why_not)} | | |"
    found = resolved.get(m.id, [])
    where = ", ".join(sorted(set(found))[:8]) + (f" (+{len(set(found)) - 8})" if len(set(found)) > 8 else "")
    return f"| {m.id} | {_cell(m.title)} | yes | {_cell(m.implemented_by)}: {_cell(where or 'NONE FOUND')} | {_cell(m.proved_by)} |"


def write(
    outdir: Path,
    findings: list[Finding],
    profiles: list[str],
    resolved: dict[str, list[str]],
    template_uris: dict[tuple[str, str], str],
) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "audit.json").write_text(json.dumps(to_json(findings, profiles, resolved), indent=1))
    (outdir / "audit.sarif").write_text(json.dumps(to_sarif(findings, template_uris), indent=1))
    (outdir / "audit.md").write_text(to_markdown(findings, profiles, resolved))
    # Counts alone, for the README's before/after table.
    print(json.dumps(Counter({t: n["untriaged"] for t, n in counts(findings).items()})))
