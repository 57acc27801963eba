"""Smoke test on a real account: deploy, one record end to end, read the alarms, tear down.

    make smoke PROFILE=dev SMOKE_CONFIRM=dev     # with AWS_PROFILE or access keys set explicitly

Opt-in, never part of ``make test``. Steps, each PASS/FAIL with what it saw:
deploy (``make deploy``); one generated event through Kinesis, found in the
raw zone after Firehose; one Glue workflow run (raw -> curated); one pipeline
execution with tiny tuning counts; one invocation per endpoint variant
(``TargetVariant``); every alarm's state; teardown (``make destroy``), always.
Then an estimate of what it cost, from the instance-hours used and a dated
price table (Cost Explorer shows the real figure about a day later).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import Profile, get_profile
from ops.assembly import Assembly
from ops.report import explain
from ops.teardown import stop_executions
from pipelines.data import spec as specs
from pipelines.data.generate import FaultRates, generate
from pipelines.serving.client import invoke
from pipelines.training.features import FEATURES

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "pipelines" / "training" / "definition.json"
CLIENTS = ("cloudformation", "kinesis", "s3", "glue", "sagemaker", "sagemaker-runtime", "cloudwatch")
CLEAN = FaultRates(missing=0.0, corrupt=0.0, duplicate=0.0)
# Pipeline parameters for one quick execution; names must exist in definition.json.
TINY_PIPELINE = {"MaxTuningJobs": "2", "MaxParallelTuningJobs": "1", "MinAuc": "0.6"}
# The pipeline needs more than one row to split and train on: this many generated events seed the raw zone.
SEED_ROWS = 3000
RAW_EVENTS_PREFIX = "events/"
RAW_ERRORS_PREFIX = "errors/"

# On-demand list prices, USD per hour, eu-west-1, as read on 2026-11-01 (https://aws.amazon.com/pricing).
PRICES_AS_OF = "2026-11-01"
SAGEMAKER_HOUR = {"ml.m5.large": 0.128, "ml.m5.xlarge": 0.256, "ml.m5.2xlarge": 0.512, "ml.m5.4xlarge": 1.024}
GLUE_DPU_HOUR = 0.44
DPU_PER_WORKER = {"G.1X": 1, "G.2X": 2, "G.4X": 4}
INTERFACE_ENDPOINT_AZ_HOUR = 0.011
KINESIS_ON_DEMAND_STREAM_HOUR = 0.04


class SmokeError(RuntimeError):
    """A step saw something wrong; the message says what."""


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class Usage:
    """Billable use recorded by the steps: (what, unit price key, hours x quantity)."""

    items: list[tuple[str, str, float]] = field(default_factory=list)

    def add(self, what: str, price_key: str, hours: float) -> None:
        self.items.append((what, price_key, hours))


def price(key: str) -> float | None:
    if key in SAGEMAKER_HOUR:
        return SAGEMAKER_HOUR[key]
    return {
        "glue-dpu": GLUE_DPU_HOUR,
        "interface-endpoint-az": INTERFACE_ENDPOINT_AZ_HOUR,
        "kinesis-stream": KINESIS_ON_DEMAND_STREAM_HOUR,
    }.get(key)


def estimate_cost(usage: Usage) -> tuple[float, list[str]]:
    """Total USD and one line per item; items without a known price are named, not guessed."""
    total, lines = 0.0, []
    for what, key, hours in usage.items:
        unit = price(key)
        if unit is None:
            lines.append(f"  {what}: {hours:.2f} h of {key}: no price in the table")
            continue
        total += unit * hours
        lines.append(f"  {what}: {hours:.2f} h x ${unit}/h ({key}) = ${unit * hours:.2f}")
    return total, lines


# -- data -------------------------------------------------------------------------------------------


def smoke_event(seed: int, dataset: specs.DataSet | None = None) -> dict:
    """One valid event of the data set (default: the active one) from the project's generator, with a
    recognizable id."""
    dataset = dataset or specs.active()
    record = json.loads(next(generate(1, seed=seed, faults=CLEAN, dataset=dataset)))
    record[dataset.id_fields[0]] = f"smoke-{seed}"
    return record


def feature_row(record: dict, dataset: specs.DataSet | None = None) -> list[float]:
    """A row of the model's features (FEATURES order) for one event: its numbers and one-hot categories."""
    values = {name: float(record[name]) for name in FEATURES if isinstance(record.get(name), int | float)}
    for f in specs.category_fields(dataset or specs.active()):
        for category in f.values:
            values[specs.one_hot_column(f.name, category)] = 1.0 if record.get(f.name) == category else 0.0
    return [values.get(name, 0.0) for name in FEATURES]


