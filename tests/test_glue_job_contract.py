"""The Glue entry point, run the way AWS Glue 5 runs it, on the job the data-lake stack synthesizes.

``glue_main`` gets the argv Glue builds (``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME``,
``--SECURITY_CONFIGURATION``, then the job's synthesized ``DefaultArguments``, S3 URLs
mapped to local folders) and resolves it with AWS Glue 5.0's own ``getResolvedOptions``
(vendored in tests/vendor/awsglue). Only what cannot exist here is a double: the
GlueContext (its reader and sink), DynamicFrame, the JVM side of ``Job`` and
EvaluateDataQuality. Everything in between is the real job on local Spark.
"""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from pipelines.data.generate import generate
from pipelines.glue import curate
from tests.conftest import Assembly

VENDORED_AWSGLUE = Path(__file__).parent / "vendor" / "awsglue"
ACCOUNT, REGION = "123456789012", "eu-west-1"
RUN_ID = "jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


# --- the synthesized job ------------------------------------------------------------------------


def _only(template: dict, cfn_type: str) -> tuple[str, dict]:
    ((logical_id, resource),) = [(k, v) for k, v in template["Resources"].items() if v["Type"] == cfn_type]
    return logical_id, resource["Properties"]


def _resolve(value: Any) -> str:
    """An intrinsic as CloudFormation would resolve it; a bucket's Ref becomes its logical id."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(p) for p in parts)
    if "Fn::Sub" in value:
        return value["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
    if "Ref" in value:
        return {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION}.get(value["Ref"], value["Ref"].lower())
    raise AssertionError(f"the job's arguments use an intrinsic Glue would not see resolved here: {value}")


@dataclass
class SynthesizedJob:
    name: str
    arguments: dict[str, str]  # DefaultArguments, resolved, S3 URLs mapped to local folders
    security_configuration: str
    ruleset_name: str
    ruleset: str
    database: str
    table: str
    partition_keys: list[str]

    def argv(self) -> list[str]:
        """What Glue passes the script: its run identity, then every argument of the run."""
        argv = ["/tmp/glue/curate.py", "--JOB_ID", "j_0123456789abcdef", "--JOB_RUN_ID", RUN_ID]
        argv += ["--JOB_NAME", self.name, "--SECURITY_CONFIGURATION", self.security_configuration]
        for key, value in self.arguments.items():
            argv += [key, value]
        return argv

    def path(self, key: str) -> Path:
        return Path(self.arguments[key])


def synthesized_job(template: dict, local_s3: Path) -> SynthesizedJob:
    job_id, job = _only(template, "AWS::Glue::Job")
    _, ruleset = _only(template, "AWS::Glue::DataQualityRuleset")
    _, table = _only(template, "AWS::Glue::Table")
    arguments = {}
    for key, value in job["DefaultArguments"].items():
        resolved = _resolve(value)
        if resolved.startswith("s3://"):
            resolved = str(local_s3 / resolved.removeprefix("s3://"))
        arguments[key] = resolved
    return SynthesizedJob(
        name=job.get("Name", job_id),
        arguments=arguments,
        security_configuration=job["SecurityConfiguration"],
        ruleset_name=ruleset["Name"],
        ruleset=ruleset["Ruleset"],
        database=table["DatabaseName"],
        table=table["TableInput"]["Name"],
        partition_keys=[k["Name"] for k in table["TableInput"]["PartitionKeys"]],
    )


# --- doubles for what only exists on AWS Glue ---------------------------------------------------


class FakeDynamicFrame:
    def __init__(self, df: DataFrame, name: str = "") -> None:
        self._df, self.name = df, name

    @classmethod
    def fromDF(cls, df: DataFrame, glue_ctx: Any, name: str) -> FakeDynamicFrame:
        return cls(df, name)

    def toDF(self) -> DataFrame:
        return self._df


class FakeCollection(dict):
    def select(self, key: str, transformation_ctx: str = "") -> FakeDynamicFrame:
        return self[key]


class SelectFromCollection:
    @staticmethod
    def apply(dfc: FakeCollection, key: str, transformation_ctx: str = "") -> FakeDynamicFrame:
        return dfc.select(key)


@dataclass
class GlueRuntime:
    """What the doubles saw: reads, sinks, evaluations, the JVM job's init and commit calls."""

    spark: SparkSession
    failing_rules: set[str] = field(default_factory=set)
    reads: list[dict] = field(default_factory=list)
    sinks: list[FakeSink] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    job_inits: list[tuple[str, dict]] = field(default_factory=list)
    commits: int = 0


