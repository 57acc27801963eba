"""The reachability rule on a hand-made VPC: endpoints, routes and security groups, one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from posture.contracts.access import reaches
from posture.contracts.iam import Request
from tests.contracts import hand

VPC_CIDR = "10.0.0.0/16"


def network(*, endpoint: str | None = None, egress: list[dict] | None = None, endpoint_ingress: str | None = VPC_CIDR,
            nat: bool = False, private_dns: bool = True, policy: dict | None = None) -> dict:  # fmt: skip
    resources: dict[str, dict] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": VPC_CIDR}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/20"}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation",
                  "Properties": {"RouteTableId": {"Ref": "Table"}, "SubnetId": {"Ref": "Subnet"}}},
        "FnSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "SecurityGroupEgress": egress if egress is not None else [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": VPC_CIDR}]}},
        "EpSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": endpoint_ingress}] if endpoint_ingress else []}},
    }  # fmt: skip
    if endpoint == "gateway":
        resources["Ep"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.eu-west-1.dynamodb", "VpcEndpointType": "Gateway",
            "RouteTableIds": [{"Ref": "Table"}], **({"PolicyDocument": policy} if policy else {})}}  # fmt: skip
    if endpoint == "interface":
        resources["Ep"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.eu-west-1.dynamodb", "VpcEndpointType": "Interface",
            "PrivateDnsEnabled": private_dns, "SubnetIds": [{"Ref": "Subnet"}],
            "SecurityGroupIds": [{"Fn::GetAtt": ["EpSg", "GroupId"]}]}}  # fmt: skip
    if nat:
        resources["Nat"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
        resources["Route"] = {"Type": "AWS::EC2::Route", "Properties": {
            "RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": "Nat"}}}  # fmt: skip
    return {"Resources": resources}


ANYWHERE = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}]
# What CDK writes for allow_all_outbound=False: a rule that matches nothing, so EC2 adds no default.
NO_EGRESS = [{"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32"}]
DEFAULT_EGRESS: list[dict] = []  # no rules declared: EC2's default allows all egress
PREFIX_LIST = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "DestinationPrefixListId": "pl-dynamodb"}]


@pytest.mark.parametrize(
    ("case", "kwargs", "reachable"),
    [
        ("no endpoint, no NAT", {}, False),
        ("gateway endpoint, egress only to the VPC", {"endpoint": "gateway"}, False),
        ("gateway endpoint, egress to its prefix list", {"endpoint": "gateway", "egress": PREFIX_LIST}, True),
        ("interface endpoint admitting the VPC", {"endpoint": "interface"}, True),
        ("interface endpoint without private DNS", {"endpoint": "interface", "private_dns": False}, False),
        ("interface endpoint admitting nobody", {"endpoint": "interface", "endpoint_ingress": None}, False),
        ("interface endpoint, no egress at all", {"endpoint": "interface", "egress": NO_EGRESS}, False),
        ("interface endpoint, EC2's default egress", {"endpoint": "interface", "egress": DEFAULT_EGRESS}, True),
        ("NAT and egress anywhere", {"nat": True, "egress": ANYWHERE}, True),
        ("NAT but egress only to the VPC", {"nat": True}, False),
    ],
)
def test_reachability(tmp_path: Path, case: str, kwargs: dict, reachable: bool) -> None:
    asm = hand.assembly(tmp_path, {"net": network(**kwargs)})
    subnet = asm.resolve("net", {"Ref": "Subnet"})
    group = asm.resolve("net", {"Fn::GetAtt": ["FnSg", "GroupId"]})
    problems = reaches(asm, [subnet], [group], "dynamodb")
    assert (problems == []) is reachable, (case, problems)


def test_an_endpoint_policy_must_admit_the_request(tmp_path: Path) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "dynamodb:*",
                             "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
                             "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]}  # fmt: skip
    asm = hand.assembly(tmp_path, {"net": network(endpoint="gateway", egress=PREFIX_LIST, policy=policy)})
    subnet = asm.resolve("net", {"Ref": "Subnet"})
    group = asm.resolve("net", {"Fn::GetAtt": ["FnSg", "GroupId"]})
    role = {"AWS": "arn:aws:iam::123456789012:role/r"}

    def call(table: str, account: str) -> list[str]:
        request = Request("dynamodb:PutItem", f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}",
                          {"aws:PrincipalAccount": account})  # fmt: skip
        return reaches(asm, [subnet], [group], "dynamodb", [request], role)

    assert call("decisions", "123456789012") == []
    assert call("decisions", "999999999999") != []