def tiny_pipeline_parameters(definition: Path = DEFINITION) -> list[dict]:
    names = {p["Name"] for p in json.loads(definition.read_text())["Parameters"]}
    missing = sorted(set(TINY_PIPELINE) - names)
    if missing:
        raise SmokeError(f"pipeline parameters {missing} are not in {definition.name} (it has {sorted(names)})")
    return [{"Name": k, "Value": v} for k, v in TINY_PIPELINE.items()]


# -- steps: each takes boto3 clients ----------------------------------------------------------------


def stack_outputs(cfn, stacks: list[str]) -> dict[str, str]:
    out = {}
    for stack in stacks:
        for output in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", []):
            out[output["OutputKey"]] = output["OutputValue"]
    return out


def send_record(kinesis, stream: str, record: dict, dataset: specs.DataSet | None = None) -> str:
    """Put one record on the stream, partitioned by the data set's id (default: the active data set)."""
    key = (dataset or specs.active()).id_fields[0]
    response = kinesis.put_record(StreamName=stream, Data=json.dumps(record).encode(), PartitionKey=str(record[key]))
    return response["SequenceNumber"]


def _objects_since(s3, bucket: str, prefix: str, since: datetime) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["LastModified"] >= since]
    return keys


def _read(s3, bucket: str, key: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode(errors="replace")


def wait_for_raw(
    s3, bucket: str, customer_id: str, since: datetime, sleep: Callable[[float], None], timeout_s: float = 900
) -> str:
    """The raw-zone key that holds the record; fails early when Firehose filed it under errors/."""
    waited = 0.0
    while True:
        for key in _objects_since(s3, bucket, RAW_EVENTS_PREFIX, since):
            if customer_id in _read(s3, bucket, key):
                return key
        for key in _objects_since(s3, bucket, RAW_ERRORS_PREFIX, since):
            if customer_id in _read(s3, bucket, key):
                raise SmokeError(f"the record was rejected: s3://{bucket}/{key}")
        if waited >= timeout_s:
            raise SmokeError(f"the record did not reach s3://{bucket}/{RAW_EVENTS_PREFIX} in {timeout_s:.0f} s")
        sleep(30)
        waited += 30


def seed_raw(s3, bucket: str, rows: int, now: datetime) -> str:
    """Generated clean events, one gzip object in the raw zone, so the pipeline has data to train on."""
    key = f"{RAW_EVENTS_PREFIX}year={now:%Y}/month={now:%m}/day={now:%d}/smoke-seed-{uuid.uuid4().hex[:8]}.gz"
    body = gzip.compress(("\n".join(generate(rows, seed=11, faults=CLEAN)) + "\n").encode())
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def run_workflow(glue, workflow: str, sleep: Callable[[float], None], timeout_s: float = 3600) -> dict:
    """Start the Glue workflow once and wait; returns the run (fails on any failed action).

    The workflow runs one at a time: while a run the raw zone's events started is going, wait for it."""
    waited = 0.0
    while True:
        try:
            run_id = glue.start_workflow_run(Name=workflow)["RunId"]
            break
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConcurrentRunsExceededException" or waited >= timeout_s:
                raise
        sleep(30)
        waited += 30
    while True:
        run = glue.get_workflow_run(Name=workflow, RunId=run_id)["Run"]
        if run["Status"] in ("COMPLETED", "STOPPED", "ERROR"):
            break
        if waited >= timeout_s:
            raise SmokeError(f"workflow run {run_id} still {run['Status']} after {timeout_s:.0f} s")
        sleep(30)
        waited += 30
    stats = run.get("Statistics", {})
    if run["Status"] != "COMPLETED" or stats.get("FailedActions", 0) or stats.get("StoppedActions", 0):
        raise SmokeError(
            f"workflow run {run_id} {run['Status']}: {stats.get('FailedActions', 0)} failed, "
            f"{stats.get('SucceededActions', 0)} succeeded; {run.get('ErrorMessage', '')}".rstrip("; ")
        )
    return run


def run_pipeline(
    sagemaker, pipeline: str, parameters: list[dict], sleep: Callable[[float], None], timeout_s: float = 7200
) -> tuple[str, list[dict]]:
    """Start one execution and wait; returns its ARN and steps (fails unless it succeeded)."""
    arn = sagemaker.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineExecutionDisplayName=f"smoke-{uuid.uuid4().hex[:8]}",
        PipelineParameters=parameters,
        ClientRequestToken=str(uuid.uuid4()),
    )["PipelineExecutionArn"]
    waited = 0.0
    while True:
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        if status not in ("Executing", "Stopping"):
            break
        if waited >= timeout_s:
            raise SmokeError(f"execution {arn} still {status} after {timeout_s:.0f} s")
        sleep(60)
        waited += 60
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    if status != "Succeeded":
        failed = [
            f"{s['StepName']}: {s.get('FailureReason', s['StepStatus'])}" for s in steps if s["StepStatus"] == "Failed"
        ]
        raise SmokeError(f"execution {status}: {'; '.join(failed) or 'no step failed'}")
    return arn, steps


