"""The A/B endpoint in a bare stack, for every profile and a single-variant one: what SageMaker and CloudWatch
require."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from config.names import DATA_CAPTURE_PREFIX
from config.profiles import PROFILES, Profile, derive
from ml_constructs.ab_endpoint import AbEndpoint
from ml_constructs.endpoint_watch import variants
from pipelines.data import spec as specs

# The champion alone, on the smallest instance (what a low-cost profile runs).
SOLO = derive(PROFILES["dev"], name="solo", serving={"challenger": False, "instance_type": "ml.t2.medium"})
CASES = {**PROFILES, SOLO.name: SOLO}


def _endpoint(stack: cdk.Stack, profile: Profile, packages: tuple[str, ...] | None = None) -> Template:
    vpc = ec2.Vpc(
        stack, "Vpc", max_azs=2, nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="workload", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )  # fmt: skip
    AbEndpoint(
        stack,
        "Churn",
        name="mlops-test-churn",
        settings=profile.serving,
        dataset=specs.load(profile.dataset),
        packages={
            v: cdk.CfnParameter(stack, f"{v}Package", default="").value_as_string
            for v in (packages or variants(profile.serving))
        },
        role_arn=f"arn:aws:iam::{stack.account}:role/model",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_group_name="workload"),
        security_group=ec2.SecurityGroup(stack, "Sg", vpc=vpc),
        volume_key=kms.Key(stack, "Key", enable_key_rotation=True),
        capture_bucket=s3.Bucket(stack, "Artifacts"),
        alarm_topic=sns.Topic(stack, "Alarms"),
    )
    return Template.from_stack(stack)


@pytest.fixture(params=sorted(CASES))
def endpoint(request, stack) -> Template:
    return _endpoint(stack, CASES[request.param])


def _production_variants(endpoint: Template) -> list[dict]:
    (config,) = endpoint.find_resources("AWS::SageMaker::EndpointConfig").values()
    return config["Properties"]["ProductionVariants"]


def _variant_dimensions(alarm: dict) -> set[str]:
    metrics = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m] or [alarm]
    return {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "VariantName"}


def test_every_rollback_alarm_of_the_deployment_config_exists_and_watches_this_endpoint(endpoint) -> None:
    # SageMaker rolls back on the alarms the config names: a name without its alarm never fires.
    (config,) = endpoint.find_resources("AWS::SageMaker::Endpoint").values()
    named = [a["AlarmName"] for a in config["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    alarms = {
        a["Properties"].get("AlarmName"): a["Properties"]
        for a in endpoint.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert named and set(named) <= set(alarms)
    for name in named:
        metrics = [m["MetricStat"]["Metric"] for m in alarms[name].get("Metrics", []) if "MetricStat" in m]
        dimensions = [d for m in metrics or [alarms[name]] for d in m["Dimensions"]]
        assert {d["Name"] for d in dimensions} == {"EndpointName", "VariantName"}


def test_every_alarm_notifies_the_alarm_topic(endpoint) -> None:
    (topic,) = endpoint.find_resources("AWS::SNS::Topic")
    for alarm in endpoint.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_a_canary_never_exceeds_half_of_a_variant(endpoint) -> None:
    (config,) = endpoint.find_resources("AWS::SageMaker::EndpointConfig").values()
    (deployed,) = endpoint.find_resources("AWS::SageMaker::Endpoint").values()
    routing = deployed["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    if routing["Type"] == "CANARY":
        for variant in config["Properties"]["ProductionVariants"]:
            assert routing["CanarySize"]["Value"] * 2 <= variant["InitialInstanceCount"]


def test_models_run_network_isolated_and_capture_lands_under_the_monitoring_prefix(endpoint) -> None:
    for model in endpoint.find_resources("AWS::SageMaker::Model").values():
        assert model["Properties"]["EnableNetworkIsolation"] is True
    (config,) = endpoint.find_resources("AWS::SageMaker::EndpointConfig").values()
    destination = config["Properties"]["DataCaptureConfig"]["DestinationS3Uri"]
    assert destination["Fn::Join"][1][-1].endswith(f"/{DATA_CAPTURE_PREFIX}")


def test_every_alarm_and_scaling_target_names_a_variant_the_endpoint_has(endpoint) -> None:
    # CloudWatch accepts an alarm on any dimension value, and it never fires: a variant that does not exist.
    existing = {v["VariantName"] for v in _production_variants(endpoint)}
    alarms = [a["Properties"] for a in endpoint.find_resources("AWS::CloudWatch::Alarm").values()]
    assert alarms and all(_variant_dimensions(a) and _variant_dimensions(a) <= existing for a in alarms)
    # Application Auto Scaling: endpoint/<endpoint name>/variant/<variant name>, of a variant that exists.
    targets = endpoint.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    named = [t["Properties"]["ResourceId"]["Fn::Join"][1][-1] for t in targets]
    assert sorted(n.removeprefix("/variant/") for n in named) == sorted(existing)


def test_without_a_challenger_the_champion_is_the_one_variant_and_takes_all_traffic(stack) -> None:
    endpoint = _endpoint(stack, SOLO)
    (variant,) = _production_variants(endpoint)
    assert variant["VariantName"] == "champion" and variant["InitialVariantWeight"] == 1
    assert variant["InstanceType"] == "ml.t2.medium" and variant["InitialInstanceCount"] == 1
    assert len(endpoint.find_resources("AWS::SageMaker::Model")) == 1
    names = {a["Properties"]["AlarmName"] for a in endpoint.find_resources("AWS::CloudWatch::Alarm").values()}
    assert names and all(n.startswith("mlops-test-churn-champion-") for n in names)
    (deployed,) = endpoint.find_resources("AWS::SageMaker::Endpoint").values()
    config = deployed["Properties"]["DeploymentConfig"]
    rollback = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    assert sorted(rollback) == ["mlops-test-churn-champion-5xx-rate", "mlops-test-churn-champion-p99-latency"]
    # One instance cannot host a canary (at most half of the variant): everything at once, then the bake.
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": SOLO.serving.bake_minutes * 60}
    (dashboard,) = endpoint.find_resources("AWS::CloudWatch::Dashboard").values()
    assert "challenger" not in json.dumps(dashboard) and "champion" in json.dumps(dashboard)


def test_a_shadow_still_runs_beside_a_lone_champion(stack) -> None:
    endpoint = _endpoint(stack, SOLO, packages=("champion", "shadow"))
    (config,) = endpoint.find_resources("AWS::SageMaker::EndpointConfig").values()
    assert [v["VariantName"] for v in config["Properties"]["ProductionVariants"]] == ["champion"]
    assert [v["VariantName"] for v in config["Properties"]["ShadowProductionVariants"]] == ["shadow"]


@pytest.mark.parametrize(
    ("profile", "packages"), [(SOLO, ("champion", "challenger")), (PROFILES["dev"], ("champion",))]
)
def test_packages_must_match_the_profiles_variants(stack, profile, packages) -> None:
    with pytest.raises(ValueError, match="the endpoint's variants are"):
        _endpoint(stack, profile, packages=packages)
