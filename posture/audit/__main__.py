"""``python -m posture.audit --assembly dev=cdk.out/audit/dev ... --out audit-report``.

Runs every scanner on every synthesized profile, writes the report (Markdown, JSON,
SARIF) and exits 1 on any untriaged finding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from posture.audit import report, scanners
from posture.audit.practices import resolve
from posture.audit.templates import iam_documents, load_assembly, write_scan_copies
from posture.contracts.model import Assembly


def _run(tool: str, profile: str, outdir: Path, scan: list, templates: list, asm: Assembly, tools, out: Path) -> list:
    if tool == "cdk-nag":
        return scanners.cdk_nag(outdir, profile)
    if tool == "cfn-lint":
        return scanners.cfn_lint(scan, tools)
    if tool == "checkov":
        return scanners.checkov(scan, tools, out / "templates" / profile)
    if tool == "cfn-guard":
        return scanners.cfn_guard(scan, tools)
    return scanners.parliament(iam_documents(templates, asm), scan, tools)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", action="append", required=True, help="PROFILE=DIR of a synthesized assembly")
    parser.add_argument("--out", type=Path, default=Path("audit-report"))
    parser.add_argument("--venv", type=Path, default=Path(".venv-audit"))
    parser.add_argument("--guard", type=Path, default=Path("tools/audit/node_modules/@cdklabs/cdk-validator-cfnguard"))
    parser.add_argument("--skip", action="append", default=[], choices=scanners.TOOLS, help="leave a scanner out")
    args = parser.parse_args(argv)
    tools = scanners.Tools(venv=args.venv.resolve(), guard_package=args.guard.resolve())
    findings: list[scanners.Finding] = []
    profiles, all_templates, uris = [], [], {}
    for item in args.assembly:
        profile, outdir = item.split("=", 1)
        outdir = Path(outdir)
        profiles.append(profile)
        if not (outdir / "manifest.json").exists():
            print(f"audit: no cloud assembly for {profile} in {outdir}: synth did not get that far")
            return 1
        templates = load_assembly(outdir, profile)
        asm = Assembly(outdir)
        scan = write_scan_copies(templates, asm, args.out / "templates" / profile)
        all_templates += scan
        uris.update({(t.profile, t.stack): str(t.path) for t in scan})
        for tool in scanners.TOOLS:
            if tool not in args.skip and tool != "ml-pack":  # the ML pack's findings come with cdk-nag's
                print(f"audit: {profile}: {tool}", flush=True)
                findings += _run(tool, profile, outdir, scan, templates, asm, tools, args.out)
    report.write(args.out, findings, profiles, resolve(all_templates), uris)
    untriaged = [f for f in findings if not f.triaged]
    for f in untriaged:
        print(f"UNTRIAGED {f.tool} {f.rule} {f.profile}/{f.stack}/{f.resource}: {f.message[:160]}")
    print(
        f"Audit: {'FAIL' if untriaged else 'PASS'} ({len(untriaged)} untriaged findings); report in {args.out}/audit.md"
    )
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main())
