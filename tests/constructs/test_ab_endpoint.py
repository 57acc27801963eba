"""The A/B endpoint in a bare stack, for every profile: what SageMaker and CloudWatch require."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from config.names import DATA_CAPTURE_PREFIX
from config.profiles import PROFILES
from ml_constructs.ab_endpoint import AbEndpoint
from ml_constructs.endpoint_watch import VARIANTS
from pipelines.data import spec as specs


def _endpoint(stack: cdk.Stack, profile: str) -> Template:
    vpc = ec2.Vpc(
        stack, "Vpc", max_azs=2, nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="workload", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )  # fmt: skip
    AbEndpoint(
        stack,
        "Churn",
        name="mlops-test-churn",
        settings=PROFILES[profile].serving,
        dataset=specs.load(PROFILES[profile].dataset),
        packages={v: cdk.CfnParameter(stack, f"{v}Package", default="").value_as_string for v in VARIANTS},
        role_arn=f"arn:aws:iam::{stack.account}:role/model",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_group_name="workload"),
        security_group=ec2.SecurityGroup(stack, "Sg", vpc=vpc),
        volume_key=kms.Key(stack, "Key", enable_key_rotation=True),
        capture_bucket=s3.Bucket(stack, "Artifacts"),
        alarm_topic=sns.Topic(stack, "Alarms"),
    )
    return Template.from_stack(stack)


@pytest.fixture(params=sorted(PROFILES))
def endpoint(request, stack) -> Template:
    return _endpoint(stack, request.param)


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
