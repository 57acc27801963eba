"""Compute attached to the VPC can reach (endpoint or NAT, routes and security groups) each service it uses.

A Lambda function in the VPC reaches the API of every service its role names (the services the
code calls; Lambda itself ships logs and traces). Pipeline steps, endpoint models and Glue jobs
reach what SageMaker and Glue move through their network interfaces (the same checks the
contract tests make: posture.contracts.services).
"""

from __future__ import annotations

import re

from posture.contracts.access import role_of_function, role_statements
from posture.contracts.model import Assembly, Resource
from posture.contracts.services import endpoint_networks, glue_job_networks, network_problems, pipeline_networks
from posture.ml_pack import Rule, Settings

# Action prefixes whose calls the function's own code makes, and the endpoint prefix that serves them.
# iam (PassRole is no call), ec2 (ENIs: the Lambda service), logs and xray (shipped by Lambda) are left out.
SERVICE_ENDPOINTS = {
    "s3": "s3", "dynamodb": "dynamodb", "kms": "kms", "sns": "sns", "sqs": "sqs", "events": "events",
    "cloudwatch": "monitoring", "sagemaker": "api.sagemaker", "states": "states", "glue": "glue",
    "kinesis": "kinesis", "firehose": "firehose", "cloudformation": "cloudformation", "sts": "sts",
    "lambda": "lambda", "secretsmanager": "secretsmanager", "ssm": "ssm", "ecr": "ecr.api",
    "scheduler": "scheduler", "athena": "athena", "lakeformation": "lakeformation",
}  # fmt: skip
# Glue jobs: their data (S3), the catalog, their logs and metrics.
GLUE_SERVICES = ("s3", "glue", "logs", "monitoring")


# CloudFormation reads this parameter (the template's BootstrapVersion) when the function updates a stack.
_CFN_RESOLVED = re.compile(r"^arn:[\w-]+:ssm:[\w-]+:\d{12}:parameter/cdk-bootstrap/")


def _service_sends_to(asm: Assembly, function: Resource) -> set[str]:
    """ARNs Lambda itself writes to for the function: its dead-letter target and async destinations."""
    name = asm.resolve(function.stack, {"Ref": function.logical_id})
    out = {asm.props(function).get("DeadLetterConfig", {}).get("TargetArn")}
    for config in asm.resources("AWS::Lambda::EventInvokeConfig"):
        props = asm.props(config)
        if props.get("FunctionName") == name:
            destinations = props.get("DestinationConfig", {})
            out |= {destinations.get(k, {}).get("Destination") for k in ("OnFailure", "OnSuccess")}
    return out - {None}


def services_named(asm: Assembly, function: Resource) -> list[str]:
    """Endpoint prefixes of the services the function's code calls (as its role names them)."""
    by_lambda = _service_sends_to(asm, function)
    prefixes = set()
    for statement in role_statements(asm, role_of_function(asm, function)):
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        on_behalf = all(r in by_lambda or _CFN_RESOLVED.match(str(r)) for r in resources)
        if statement.get("Effect") != "Allow" or (resources and on_behalf):
            continue
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            prefixes.add(action.split(":", 1)[0])
    return sorted({SERVICE_ENDPOINTS[p] for p in prefixes if p in SERVICE_ENDPOINTS})


def check(asm: Assembly, resource: Resource, settings: Settings) -> list[str]:
    props = asm.props(resource)
    if resource.type == "AWS::Lambda::Function":
        vpc = props.get("VpcConfig") or {}
        if not vpc.get("SubnetIds"):
            return []
        services = tuple(services_named(asm, resource))
        return network_problems(asm, "function", vpc["SubnetIds"], vpc.get("SecurityGroupIds", []), services)
    if resource.type == "AWS::SageMaker::Pipeline":
        networks, services = pipeline_networks(asm, resource), ("s3",)
    elif resource.type == "AWS::SageMaker::Endpoint":
        networks, services = endpoint_networks(asm, resource), ("s3",)
    else:
        networks, services = glue_job_networks(asm, resource), GLUE_SERVICES
    return [p for who, subnets, groups in networks for p in network_problems(asm, who, subnets, groups, services)]


RULE = Rule(
    "VpcServiceReachability",
    "VPC-attached compute must reach every AWS service it uses through a VPC endpoint or NAT.",
    ("AWS::Lambda::Function", "AWS::SageMaker::Pipeline", "AWS::SageMaker::Endpoint", "AWS::Glue::Job"),
    check,
)
