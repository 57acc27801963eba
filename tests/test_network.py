"""Network stack: isolated subnets in every zone, private API paths, flow logs."""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from config import PROFILES
from stacks.network import INTERFACE_ENDPOINTS, NetworkStack
from tests.conftest import Assembly, app_with_project_flags

REQUIRED_ENDPOINTS = {
    "sagemaker.api", "sagemaker.runtime", "sts", "logs", "monitoring", "kms",
    "ecr.api", "ecr.dkr", "glue", "kinesis-streams", "kinesis-firehose", "events",
}  # fmt: skip


def _service_suffix(resource: dict) -> str:
    name = resource["Properties"]["ServiceName"]
    if isinstance(name, dict):  # Fn::Join ["", ["com.amazonaws.", region, ".sagemaker.api"]]
        name = "".join(p if isinstance(p, str) else "" for p in name["Fn::Join"][1])
    return name.split(".", 3)[-1] if name.startswith("com.amazonaws.") else name


def test_interface_endpoints_cover_every_api_the_workloads_call(assembly: Assembly) -> None:
    endpoints = assembly.resources("network", "AWS::EC2::VPCEndpoint")
    interface = {
        _service_suffix(r) for r in endpoints.values() if r["Properties"].get("VpcEndpointType") == "Interface"
    }
    # Without functions or Glue in the VPC, SageMaker compute needs only the S3 gateway endpoint.
    assert interface >= REQUIRED_ENDPOINTS if PROFILES[assembly.profile].functions_in_vpc else interface == set()
    assert all(
        r["Properties"].get("PrivateDnsEnabled")
        for r in endpoints.values()
        if r["Properties"].get("VpcEndpointType") == "Interface"
    )
    gateway = [r for r in endpoints.values() if r["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"]
    assert sorted(_service_suffix(g).rsplit(".", 1)[-1] for g in gateway) == ["dynamodb", "s3"]


def _gateway(assembly: Assembly, service: str) -> dict:
    endpoints = assembly.resources("network", "AWS::EC2::VPCEndpoint").values()
    (endpoint,) = [
        e["Properties"] for e in endpoints
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway" and _service_suffix(e).rsplit(".", 1)[-1] == service
    ]  # fmt: skip
    return endpoint


def _subnet_of_output(assembly: Assembly, value: dict) -> str:
    """The network stack's subnet a consumer's cross-stack reference resolves to."""
    output = assembly.template("network")["Outputs"][value["Fn::GetStackOutput"]["OutputName"]]
    return output["Value"]["Ref"]


def test_retraining_guard_reaches_dynamodb_through_the_gateway_endpoint(assembly: Assembly) -> None:
    """Isolated subnets, no NAT: the guard's subnets need the DynamoDB gateway route, and its
    security group HTTPS egress to the endpoint's addresses (the service's prefix list)."""
    training = assembly.template("training")["Resources"]
    (guard,) = [
        v for k, v in training.items() if v["Type"] == "AWS::Lambda::Function" and k.startswith("GuardFunction")
    ]
    if not PROFILES[assembly.profile].functions_in_vpc:
        assert "VpcConfig" not in guard["Properties"]
        return
    subnets = {_subnet_of_output(assembly, s) for s in guard["Properties"]["VpcConfig"]["SubnetIds"]}
    associations = assembly.resources("network", "AWS::EC2::SubnetRouteTableAssociation").values()
    route_tables = {
        a["Properties"]["RouteTableId"]["Ref"] for a in associations if a["Properties"]["SubnetId"]["Ref"] in subnets
    }
    assert subnets and len(route_tables) == len(subnets)
    dynamodb = _gateway(assembly, "dynamodb")
    assert route_tables <= {r["Ref"] for r in dynamodb["RouteTableIds"]}
    (sg_ref,) = guard["Properties"]["VpcConfig"]["SecurityGroupIds"]
    egress = training[sg_ref["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"]
    assert any(
        e["IpProtocol"] == "tcp" and e["FromPort"] <= 443 <= e["ToPort"]
        and (e.get("CidrIp") == "0.0.0.0/0" or "DestinationPrefixListId" in e)
        for e in egress
    )  # fmt: skip


def test_dynamodb_endpoint_admits_only_this_accounts_tables(assembly: Assembly) -> None:
    (statement,) = _gateway(assembly, "dynamodb")["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
    resource = json.dumps(statement["Resource"])
    assert ":dynamodb:" in resource and "AWS::AccountId" in resource and ":table/*" in resource


def test_endpoint_security_group_admits_only_https_from_the_vpc(assembly: Assembly) -> None:
    profile = PROFILES[assembly.profile]
    groups = assembly.resources("network", "AWS::EC2::SecurityGroup")
    found = [g for k, g in groups.items() if k.startswith("EndpointSecurityGroup")]
    assert len(found) == int(profile.functions_in_vpc)
    if not found:
        return
    (sg,) = found
    assert sg["Properties"]["SecurityGroupIngress"] == [
        {
            "CidrIp": profile.vpc_cidr,
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    # allow_all_outbound=False: CDK writes a single rule that matches no traffic.
    assert sg["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"


def test_only_sagemaker_compute_is_in_the_vpc_where_the_profile_says_so(assembly: Assembly) -> None:
    """vpc_workloads "sagemaker": no function and no Glue job or connection in the VPC, and each such
    function acknowledges the packs' LambdaInsideVPC finding; SageMaker models and jobs stay in it."""
    in_vpc = PROFILES[assembly.profile].functions_in_vpc
    for path in sorted(assembly.outdir.glob(f"mlops-{assembly.profile}-*.template.json")):
        stack = path.name.removesuffix(".template.json").removeprefix(f"mlops-{assembly.profile}-")
        for rid, res in assembly.template(stack)["Resources"].items():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::Lambda::Function" and "Handler" in props and "lambda_handler" in props["Handler"]:
                assert ("VpcConfig" in props) == in_vpc, rid
                reasons = json.dumps(res.get("Metadata", {}))
                assert ("LambdaInsideVPC" in reasons) == (not in_vpc), rid
            if res["Type"] == "AWS::Glue::Job":
                assert ("Connections" in props) == in_vpc, rid
            if res["Type"] == "AWS::SageMaker::Model":
                assert props["VpcConfig"]["Subnets"] and props["EnableNetworkIsolation"] is True, rid
        assert (assembly.resources(stack, "AWS::Glue::Connection") != {}) == (in_vpc and stack == "data-lake")


def test_no_ingress_from_anywhere(assembly: Assembly) -> None:
    for stack in ("network", "data-lake"):
        for rid, res in assembly.template(stack)["Resources"].items():
            props = res.get("Properties", {})
            rules = props.get("SecurityGroupIngress", []) if res["Type"] == "AWS::EC2::SecurityGroup" else []
            if res["Type"] == "AWS::EC2::SecurityGroupIngress":
                rules = [props]
            for rule in rules:
                assert rule.get("CidrIp") != "0.0.0.0/0" and rule.get("CidrIpv6") != "::/0", rid


def test_workload_subnets_are_isolated_in_every_zone(assembly: Assembly) -> None:
    profile = PROFILES[assembly.profile]
    subnets = assembly.resources("network", "AWS::EC2::Subnet")
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets.values()) == sorted(profile.availability_zones)
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    for cfn_type in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway"):
        assert assembly.resources("network", cfn_type) == {}
    routes = assembly.resources("network", "AWS::EC2::Route")
    assert not [r for r in routes.values() if r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_default_security_group_is_restricted(assembly: Assembly) -> None:
    assert assembly.resources("network", "Custom::VpcRestrictDefaultSG")


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(assembly: Assembly) -> None:
    profile = PROFILES[assembly.profile]
    template = assembly.template("network")["Resources"]
    (flow_log,) = assembly.resources("network", "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    group_id = flow_log["Properties"]["LogGroupName"]["Ref"]
    group = template[group_id]["Properties"]
    assert group["RetentionInDays"] == profile.log_retention_days
    key_id = group["KmsKeyId"]["Fn::GetAtt"][0]
    key = template[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    logs_statement = next(s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchLogsEncryptLogGroups")
    assert logs_statement["Principal"]["Service"] == f"logs.{profile.region}.amazonaws.com"
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]


def test_flow_log_role_has_no_inline_policy(assembly: Assembly) -> None:
    assert assembly.resources("network", "AWS::IAM::Policy") == {}
    (role,) = [r for k, r in assembly.resources("network", "AWS::IAM::Role").items() if k.startswith("FlowLogRole")]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"]["Service"] == "vpc-flow-logs.amazonaws.com"
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


@pytest.fixture(scope="module")
def nat_template() -> Template:
    """A profile that asks for an internet path (built without the packs, to inspect shape only)."""
    profile = dataclasses.replace(PROFILES["dev"], nat_gateways=2)
    app = app_with_project_flags()
    stack = NetworkStack(
        app, "Nat", profile=profile, env=cdk.Environment(region=profile.region), description="nat variant"
    )
    return Template.from_stack(stack)


def test_nat_profile_routes_workloads_out_through_nat_gateways(nat_template: Template) -> None:
    nat_template.resource_count_is("AWS::EC2::NatGateway", 2)
    nat_template.resource_count_is("AWS::EC2::InternetGateway", 1)
    nat_template.has_resource_properties(
        "AWS::EC2::Route",
        {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": cdk.assertions.Match.any_value()}},
    )
    nat_template.resource_count_is("AWS::EC2::VPCEndpoint", len(INTERFACE_ENDPOINTS) + 2)  # S3, DynamoDB gateways
