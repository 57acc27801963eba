"""Estimated monthly idle cost of a synthesized profile, per stack, from a dated price table.

Idle means deployed and receiving no traffic: what the account pays for standing
resources (interface endpoints per zone, NAT gateways, endpoint instances, Kinesis
stream-hours, keys, alarms, dashboards, idle log volume) and for the jobs the
profile schedules whether or not data arrives (the drift job, the Glue workflow,
the weekly retraining). Usage-driven charges (requests, GB processed) are left
out: they scale with traffic, not with the architecture.

Prices come from ``posture/prices/<region>.json`` (each with its source and the
date it was read); nothing is fetched at run time. ``python -m posture.cost
cdk.out.dev [cdk.out.prod ...]`` prints the report; ``--json`` writes it as data.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config.profiles import PROFILES, Profile
from posture.contracts.model import Assembly, Resource, Unresolvable

PRICES = Path(__file__).parent / "prices"
DPU = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "Standard": 1}
# Standing resources that cost nothing while idle (pay per request, per GB or per run).
FREE_AT_IDLE = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::DynamoDB::GlobalTable",
        "AWS::DynamoDB::Table",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::Glue::Crawler",
        "AWS::Glue::Job",
        "AWS::SageMaker::Pipeline",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::Endpoint",
        "AWS::Athena::WorkGroup",
        "AWS::CloudTrail::Trail",
        # Configuration with no charge of its own.
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::EC2::FlowLog",
        "AWS::EC2::RouteTable",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::Subnet",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPC",
        "AWS::EC2::VPCEndpoint",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::Route",
        "AWS::EC2::EIP",
        "AWS::Glue::Connection",
        "AWS::Glue::DataQualityRuleset",
        "AWS::Glue::Database",
        "AWS::Glue::SecurityConfiguration",
        "AWS::Glue::Table",
        "AWS::Glue::Trigger",
        "AWS::Glue::Workflow",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::KMS::Alias",
        "AWS::LakeFormation::DataLakeSettings",
        "AWS::LakeFormation::PrincipalPermissions",
        "AWS::LakeFormation::Resource",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogStream",
        "AWS::Logs::MetricFilter",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::SQS::QueuePolicy",
        "AWS::SageMaker::DataQualityJobDefinition",
        "AWS::SageMaker::ModelQualityJobDefinition",
        "AWS::SageMaker::EndpointConfig",
        "Custom::VpcRestrictDefaultSG",
        "AWS::CDK::Metadata",
    }
)


@dataclass(frozen=True)
class Line:
    stack: str
    item: str
    quantity: float
    unit_usd: float
    monthly_usd: float
    detail: str


class PriceTable:
    def __init__(self, region: str) -> None:
        path = PRICES / f"{region}.json"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in PRICES.glob("*.json")))
            raise SystemExit(f"no price table for {region} (known: {known}): add posture/prices/{region}.json")
        data = json.loads(path.read_text())
        self.region = region
        self.as_of: str = data["as_of"]
        self.hours: float = data["hours_per_month"]
        self.prices: dict[str, dict] = data["prices"]
        self.assumptions: dict[str, float] = {k: v["value"] for k, v in data["assumptions"].items()}

    def usd(self, key: str) -> float:
        return float(self.prices[key]["usd"])

    def instance(self, key: str, instance_type: str) -> float:
        table = self.prices[key]["usd_by_instance"]
        if instance_type not in table:
            raise SystemExit(
                f"no {key} price for {instance_type} in posture/prices/{self.region}.json: add it with its source"
            )
        return float(table[instance_type])


def runs_per_month(expression: str) -> float:
    """How often an EventBridge/Scheduler expression fires in an average month."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        minutes = int(rate[1]) * {"m": 1, "h": 60, "d": 1440}[rate[2][0]]
        return 730 * 60 / minutes
    cron = re.fullmatch(r"cron\((.+)\)", expression)
    if not cron:
        raise ValueError(f"not a schedule expression: {expression!r}")
    minute, hour, dom, _month, dow, *_ = cron[1].split()

    def count(field: str, size: int) -> float:
        if field in ("*", "?"):
            return size
        if "/" in field:
            start, step = field.split("/")
            first = 0 if start in ("*", "") else int(start)
            return len(range(first, size, int(step)))
        total = 0
        for part in field.split(","):
            if "-" in part and part.replace("-", "").isdigit():
                low, high = map(int, part.split("-"))
                total += high - low + 1
            elif "-" in part:  # MON-FRI
                days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
                low, high = (days.index(p) for p in part.split("-"))
                total += high - low + 1
            else:
                total += 1
        return total

    per_day = count(minute, 60) * count(hour, 24)
    if dow not in ("*", "?"):
        days = 30.42 / 7 * count(dow, 7)
    elif dom in ("*", "?"):
        days = 30.42
    else:
        days = count(dom, 31)
    return per_day * days


