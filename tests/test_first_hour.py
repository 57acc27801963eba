"""The first hour: make targets say what they do, pass only options the CDK CLI accepts, fail early."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from config import PROFILES
from config.profiles import missing_contacts

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text()
# The CLI's own option definitions (the same file its argument parser is generated from).
CLI = json.loads((ROOT / "node_modules" / "aws-cdk" / "lib" / "cli" / "cli-type-registry.json").read_text())


def cdk_calls() -> list[tuple[str, list[str]]]:
    """(subcommand, option tokens) of every `$(CDK) ...` call in the Makefile, continuation lines joined."""
    text = MAKEFILE.replace("\\\n", " ")
    calls = []
    for match in re.finditer(r"\$\(CDK\) ([a-z]+)([^;|&\n]*)", text):
        tokens = shlex.split(re.sub(r"\$\([A-Z_]+\)", "X", match.group(2)))
        calls.append((match.group(1), [t for t in tokens if t.startswith("-")]))
    return calls


def accepted(command: str) -> set[str]:
    options = {**CLI["globalOptions"], **CLI["commands"][command].get("options", {})}
    names = set()
    for name, spec in options.items():
        names.add(f"--{name}")
        aliases = spec.get("alias", [])
        for alias in [aliases] if isinstance(aliases, str) else aliases:
            names.add(f"-{alias}" if len(alias) == 1 else f"--{alias}")
    return names


def test_the_makefile_calls_diff_deploy_destroy_and_synth() -> None:
    assert {command for command, _ in cdk_calls()} >= {"synth", "diff", "deploy", "destroy"}


@pytest.mark.parametrize(("command", "options"), cdk_calls())
def test_every_cdk_option_the_makefile_passes_is_one_the_cli_accepts(command: str, options: list[str]) -> None:
    assert command in CLI["commands"]
    unknown = [o for o in options if o.split("=", 1)[0] not in accepted(command)]
    assert unknown == [], f"cdk {command} does not take {unknown}"


def test_cdk_diff_takes_no_all_flag() -> None:
    # The reason the Makefile's diff passes no --all: the CLI would refuse it.
    assert "--all" not in accepted("diff") and "--all" in accepted("deploy")


def test_every_target_says_what_it_does_in_make_help() -> None:
    phony = set(re.search(r"^\.PHONY:(.*?)(?<!\\)\n", MAKEFILE, re.M | re.S).group(1).replace("\\", " ").split())
    described = set(re.findall(r"^([a-z][a-z-]*):[^\n]*## ", MAKEFILE, re.M))
    assert phony - described == {"need-java"}
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert all(f"  {target} " in out for target in described)


def test_npx_cdk_before_make_install_says_to_run_it(tmp_path: Path) -> None:
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    result = subprocess.run(["sh", "-c", app], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "make install" in result.stderr


def test_a_target_that_needs_java_fails_early_without_it(tmp_path: Path) -> None:
    # A `java` on PATH that cannot run (what a missing runtime looks like), and no JAVA_HOME.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "java").write_text("#!/bin/sh\nexit 127\n")
    (fake_bin / "java").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "JAVA_HOME": str(tmp_path / "none")}
    result = subprocess.run(["make", "-s", "etl-local"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "needs a Java runtime" in result.stdout + result.stderr
    assert "make data: generating" not in result.stdout  # early: before the sample data is generated


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_make_deploy_refuses_a_data_keeping_profile_without_contacts(name: str) -> None:
    # CDK=true stands in for the CLI: nothing can reach an account whatever the outcome.
    result = subprocess.run(
        ["make", "-s", "deploy", f"PROFILE={name}", "CDK=true"], cwd=ROOT, capture_output=True, text=True
    )
    profile = PROFILES[name]
    refused = profile.retain_data and bool(missing_contacts(profile))
    assert (result.returncode != 0) is refused, result.stdout + result.stderr
    if refused:
        assert "FAIL" in result.stdout and all(key in result.stdout for key in missing_contacts(profile))
