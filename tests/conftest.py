"""Synthesize each profile once per test session, the way `make synth` does.

Synth runs through the pinned CDK CLI with AWS credentials removed from the
environment and, where the kernel allows it, inside a network namespace with
no network at all: every test below reads what a hermetic synth produced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from config.toolchain import project_node, use_project_node
from posture.report import Posture, read_posture

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
PROFILES = ("dev", "prod")
# `make test DATASET=NAME`: every synth takes that data-set spec (`-c dataset=NAME`) and the tests read
# the same spec (pipelines.data.spec.active() reads DATASET); unset, each profile's own (churn).
DATASET_CONTEXT = (f"dataset={os.environ['DATASET']}",) if os.environ.get("DATASET") else ()

use_project_node()

# Property tests (marked `property`) run a quick profile in `make test` and at
# least 1,000 generated cases per claim in `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
settings.register_profile(
    "quick", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "fuzz",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def offline_prefix() -> list[str]:
    """`unshare -rn` where the kernel lets us make a network namespace, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def hermetic_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    node = project_node()
    env.update(
        CDK_DISABLE_CLI_TELEMETRY="true",
        AWS_EC2_METADATA_DISABLED="true",
        JSII_NODE=str(node),
        PATH=os.pathsep.join([str(node.parent), str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def run_synth(
    outdir: Path, *context: str, offline: bool = True, app: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`cdk synth` of the repo's app (or ``app``), offline where the kernel allows it."""
    args = [str(CDK), "synth", "--quiet", "--output", str(outdir)]
    if app:
        args += ["--app", app]
    for item in context:
        args += ["-c", item]
    prefix = offline_prefix() if offline else []
    return subprocess.run(prefix + args, cwd=ROOT, env=hermetic_env(), capture_output=True, text=True, timeout=300)


def app_with_project_flags(**context: object):
    """An in-process App with cdk.json's feature flags, for shape tests without the packs."""
    import aws_cdk as cdk

    flags = json.loads((ROOT / "cdk.json").read_text())["context"]
    return cdk.App(context={**flags, **context})


@dataclass
class Assembly:
    profile: str
    outdir: Path
    result: subprocess.CompletedProcess[str]
    offline: bool

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.outdir / "manifest.json").read_text())

    @cached_property
    def posture(self) -> Posture:
        return read_posture(self.outdir)

    def stack_name(self, suffix: str) -> str:
        return f"mlops-{self.profile}-{suffix}"

    def template(self, suffix: str) -> dict:
        return json.loads((self.outdir / f"{self.stack_name(suffix)}.template.json").read_text())

    def resources(self, suffix: str, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.template(suffix)["Resources"].items() if v["Type"] == cfn_type}


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assembly]:
    out = {}
    offline = bool(offline_prefix())
    for profile in PROFILES:
        outdir = tmp_path_factory.mktemp(f"cdk-{profile}")
        result = run_synth(outdir, f"profile={profile}", *DATASET_CONTEXT)
        assert (outdir / "manifest.json").exists(), f"synth of {profile} wrote nothing:\n{result.stderr[-4000:]}"
        out[profile] = Assembly(profile, outdir, result, offline)
    return out


@pytest.fixture(scope="session")
def dev(assemblies: dict[str, Assembly]) -> Assembly:
    return assemblies["dev"]


@pytest.fixture(scope="session")
def prod(assemblies: dict[str, Assembly]) -> Assembly:
    return assemblies["prod"]


@pytest.fixture(params=PROFILES)
def assembly(request: pytest.FixtureRequest, assemblies: dict[str, Assembly]) -> Assembly:
    return assemblies[request.param]


@pytest.fixture(scope="session")
def dataset():
    """The data-set spec under test (env DATASET, default churn): what the synthesized stacks describe."""
    from pipelines.data.spec import active

    return active()


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every test that runs the Glue job's logic."""
    from pipelines.glue.churn_etl import spark_session

    session = spark_session("tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def curated_dir(spark, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ETL's curated Parquet for 8,000 generated events: what the training pipeline reads."""
    from pipelines.data.generate import write
    from pipelines.glue.churn_etl import run_local

    work = tmp_path_factory.mktemp("etl")
    raw = write(work / "raw.jsonl", 8_000, seed=21)
    run_local(str(raw), str(work / "out"), spark=spark)
    return work / "out" / "curated"


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials and region for moto, so no test can reach a real account. Returns the region."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return "eu-west-1"


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    aws_request_id: str = "req-12345678"


@pytest.fixture
def lambda_context() -> LambdaContext:
    """What Powertools reads from the Lambda context object."""
    return LambdaContext()