def invoke_variants(sagemaker, runtime, endpoint: str, row: list[float]) -> dict[str, float]:
    """One request pinned to each production variant; every variant must answer with a score in [0, 1]."""
    variants = [v["VariantName"] for v in sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]]
    scores = {}
    for variant in variants:
        answer = invoke(runtime, endpoint, [row], variant=variant)
        if answer["variant"] != variant or not 0.0 <= answer["scores"][0] <= 1.0:
            raise SmokeError(f"variant {variant}: answered by {answer['variant']} with {answer['scores']}")
        scores[variant] = answer["scores"][0]
    return scores


def alarm_states(cloudwatch, prefix: str) -> dict[str, str]:
    """Every alarm of the profile's stacks (names start with ``mlops-<profile>-``) and its state."""
    states = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            states[alarm["AlarmName"]] = alarm["StateValue"]
    if not states:
        raise SmokeError(f"no alarm named {prefix}*")
    return states


# -- orchestration --------------------------------------------------------------------------------


def make(target: str, profile: str, *extra: str, run: Callable = subprocess.run) -> Callable[[], str]:
    def call() -> str:
        result = run(["make", target, f"PROFILE={profile}", *extra], cwd=ROOT)
        if result.returncode:
            raise SmokeError(f"make {target} exited {result.returncode}")
        return f"make {target} PROFILE={profile}"

    return call