class Estimate:
    """The idle-cost lines of one assembly."""

    def __init__(self, outdir: Path) -> None:
        self.assembly = Assembly(outdir)
        regions = set(self.assembly.regions.values())
        if len(regions) != 1:
            raise SystemExit(f"one region per profile expected, found {sorted(regions)}")
        self.prices = PriceTable(regions.pop())
        self.lines: list[Line] = []
        self.unpriced: set[str] = set()
        for res in self.assembly.resources():
            self._price(res)

    def _props(self, res: Resource) -> dict:
        try:
            return self.assembly.props(res)
        except Unresolvable:
            return res.properties

    def _add(self, res: Resource, item: str, quantity: float, unit: float, detail: str) -> None:
        short = res.stack.split("-", 2)[-1]
        self.lines.append(Line(short, item, quantity, unit, round(quantity * unit, 2), detail))

    def _price(self, res: Resource) -> None:
        p, hours = self.prices, self.prices.hours
        props = self._props(res)
        match res.type:
            case "AWS::EC2::VPCEndpoint" if props.get("VpcEndpointType") == "Interface":
                zones = len(props.get("SubnetIds", []))
                service = str(props.get("ServiceName", "")).rsplit(".", 1)[-1]
                self._add(
                    res,
                    "interface endpoints",
                    zones * hours,
                    p.usd("interface_endpoint_az_hour"),
                    f"{service} in {zones} zones",
                )
            case "AWS::EC2::NatGateway":
                self._add(
                    res,
                    "NAT gateways",
                    hours,
                    p.usd("nat_gateway_hour") + p.usd("public_ipv4_hour"),
                    "gateway and its Elastic IP",
                )
            case "AWS::SageMaker::EndpointConfig":
                for variant in [*props.get("ProductionVariants", []), *props.get("ShadowProductionVariants", [])]:
                    if "ServerlessConfig" in variant:
                        continue  # billed per request: nothing while idle
                    count, kind = variant["InitialInstanceCount"], variant["InstanceType"]
                    self._add(
                        res,
                        "endpoint instances",
                        count * hours,
                        p.instance("sagemaker_hosting_hour", kind),
                        f"{variant['VariantName']}: {count} x {kind}",
                    )
            case "AWS::Kinesis::Stream":
                if props.get("StreamModeDetails", {}).get("StreamMode") == "ON_DEMAND":
                    self._add(
                        res, "Kinesis stream-hours", hours, p.usd("kinesis_on_demand_stream_hour"), "on-demand stream"
                    )
                else:
                    shards = int(props.get("ShardCount", 1))
                    self._add(
                        res,
                        "Kinesis stream-hours",
                        shards * hours,
                        p.usd("kinesis_shard_hour"),
                        f"{shards} provisioned shards",
                    )
            case "AWS::KMS::Key":
                self._add(res, "KMS keys", 1, p.usd("kms_key_month"), "customer managed key")
            case "AWS::CloudWatch::Alarm":
                metrics = len([m for m in props.get("Metrics", []) if "MetricStat" in m]) or 1
                self._add(res, "alarms", metrics, p.usd("alarm_metric_month"), "standard resolution")
            case "AWS::CloudWatch::Dashboard":
                self._add(res, "dashboards", 1, p.usd("dashboard_month"), "first three per account free")
            case "AWS::Logs::LogGroup":
                gb = p.assumptions["log_ingestion_gb_per_group_month"]
                months = min(int(props.get("RetentionInDays", 3653)), 365) / 30.42
                unit = p.usd("log_ingestion_gb") + p.usd("log_storage_gb_month") * months
                self._add(res, "log ingestion and storage", gb, unit, f"{gb} GB a month kept {months:.0f} months")
            case "AWS::Scheduler::Schedule":
                self._scheduled_processing(res, props)
            case "AWS::SageMaker::MonitoringSchedule":
                self._monitoring_schedule(res, props)
            case "AWS::Events::Rule" if "ScheduleExpression" in props:
                self._scheduled_rule(res, props)
            case _ if res.type not in FREE_AT_IDLE:
                self.unpriced.add(res.type)

    def _scheduled_processing(self, res: Resource, props: dict) -> None:
        target = props.get("Target", {})
        job = json.loads(target["Input"]) if isinstance(target.get("Input"), str) else {}
        # The job request itself (a universal target), or handed to a starter function as "request".
        job = job.get("request", job) if isinstance(job, dict) else {}
        if "ProcessingResources" not in job:
            return
        cluster = job["ProcessingResources"]["ClusterConfig"]
        runs = runs_per_month(props["ScheduleExpression"])
        hours = runs * cluster["InstanceCount"] * self.prices.assumptions["processing_job_minutes"] / 60
        unit = self.prices.instance("sagemaker_job_hour", cluster["InstanceType"])
        self._add(res, "scheduled jobs", hours, unit, f"drift job {runs:.0f} runs x {cluster['InstanceType']}")

    def _monitoring_schedule(self, res: Resource, props: dict) -> None:
        config = props.get("MonitoringScheduleConfig", {})
        expression = config.get("ScheduleConfig", {}).get("ScheduleExpression", "cron(0 * ? * * *)")
        definition = self.assembly.find(config.get("MonitoringJobDefinitionName"))
        cluster: dict[str, Any] = {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
        if definition is not None:
            job = self._props(definition)
            cluster = next((v["ClusterConfig"] for k, v in job.items() if k.endswith("JobResources")), cluster)
        runs = runs_per_month(expression)
        hours = runs * cluster["InstanceCount"] * self.prices.assumptions["processing_job_minutes"] / 60
        unit = self.prices.instance("sagemaker_job_hour", cluster["InstanceType"])
        self._add(res, "scheduled jobs", hours, unit, f"Model Monitor {runs:.0f} runs x {cluster['InstanceType']}")

    def _scheduled_rule(self, res: Resource, props: dict) -> None:
        runs = runs_per_month(props["ScheduleExpression"])
        for target in props.get("Targets", []):
            arn = str(target.get("Arn", ""))
            if ":workflow/" in arn:
                self._glue_workflow(res, runs)
            elif ":function:" in arn and self._starts_pipeline(arn):
                self._training_run(res, runs)

    def _glue_workflow(self, res: Resource, runs: float) -> None:
        a, p = self.prices.assumptions, self.prices
        for job in self.assembly.resources("AWS::Glue::Job", res.stack):
            props = self._props(job)
            dpus = DPU.get(props.get("WorkerType", "G.1X"), 1) * int(props.get("NumberOfWorkers", 2))
            hours = runs * dpus * a["glue_job_minutes"] / 60
            self._add(res, "scheduled jobs", hours, p.usd("glue_dpu_hour"), f"ETL {runs:.0f} runs x {dpus:g} DPU")
        for _crawler in self.assembly.resources("AWS::Glue::Crawler", res.stack):
            hours = runs * a["crawler_minutes"] / 60
            self._add(res, "scheduled jobs", hours, p.usd("glue_dpu_hour"), f"crawler {runs:.0f} runs")

    def _starts_pipeline(self, function_arn: str) -> bool:
        function = self.assembly.find(function_arn)
        if function is None:
            return False
        env = self._props(function).get("Environment", {}).get("Variables", {})
        return any("PIPELINE" in key for key in env)

    def _training_run(self, res: Resource, runs: float) -> None:
        for pipeline in self.assembly.resources("AWS::SageMaker::Pipeline", res.stack):
            body = self._props(pipeline).get("PipelineDefinition", {}).get("PipelineDefinitionBody")
            if not isinstance(body, str):
                continue
            definition = json.loads(body)
            params = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}
            minutes = self.prices.assumptions["training_step_minutes"] / 60
            steps = sum(1 for s in definition.get("Steps", []) if s.get("Type") == "Processing")
            processing = params.get("ProcessingInstanceType", "ml.m5.large")
            training = params.get("TrainingInstanceType", "ml.m5.large")
            trials = int(params.get("MaxTuningJobs", 10))
            job = self.prices.instance
            cost = steps * minutes * job("sagemaker_job_hour", processing)
            cost += trials * minutes * job("sagemaker_job_hour", training)
            self._add(
                res,
                "scheduled jobs",
                runs,
                round(cost, 4),
                f"retraining {runs:.1f} runs: {steps} steps, {trials} trials",
            )

    # ---- report ---------------------------------------------------------------------------
    def total(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    def by(self, key: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for line in self.lines:
            out[getattr(line, key)] += line.monthly_usd
        return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}

    def as_dict(self) -> dict:
        return {
            "region": self.prices.region,
            "prices_as_of": self.prices.as_of,
            "total_usd": self.total(),
            "by_stack": self.by("stack"),
            "by_item": self.by("item"),
            "lines": [asdict(line) for line in self.lines],
            "unpriced_types": sorted(self.unpriced),
        }


# What a setting gives up when a cheaper profile changes it: dotted setting -> the new value -> the
# loss in a sentence (None: nothing lost at that value). Settings not listed only change numbers.
GIVES_UP = {
    "vpc_workloads": lambda v: (
        None
        if v == "all"
        else (
            "Lambda functions and the Glue job leave the VPC: they reach AWS APIs at the public endpoints "
            "(TLS, the same least-privilege roles) instead of PrivateLink, their traffic is not in the flow "
            "logs, and no security group bounds it. SageMaker jobs and the endpoint stay isolated in the VPC."
        )
    ),
    "ingest.stream_shards": lambda v: (
        None
        if v is None
        else (
            f"The stream has a fixed {v} shard(s): {v} MB/s or {v * 1000:,} records/s in; a burst above is "
            "throttled (the WriteThrottles alarm fires) until someone reshards."
        )
    ),
    "serving.challenger": lambda v: (
        None
        if v
        else (
            "No A/B test: one variant, so an approved model replaces the champion all at once (blue/green "
            "with the bake and the rollback alarms) instead of earning traffic against it; no promotion Lambda."
        )
    ),
    "serving.instance_type": lambda v: (
        f"Endpoint instances are {v}, burstable: latency under sustained load says little about production."
        if v.startswith("ml.t")
        else None
    ),
    "serving.instance_count": lambda v: (
        "One instance per variant: an instance or zone failure stops the variant until SageMaker replaces it."
        if v == 1
        else None
    ),
    "monitoring.instance_type": lambda v: (
        f"The drift job runs on {v}: enough for a development endpoint's capture, not for a production day."
        if v.startswith("ml.t")
        else None
    ),
}


def _settings(profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(profile).items():
        if isinstance(value, dict) and key != "extra_tags":
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def gives_up(base: str, other: str) -> list[str]:
    """What profile ``other`` gives up against ``base``: a sentence per changed setting that costs something."""
    if base not in PROFILES or other not in PROFILES:
        return []
    before, after = _settings(PROFILES[base]), _settings(PROFILES[other])
    return [
        f"`{key}` {after[key]!r}: {loss}"
        for key, loss_of in GIVES_UP.items()
        if before.get(key) != after.get(key) and (loss := loss_of(after.get(key)))
    ]


def _profile(outdir: Path) -> str:
    return Assembly(outdir).profile or outdir.name


def report(estimates: dict[str, Estimate]) -> str:
    first = next(iter(estimates.values()))
    out = [
        f"# Estimated idle cost per month ({first.prices.region}, USD, list prices of {first.prices.as_of})",
        "",
        "| profile | total | " + " | ".join(sorted({s for e in estimates.values() for s in e.by("stack")})) + " |",
    ]
    stacks = sorted({s for e in estimates.values() for s in e.by("stack")})
    out.append("|---" * (len(stacks) + 2) + "|")
    for name, est in estimates.items():
        per = est.by("stack")
        out.append(
            f"| {name} | **${est.total():,.2f}** | " + " | ".join(f"${per.get(s, 0):,.2f}" for s in stacks) + " |"
        )
    for name, est in estimates.items():
        out += ["", f"## {name}: top drivers", "", "| item | per month | share |", "|---|---|---|"]
        total = est.total() or 1.0
        for item, usd in list(est.by("item").items())[:6]:
            out.append(f"| {item} | ${usd:,.2f} | {usd / total:.0%} |")
    names = list(estimates)
    if len(names) > 1:
        out += ["", "## What a profile switch saves", ""]
        base = names[0]
        for other in names[1:]:
            delta = estimates[base].total() - estimates[other].total()
            items = estimates[base].by("item")
            changes = {
                k: round(estimates[other].by("item").get(k, 0) - items.get(k, 0), 2)
                for k in set(items) | set(estimates[other].by("item"))
            }
            biggest = ", ".join(f"{k} {v:+,.2f}" for k, v in sorted(changes.items(), key=lambda kv: -abs(kv[1]))[:3])
            out.append(
                f"- {base} -> {other}: {'saves' if delta >= 0 else 'adds'} ${abs(delta):,.2f} a month ({biggest})"
            )
            if delta > 0:
                out += [f"  - gives up: {loss}" for loss in gives_up(base, other)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdirs", type=Path, nargs="+", help="synthesized cloud assemblies, one per profile")
    parser.add_argument("--json", type=Path, help="also write the estimate as JSON")
    args = parser.parse_args(argv)
    estimates = {_profile(d): Estimate(d) for d in args.outdirs}
    sys.stdout.write(report(estimates))
    if args.json:
        data = {k: v.as_dict() for k, v in estimates.items()}
        base = next(iter(estimates))
        for name in list(estimates)[1:]:
            if estimates[base].total() > estimates[name].total():
                data[name]["gives_up"] = {"against": base, "items": gives_up(base, name)}
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    unpriced = sorted({t for e in estimates.values() for t in e.unpriced})
    if unpriced:
        print(
            f"cost: no idle price and not known free: {', '.join(unpriced)} (add to posture/cost.py)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