class FakeSink:
    def __init__(self, options: dict) -> None:
        self.options, self.format, self.catalog, self.frames = options, None, None, []

    def setFormat(self, fmt: str, **options: Any) -> None:
        self.format = (fmt, options)

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None) -> None:
        self.catalog = (catalogDatabase, catalogTableName)

    def writeFrame(self, frame: FakeDynamicFrame) -> None:
        self.frames.append(frame)
        frame.toDF().write.mode("append").partitionBy(*self.options["partitionKeys"]).parquet(self.options["path"])


def install_glue_doubles(runtime: GlueRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """``awsglue`` = the vendored utils.py and job.py plus doubles; ``awsgluedq`` = a double."""

    class JvmJob:
        def init(self, name: str, _jsession: Any, args: dict) -> None:
            runtime.job_inits.append((name, dict(args)))

        def commit(self) -> None:
            runtime.commits += 1

    class GlueContext:
        def __init__(self, sc: Any) -> None:
            self.spark_session = self.sparkSession = runtime.spark
            self._jvm = types.SimpleNamespace(Job=JvmJob())
            self.create_dynamic_frame = types.SimpleNamespace(from_options=self._from_options)

        def _from_options(self, connection_type, connection_options, format, format_options, transformation_ctx=""):
            runtime.reads.append(
                dict(connection_type=connection_type, connection_options=connection_options, format=format,
                     format_options=format_options, transformation_ctx=transformation_ctx)
            )  # fmt: skip
            paths = [p for p in connection_options["paths"] if Path(p).exists() and any(Path(p).rglob("*.*"))]
            if not paths:
                return FakeDynamicFrame(runtime.spark.createDataFrame([], StructType([])))
            # Glue's CSV options, in Spark's words: quoteChar -1 turns quoting off.
            reader = runtime.spark.read.option("sep", format_options["separator"]).option("header", "false")
            reader = reader.option("quote", "" if format_options["quoteChar"] == -1 else format_options["quoteChar"])
            reader = reader.option("recursiveFileLookup", str(connection_options.get("recurse", False)).lower())
            return FakeDynamicFrame(reader.csv(paths))

        def getSink(self, **options: Any) -> FakeSink:
            sink = FakeSink(options)
            runtime.sinks.append(sink)
            return sink

    class EvaluateDataQuality:
        def process_rows(self, frame, ruleset, publishing_options, additional_options=None):
            runtime.evaluations.append(dict(frame=frame, ruleset=ruleset, publishing_options=publishing_options))
            rules = [r.strip().rstrip(",") for r in ruleset.strip().removeprefix("Rules = [").rstrip("]").splitlines()]
            outcomes = [(r, "Failed" if r in runtime.failing_rules else "Passed") for r in rules if r]
            rule_outcomes = runtime.spark.createDataFrame(outcomes, "Rule string, Outcome string")
            return FakeCollection(ruleOutcomes=FakeDynamicFrame(rule_outcomes), rowLevelOutcomes=frame)

    package = types.ModuleType("awsglue")
    package.__path__ = [str(VENDORED_AWSGLUE)]  # awsglue.utils and awsglue.job load from the vendored files
    doubles = {
        "awsglue.context": {"GlueContext": GlueContext},
        "awsglue.dynamicframe": {"DynamicFrame": FakeDynamicFrame},
        "awsglue.transforms": {"SelectFromCollection": SelectFromCollection},
        "awsgluedq": {},
        "awsgluedq.transforms": {"EvaluateDataQuality": EvaluateDataQuality},
    }
    monkeypatch.setitem(sys.modules, "awsglue", package)
    for name, members in doubles.items():
        module = types.ModuleType(name)
        module.__dict__.update(members)
        monkeypatch.setitem(sys.modules, name, module)


def _awsglue_modules() -> list[str]:
    return [m for m in sys.modules if m.split(".")[0] in ("awsglue", "awsgluedq")]


@pytest.fixture
def glue(spark, monkeypatch: pytest.MonkeyPatch):
    assert not _awsglue_modules(), "awsglue must not be importable outside these tests"
    runtime = GlueRuntime(spark=spark)
    install_glue_doubles(runtime, monkeypatch)
    yield runtime
    for name in _awsglue_modules():  # the vendored modules imported during the test
        sys.modules.pop(name)


@pytest.fixture
def job(dev: Assembly, tmp_path: Path) -> SynthesizedJob:
    return synthesized_job(dev.template("data-lake"), tmp_path / "s3")


def run_as_glue(job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch) -> None:
    """Glue runs the script as __main__ with the run's arguments in sys.argv."""
    monkeypatch.setattr(sys, "argv", job.argv())
    runpy.run_path(curate.__file__, run_name="__main__")


def land_raw_events(job: SynthesizedJob, rows: int) -> list[str]:
    lines = list(generate(rows, seed=5))
    folder = job.path("--raw_path") / "2026" / "03" / "01"
    folder.mkdir(parents=True)
    (folder / "events-0001.jsonl").write_text("\n".join(lines) + "\n")
    return lines


# --- the contract -------------------------------------------------------------------------------


def logged_summary(capsys: pytest.CaptureFixture[str]) -> dict:
    """The run summary: one JSON line on stdout (a CloudWatch metric filter counts its rejects)."""
    (line,) = [x for x in capsys.readouterr().out.splitlines() if curate.SUMMARY_EVENT in x]
    summary = json.loads(line)
    assert list(summary) == list(curate.SUMMARY_KEYS) and summary["event"] == curate.SUMMARY_EVENT
    return summary


def test_glue_main_runs_on_the_synthesized_job_arguments(
    glue: GlueRuntime, job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = land_raw_events(job, 400)

    run_as_glue(job, monkeypatch)

    (name, args), = glue.job_inits  # fmt: skip
    assert name == job.name and args["JOB_RUN_ID"] == RUN_ID
    assert args["job_bookmark_option"] == job.arguments["--job-bookmark-option"] == "job-bookmark-enable"
    (read,) = glue.reads
    assert read["connection_options"]["paths"] == [job.arguments["--raw_path"]]
    assert read["transformation_ctx"], "a bookmarked source needs a transformation_ctx"

    (evaluation,) = glue.evaluations
    assert evaluation["ruleset"] == job.ruleset
    assert evaluation["publishing_options"]["dataQualityEvaluationContext"] == job.ruleset_name

    (sink,) = glue.sinks
    assert sink.options["path"] == job.arguments["--curated_path"]
    assert sink.options["enableUpdateCatalog"] is True and sink.options["transformation_ctx"]
    assert sink.options["partitionKeys"] == job.partition_keys
    assert sink.catalog == (job.database, job.table)
    assert sink.format[0] == "glueparquet"
    (frame,) = sink.frames
    assert frame is evaluation["frame"], "what was checked is what was written"

    spark = glue.spark
    curated = spark.read.parquet(job.arguments["--curated_path"]).count()
    rejects = spark.read.json(str(job.path("--rejects_path") / f"run_id={RUN_ID}")).count()
    assert curated > 0 and rejects > 0 and curated + rejects == len(lines)
    (stats_file,) = (job.path("--stats_path") / f"run_id={RUN_ID}").glob("part-*")
    stats = json.loads(stats_file.read_text())
    assert stats["run_id"] == RUN_ID
    assert (stats["input_rows"], stats["curated_rows"], stats["rejected_rows"]) == (len(lines), curated, rejects)
    logged = logged_summary(capsys)
    assert (logged["input_rows"], logged["curated_rows"], logged["rejected_rows"]) == (len(lines), curated, rejects)
    assert logged["run_id"] == RUN_ID and sum(logged["rejects_by_kind"].values()) == rejects
    assert glue.commits == 1


def test_a_batch_with_no_valid_row_writes_its_rejects_and_commits(
    glue: GlueRuntime, job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing to check, nothing curated: the rejects still land, so the bookmark may move on."""
    lines = ["{", "[]", '{"unknown": 1}', "not json"]
    folder = job.path("--raw_path") / "2026" / "03" / "01"
    folder.mkdir(parents=True)
    (folder / "events-0001.jsonl").write_text("\n".join(lines) + "\n")

    run_as_glue(job, monkeypatch)

    assert glue.evaluations == []
    (sink,) = glue.sinks
    assert [frame.toDF().count() for frame in sink.frames] == [0]
    rejects = glue.spark.read.json(str(job.path("--rejects_path") / f"run_id={RUN_ID}"))
    assert sorted(r["raw"] for r in rejects.collect()) == sorted(lines)
    logged = logged_summary(capsys)
    assert (logged["input_rows"], logged["curated_rows"], logged["rejected_rows"]) == (4, 0, 4)
    assert glue.commits == 1


def test_a_failed_rule_writes_nothing_and_keeps_the_bookmark(
    glue: GlueRuntime, job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    land_raw_events(job, 200)
    glue.failing_rules = {next(r.strip().rstrip(",") for r in job.ruleset.splitlines() if "IsComplete" in r)}

    with pytest.raises(RuntimeError, match=re.escape(next(iter(glue.failing_rules)))):
        run_as_glue(job, monkeypatch)

    assert len(glue.evaluations) == 1
    assert glue.sinks == []
    for key in ("--curated_path", "--rejects_path", "--stats_path"):
        assert not job.path(key).exists(), key
    assert glue.commits == 0


def test_a_run_without_new_files_commits_and_writes_nothing(
    glue: GlueRuntime, job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_as_glue(job, monkeypatch)
    assert logged_summary(capsys)["input_rows"] == 0

    assert glue.evaluations == [] and glue.sinks == []
    assert not job.path("--rejects_path").exists() and not job.path("--stats_path").exists()
    assert glue.commits == 1


def test_a_run_without_its_run_id_fails_before_reading(
    glue: GlueRuntime, job: SynthesizedJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = job.argv()
    del argv[argv.index("--JOB_RUN_ID") : argv.index("--JOB_RUN_ID") + 2]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(RuntimeError, match="JOB_RUN_ID"):
        runpy.run_path(curate.__file__, run_name="__main__")
    assert glue.reads == [] and glue.commits == 0


# --- what CloudFormation and Glue 5 require of the job's definition -----------------------------

# Job parameters AWS Glue 5.0 documents ("Using job parameters in AWS Glue jobs"). Continuous
# logging (--enable-continuous-cloudwatch-log and --continuous-log-*) is for Glue 4.0 and
# earlier: Glue 5.0 logs every job in real time to /aws-glue/jobs/error and /aws-glue/jobs/output.
GLUE_5_PARAMETERS = {
    "--job-bookmark-option", "--enable-metrics", "--enable-observability-metrics", "--enable-glue-datacatalog",
    "--extra-py-files", "--TempDir", "--enable-job-insights", "--enable-spark-ui", "--spark-event-logs-path",
    "--additional-python-modules", "--extra-files", "--extra-jars", "--enable-auto-scaling",
    "--custom-logGroup-prefix", "--custom-logStream-prefix",
}  # fmt: skip
GLUE_4_AND_EARLIER = {
    "--enable-continuous-cloudwatch-log", "--enable-continuous-log-filter", "--continuous-log-logGroup",
    "--continuous-log-logStreamPrefix", "--continuous-log-conversionPattern",
}  # fmt: skip


def test_every_job_argument_is_a_glue_5_parameter_or_one_the_script_reads(assembly: Assembly) -> None:
    _, job = _only(assembly.template("data-lake"), "AWS::Glue::Job")
    assert job["GlueVersion"] == "5.0"
    arguments = set(job["DefaultArguments"])
    assert not arguments & GLUE_4_AND_EARLIER
    script_needs = {f"--{name}" for name in curate.JOB_ARGUMENTS if name != "JOB_NAME"}
    script_reads = script_needs | {f"--{name}" for name in curate.OPTIONAL_ARGUMENTS}
    assert script_needs <= arguments - GLUE_5_PARAMETERS <= script_reads
    for flag in ("--enable-metrics", "--enable-observability-metrics", "--enable-glue-datacatalog"):
        assert job["DefaultArguments"][flag] == "true", flag


def test_the_spec_module_ships_as_a_zip_the_script_can_import(dev: Assembly, tmp_path: Path) -> None:
    _, job = _only(dev.template("data-lake"), "AWS::Glue::Job")
    url = _resolve(job["DefaultArguments"]["--extra-py-files"])
    assert "," not in url and url.endswith(".zip")
    assets = json.loads((dev.outdir / f"{dev.stack_name('data-lake')}.assets.json").read_text())["files"]
    (source,) = [
        a["source"] for a in assets.values() if any(url.endswith(d["objectKey"]) for d in a["destinations"].values())
    ]
    staged = dev.outdir / source["path"]
    assert source["packaging"] == "zip"
    shipped = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert "spec.py" in shipped and {"datasets/churn.json", "datasets/breast_cancer.json"} <= set(shipped)
    assert set(shipped) <= {"spec.py"} | {f"datasets/{p.name}" for p in (staged / "datasets").iterdir()}
    archive = tmp_path / "spec.zip"  # what the CDK publishes: the staged folder, zipped
    with zipfile.ZipFile(archive, "w") as zf:
        for name in shipped:
            zf.write(staged / name, name)
    # Glue puts the zip on the Python path; the script imports ``spec`` there and loads its --dataset.
    dataset = job["DefaultArguments"]["--dataset"]
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import spec; print(spec.__file__, spec.load(sys.argv[2]).name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(archive), dataset], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    where, name = result.stdout.split()
    assert where.startswith(str(archive)) and name == dataset


def _policies_of(template: dict, role_id: str) -> set[str]:
    """Every policy that gives ``role_id`` its permissions, however it is attached."""
    resources = template["Resources"]
    arns = resources[role_id]["Properties"].get("ManagedPolicyArns", [])
    attached = {a["Ref"] for a in arns if isinstance(a, dict) and "Ref" in a}
    for policy_id, policy in resources.items():
        kind, roles = policy["Type"], policy.get("Properties", {}).get("Roles", [])
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {"Ref": role_id} in roles:
            attached.add(policy_id)
    return attached


def _roles_used_by(template: dict, properties: dict) -> set[str]:
    referenced = re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)", "Arn"\]', json.dumps(properties))
    return {r for r in referenced if template["Resources"][r]["Type"] == "AWS::IAM::Role"}


@pytest.mark.parametrize("cfn_type", ["AWS::Glue::Job", "AWS::Glue::Crawler", "AWS::Events::Rule"])
def test_what_uses_a_role_waits_for_its_permissions(assembly: Assembly, cfn_type: str) -> None:
    """CloudFormation creates a resource as soon as its references exist; Glue and EventBridge
    use the role at once, so the policies that hold its permissions must exist first."""
    template = assembly.template("data-lake")
    checked = 0
    for resource_id, resource in template["Resources"].items():
        if resource["Type"] != cfn_type:
            continue
        for role_id in _roles_used_by(template, resource["Properties"]):
            policies = _policies_of(template, role_id)
            assert policies, role_id
            assert policies <= set(resource.get("DependsOn", [])), (resource_id, policies)
            checked += 1
    assert checked, f"no {cfn_type} uses a role"


@pytest.mark.parametrize(("cfn_type", "key"), [("AWS::Glue::Job", "SecurityConfiguration"),
                                               ("AWS::Glue::Crawler", "CrawlerSecurityConfiguration")])  # fmt: skip
def test_job_and_crawler_wait_for_their_security_configuration(assembly: Assembly, cfn_type: str, key: str) -> None:
    """They name it (no Ref), so CloudFormation sees no order unless one is declared."""
    template = assembly.template("data-lake")
    resource = next(r for r in template["Resources"].values() if r["Type"] == cfn_type)
    (configuration_id,) = [
        k for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Glue::SecurityConfiguration" and r["Properties"]["Name"] == resource["Properties"][key]
    ]  # fmt: skip
    assert configuration_id in resource["DependsOn"]
