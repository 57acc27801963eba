"""Synth is hermetic: no credentials, no network, no lookups, a supported Node."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from config import PROFILES
from config.toolchain import project_node
from tests.conftest import ROOT, Assembly, hermetic_env


def test_synth_ran_without_credentials_or_network(assembly: Assembly) -> None:
    if not assembly.offline:
        pytest.skip(
            "this kernel cannot create a network namespace (unshare -rn); synth ran with credentials unset only"
        )
    assert assembly.result.returncode == 0, assembly.result.stderr[-4000:]


def test_hermetic_env_has_no_aws_credentials() -> None:
    env = hermetic_env()
    assert not [k for k in env if k.startswith("AWS_") and k != "AWS_EC2_METADATA_DISABLED"]


def test_synth_records_no_context_lookup(assembly: Assembly) -> None:
    assert "missing" not in assembly.manifest
    assert not (ROOT / "cdk.context.json").exists()
    for name in assembly.posture.stacks:
        env = assembly.manifest["artifacts"][name]["environment"]
        assert env.endswith(f"/{PROFILES[assembly.profile].region}")


def test_synth_prints_no_node_end_of_life_banner(assembly: Assembly) -> None:
    output = assembly.result.stdout + assembly.result.stderr
    assert "end-of-life" not in output and "not supported anymore" not in output


def test_project_node_is_a_supported_release() -> None:
    version = subprocess.run([str(project_node()), "--version"], capture_output=True, text=True).stdout
    assert int(version.lstrip("v").split(".")[0]) in (22, 24)


def test_dependencies_are_pinned() -> None:
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-lambda.txt", "requirements-sdk.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-r "):
                assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z0-9_,\-]+\])?==[\w.]+", line), (
                    f"{name}: {line} is not pinned"
                )
    package = json.loads((ROOT / "package.json").read_text())
    assert re.fullmatch(r"2\.\d+\.\d+", package["devDependencies"]["aws-cdk"])
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == package["devDependencies"]["aws-cdk"]
    constraints = Path(ROOT / "constraints.txt").read_text()
    assert "aws-cdk-lib==2.275." in constraints and "cdk-nag==3." in constraints
