"""SageMaker models run in the VPC (subnets and security groups) with network isolation on.

Security Hub SageMaker.5 (network isolation); the VPC keeps the model's S3 and ECR traffic private.
"""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings


def check(asm: Assembly, model: Resource, settings: Settings) -> list[str]:
    props = asm.props(model)
    problems = []
    vpc = props.get("VpcConfig") or {}
    if not vpc.get("Subnets") or not vpc.get("SecurityGroupIds"):
        problems.append("no VpcConfig with subnets and security groups")
    if props.get("EnableNetworkIsolation") not in (True, "true"):
        problems.append("EnableNetworkIsolation is not true")
    return problems


RULE = Rule(
    "ModelVpcIsolation",
    "SageMaker models must run in the VPC with network isolation enabled (the container gets no network).",
    ("AWS::SageMaker::Model",),
    check,
)
