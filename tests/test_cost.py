"""`make cost`: idle cost from the synthesized templates and the dated price table."""

from __future__ import annotations

import json
import re

import pytest

from config import PROFILES
from posture.cost import PRICES, Estimate, gives_up, report, runs_per_month


@pytest.fixture(scope="module")
def estimates(assemblies) -> dict[str, Estimate]:
    return {name: Estimate(a.outdir) for name, a in assemblies.items()}


def test_every_resource_type_is_priced_or_known_free(estimates) -> None:
    for name, est in estimates.items():
        assert not est.unpriced, f"{name}: decide the idle price of {sorted(est.unpriced)} in posture/cost.py"


def test_interface_endpoints_are_billed_per_zone(assemblies, estimates) -> None:
    for name, assembly in assemblies.items():
        table = json.loads((PRICES / "eu-west-1.json").read_text())
        rate = table["prices"]["interface_endpoint_az_hour"]["usd"]
        zone_hours = sum(
            len(r["Properties"]["SubnetIds"]) * 730
            for r in assembly.resources("network", "AWS::EC2::VPCEndpoint").values()
            if r["Properties"]["VpcEndpointType"] == "Interface"
        )
        # Only a profile whose functions and Glue run in the VPC needs interface endpoints.
        assert (zone_hours > 0) == PROFILES[name].functions_in_vpc
        assert estimates[name].by("item").get("interface endpoints", 0) == pytest.approx(zone_hours * rate, abs=0.05)


def test_endpoint_instances_follow_the_variants(assemblies, estimates) -> None:
    for name, assembly in assemblies.items():
        table = json.loads((PRICES / "eu-west-1.json").read_text())["prices"]["sagemaker_hosting_hour"]
        (config,) = assembly.resources("serving", "AWS::SageMaker::EndpointConfig").values()
        expected = sum(
            v["InitialInstanceCount"] * 730 * table["usd_by_instance"][v["InstanceType"]]
            for v in config["Properties"]["ProductionVariants"]
        )
        assert estimates[name].by("item")["endpoint instances"] == pytest.approx(expected, abs=0.05)


def test_scheduled_jobs_are_counted(estimates) -> None:
    for est in estimates.values():
        details = " ".join(line.detail for line in est.lines if line.item == "scheduled jobs")
        assert "drift job" in details or "Model Monitor" in details
        assert "ETL" in details and "retraining" in details


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 hour)", 730),
        ("rate(30 minutes)", 1460),
        ("rate(1 day)", 730 / 24),
        ("cron(0 1 * * ? *)", 30.42),
        ("cron(0 */6 * * ? *)", 4 * 30.42),
        ("cron(0 4 ? * MON *)", 30.42 / 7),
        ("cron(0 8 ? * MON-FRI *)", 30.42 / 7 * 5),
        ("cron(15,45 * * * ? *)", 2 * 24 * 30.42),
    ],
)
def test_runs_per_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression) == pytest.approx(runs, rel=0.01)


def test_every_price_is_dated_and_sourced() -> None:
    for path in PRICES.glob("*.json"):
        table = json.loads(path.read_text())
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table["as_of"])
        for key, price in table["prices"].items():
            assert price["source"].startswith("https://aws.amazon.com/"), key
            assert price.get("unit"), key
        for key, assumption in table["assumptions"].items():
            assert assumption.get("why"), key


def test_report_names_the_top_drivers_and_the_switch(estimates) -> None:
    text = report(estimates)
    assert "top drivers" in text and "What a profile switch saves" in text
    assert "endpoint instances" in text and "interface endpoints" in text


def test_the_lean_profile_idles_under_100_dollars_a_month(estimates) -> None:
    assert estimates["lean"].total() < 100, report({"lean": estimates["lean"]})
    assert estimates["lean"].total() < estimates["dev"].total() < estimates["prod"].total()


def test_a_provisioned_stream_is_billed_per_shard(assemblies, estimates) -> None:
    rate = json.loads((PRICES / "eu-west-1.json").read_text())["prices"]["kinesis_shard_hour"]["usd"]
    for name, assembly in assemblies.items():
        (stream,) = assembly.resources("ingest", "AWS::Kinesis::Stream").values()
        shards = PROFILES[name].ingest.stream_shards
        if shards is None:
            assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
            continue
        assert stream["Properties"]["ShardCount"] == shards
        assert estimates[name].by("item")["Kinesis stream-hours"] == pytest.approx(shards * 730 * rate, abs=0.05)


def test_a_cheaper_profile_says_what_it_gives_up(estimates) -> None:
    losses = " ".join(gives_up("dev", "lean"))
    for setting in ("vpc_workloads", "ingest.stream_shards", "serving.instance_type"):
        assert f"`{setting}`" in losses
    assert "gives up: `vpc_workloads`" in report({"dev": estimates["dev"], "lean": estimates["lean"]})
    # Settings that only change numbers, or that prod raises, are not losses.
    assert gives_up("dev", "prod") == []