class Smoke:
    """Runs the steps in order; a failed step skips the ones that need it; alarms and teardown always run."""

    def __init__(
        self,
        clients: dict,
        profile: Profile,
        assembly: Assembly,
        *,
        deploy: Callable[[], str],
        destroy: Callable[[], str],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        log: Callable[[str], None] = print,
    ) -> None:
        self.c, self.profile, self.assembly = clients, profile, assembly
        self.deploy, self.destroy = deploy, destroy
        self.sleep, self.clock, self.now, self.log = sleep, clock, now, log
        self.results: list[StepResult] = []
        self.usage = Usage()

    def step(self, name: str, action: Callable[[], str]) -> bool:
        start = self.clock()
        try:
            detail, ok = action(), True
        except SmokeError as error:
            detail, ok = str(error), False
        except (ClientError, BotoCoreError) as error:
            detail, ok = explain(error, getattr(error, "operation_name", name)), False
        except Exception as error:  # a bug in one step must not keep the stacks up
            detail, ok = f"unexpected {type(error).__name__}: {error}", False
        result = StepResult(name, ok, detail, self.clock() - start)
        self.results.append(result)
        self.log(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
        return ok

    def run(self) -> list[StepResult]:
        started = self.clock()
        deployed_at = None
        try:
            if not self.step("deploy", self.deploy):
                return self.results
            deployed_at = self.clock()
            self._pipeline_of_steps()
        finally:
            if deployed_at is not None:
                self.step("alarms", self._alarms)
                self._record_endpoint_hours(self.clock() - deployed_at)
            self.step("teardown", self.destroy)
            self._record_fixed_hours(self.clock() - started)
        return self.results

    def _pipeline_of_steps(self) -> None:
        outputs: dict[str, str] = {}
        record = smoke_event(int(self.now().timestamp()), specs.load(self.profile.dataset))
        since = self.now().replace(microsecond=0)

        def outputs_step() -> str:
            outputs.update(stack_outputs(self.c["cloudformation"], self.assembly.stack_names))
            needed = {"StreamName", "RawBucketName", "PipelineName", "EndpointName"}
            if needed - set(outputs):
                raise SmokeError(f"stack outputs missing: {sorted(needed - set(outputs))}")
            return f"{len(outputs)} outputs"

        def ingest() -> str:
            sequence = send_record(self.c["kinesis"], outputs["StreamName"], record)
            key = wait_for_raw(self.c["s3"], outputs["RawBucketName"], record["customer_id"], since, self.sleep)
            return f"record {record['customer_id']} (sequence {sequence[-8:]}) in s3://{outputs['RawBucketName']}/{key}"

        def etl() -> str:
            seed_raw(self.c["s3"], outputs["RawBucketName"], SEED_ROWS, self.now())
            (workflow,) = [r.properties["Name"] for r in self.assembly.resources("AWS::Glue::Workflow")]
            run = run_workflow(self.c["glue"], workflow, self.sleep)
            hours = (run["CompletedOn"] - run["StartedOn"]).total_seconds() / 3600
            dpus = self.profile.etl.number_of_workers * DPU_PER_WORKER[self.profile.etl.worker_type]
            self.usage.add("Glue workflow (crawler + job, upper bound)", "glue-dpu", hours * dpus)
            return f"workflow {workflow} run {run['WorkflowRunId']} completed in {hours * 60:.1f} min"

        def training() -> str:
            # New curated data makes the retraining guard start an execution with the profile's settings:
            # that proves the trigger; stop it so that one tiny execution runs.
            triggered = stop_executions(self.c["sagemaker"], outputs["PipelineName"], self.log, self.sleep)
            arn, steps = run_pipeline(
                self.c["sagemaker"], outputs["PipelineName"], tiny_pipeline_parameters(), self.sleep
            )
            for s in steps:
                kind = next((k for k in ("ProcessingJob", "TuningJob") if k in s.get("Metadata", {})), None)
                if kind and "StartTime" in s and "EndTime" in s:
                    hours = (s["EndTime"] - s["StartTime"]).total_seconds() / 3600
                    if kind == "ProcessingJob":
                        self.usage.add(f"step {s['StepName']}", self.profile.training.processing_instance_type, hours)
                    else:
                        parallel = int(TINY_PIPELINE["MaxParallelTuningJobs"])
                        self.usage.add(
                            f"step {s['StepName']} (on-demand price)",
                            self.profile.training.training_instance_type,
                            hours * parallel,
                        )
            return (
                f"execution {arn.rsplit('/', 1)[-1]} succeeded ({len(steps)} steps); "
                f"{triggered} started by the retraining guard, stopped"
            )

        def serving() -> str:
            scores = invoke_variants(
                self.c["sagemaker"],
                self.c["sagemaker-runtime"],
                outputs["EndpointName"],
                feature_row(record, specs.load(self.profile.dataset)),
            )
            return ", ".join(f"{v}: {s:.3f}" for v, s in scores.items())

        for name, action in (
            ("stack outputs", outputs_step),
            ("ingest", ingest),
            ("etl", etl),
            ("training pipeline", training),
        ):
            if not self.step(name, action):
                break
        # The endpoint serves the bootstrap model from the deploy on, whatever training did.
        if outputs.get("EndpointName"):
            self.step("endpoint", serving)

    def _alarms(self) -> str:
        states = alarm_states(self.c["cloudwatch"], f"mlops-{self.profile.name}-")
        firing = sorted(name for name, state in states.items() if state == "ALARM")
        counts = {s: sum(v == s for v in states.values()) for s in ("OK", "ALARM", "INSUFFICIENT_DATA")}
        detail = ", ".join(f"{n} {s}" for s, n in counts.items())
        return detail + (f"; in ALARM: {', '.join(firing)}" if firing else "")

    def _record_endpoint_hours(self, seconds: float) -> None:
        for config in self.assembly.resources("AWS::SageMaker::EndpointConfig"):
            for variant in config.properties.get("ProductionVariants", []):
                count = int(variant.get("InitialInstanceCount", 1))
                self.usage.add(
                    f"endpoint variant {variant['VariantName']}", variant["InstanceType"], count * seconds / 3600
                )

    def _record_fixed_hours(self, seconds: float) -> None:
        endpoints = [
            r
            for r in self.assembly.resources("AWS::EC2::VPCEndpoint")
            if r.properties.get("VpcEndpointType") == "Interface"
        ]
        zones = len(self.profile.availability_zones)
        self.usage.add(f"{len(endpoints)} interface endpoints x {zones} zones", "interface-endpoint-az",
                       len(endpoints) * zones * seconds / 3600)  # fmt: skip
        self.usage.add("Kinesis on-demand stream", "kinesis-stream", seconds / 3600)

    def report(self) -> int:
        self.log("")
        for r in self.results:
            self.log(f"{'PASS' if r.ok else 'FAIL':<5} {r.name:<18} {r.seconds / 60:6.1f} min  {r.detail}")
        total, lines = estimate_cost(self.usage)
        self.log(
            f"\nEstimated cost: ${total:.2f} (on-demand list prices of {PRICES_AS_OF}, {self.profile.region}; "
            "excludes requests, storage, KMS and logs; Cost Explorer shows the real figure about 24 h later)"
        )
        for line in lines:
            self.log(line)
        return 0 if self.results and all(r.ok for r in self.results) else 1


def main(argv: list[str] | None = None, session: boto3.Session | None = None, run: Callable = subprocess.run) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="dev")
    parser.add_argument("--assembly", default="cdk.out")
    parser.add_argument("--confirm", default="", help="the profile's name (SMOKE_CONFIRM): deploys and destroys it")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if profile.retain_data:
        print(f"smoke: refused: {profile.name} retains its data and is never torn down by a test", file=sys.stderr)
        return 2
    if args.confirm != profile.name:
        print(
            f"smoke: deploys {profile.name} to your account, runs it and destroys it: "
            f"confirm with SMOKE_CONFIRM={profile.name}",
            file=sys.stderr,
        )
        return 2
    if session is None and not (os.environ.get("AWS_PROFILE") or os.environ.get("AWS_ACCESS_KEY_ID")):
        print(
            "smoke: needs explicit credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            file=sys.stderr,
        )
        return 2
    session = session or boto3.Session(region_name=profile.region)
    clients = {name: session.client(name, region_name=profile.region) for name in CLIENTS}
    deploy = make("deploy", profile.name, "ARGS=--require-approval never", run=run)
    destroy = make("destroy", profile.name, f"CONFIRM={profile.name}", run=run)

    def deploy_then_read() -> str:
        detail = deploy()
        smoke.assembly = Assembly(args.assembly, profile.name)
        return detail

    smoke = Smoke(clients, profile, assembly=None, deploy=deploy_then_read, destroy=destroy)  # type: ignore[arg-type]
    smoke.run()
    return smoke.report()


if __name__ == "__main__":
    sys.exit(main())
