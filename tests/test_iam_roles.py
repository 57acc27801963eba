"""ManagedRole: grants by L2 constructs land in customer-managed policies that IAM accepts."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from ml_constructs.iam import MANAGED_POLICY_MAX_CHARS, ManagedRole, policy_size
from tests.conftest import Assembly, app_with_project_flags


def _stack() -> cdk.Stack:
    return cdk.Stack(app_with_project_flags(), "Roles", env=cdk.Environment(account="123456789012", region="eu-west-1"))


def _role(stack: cdk.Stack, construct_id: str = "Worker") -> ManagedRole:
    return ManagedRole(
        stack, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description="worker",
        statements=[iam.PolicyStatement(actions=["sqs:ListQueues"], resources=["*"])],
    )  # fmt: skip


def _resources(stack: cdk.Stack, cfn_type: str) -> dict[str, dict]:
    template = cdk.assertions.Template.from_stack(stack).to_json()
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _actions(policy: dict) -> set[str]:
    out: set[str] = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        action = statement["Action"]
        out |= {action} if isinstance(action, str) else set(action)
    return out


def test_grants_of_l2_constructs_land_in_the_managed_policy() -> None:
    stack = _stack()
    role = _role(stack)
    bucket = s3.Bucket(stack, "Bucket")
    key = kms.Key(stack, "Key")
    table = dynamodb.TableV2(
        stack, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    bucket.grant_read(role.role)
    key.grant_decrypt(role.role)
    table.grant_read_write_data(role.iam_role)
    assert _resources(stack, "AWS::IAM::Policy") == {}
    (policy,) = _resources(stack, "AWS::IAM::ManagedPolicy").values()
    assert {"s3:GetObject*", "kms:Decrypt", "dynamodb:PutItem", "sqs:ListQueues"} <= _actions(policy)
    (role_id,) = _resources(stack, "AWS::IAM::Role")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]


def test_a_function_created_with_the_role_waits_for_its_policies() -> None:
    stack = _stack()
    role = _role(stack)
    fn = lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"), role=role.role,
    )  # fmt: skip
    s3.Bucket(stack, "Bucket").grant_read(fn)
    (function,) = _resources(stack, "AWS::Lambda::Function").values()
    policies = set(_resources(stack, "AWS::IAM::ManagedPolicy"))
    assert policies and policies <= set(function["DependsOn"])


def test_a_role_with_many_statements_spills_into_more_managed_policies_each_under_the_limit() -> None:
    stack = _stack()
    role = _role(stack)
    bucket = s3.Bucket(stack, "Bucket")
    for i in range(80):
        role.add_statements(
            iam.PolicyStatement(
                sid=f"Read{i}", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"prefix-{i}/*")]
            )
        )
    policies = _resources(stack, "AWS::IAM::ManagedPolicy")
    assert len(policies) >= 2 and len(role.policies) == len(policies)
    (role_id,) = _resources(stack, "AWS::IAM::Role")
    sids = set()
    for policy in policies.values():
        assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
        document = policy["Properties"]["PolicyDocument"]
        assert policy_size(stack, document["Statement"]) <= MANAGED_POLICY_MAX_CHARS
        sids |= {s.get("Sid") for s in document["Statement"]}
    assert {f"Read{i}" for i in range(80)} <= sids


def test_policy_size_is_counted_without_whitespace_and_tokens_at_their_longest() -> None:
    stack = _stack()
    literal = iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/key with space"])
    document = {"Version": "2012-10-17", "Statement": [stack.resolve(literal.to_statement_json())]}
    assert policy_size(stack, [literal]) == len("".join(json.dumps(document).split()))
    key = kms.Key(stack, "Key")
    token = iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn])
    longest_key_arn = len("arn:aws-us-gov:kms:ap-southeast-4:123456789012:key/") + 36
    assert policy_size(stack, [token]) >= len('{"Version":"2012-10-17","Statement":[{}]}') + longest_key_arn


def test_no_role_anywhere_has_an_inline_policy(assembly: Assembly) -> None:
    for stack in assembly.manifest["artifacts"]:
        if stack.startswith(f"mlops-{assembly.profile}-") and stack.count(".") == 0:
            suffix = stack.removeprefix(f"mlops-{assembly.profile}-")
            if (assembly.outdir / f"{stack}.template.json").exists():
                assert assembly.resources(suffix, "AWS::IAM::Policy") == {}, stack


def test_every_managed_policy_in_the_templates_fits_iam(assembly: Assembly) -> None:
    for template in assembly.outdir.glob("*.template.json"):
        resources = json.loads(template.read_text())["Resources"]
        for rid, res in resources.items():
            if res["Type"] == "AWS::IAM::ManagedPolicy":
                statements = res["Properties"]["PolicyDocument"]["Statement"]
                assert policy_size(_stack(), statements) <= MANAGED_POLICY_MAX_CHARS, (template.name, rid)


def _role_id(value: object) -> str | None:
    """The role's logical id in ``{"Fn::GetAtt": [role, "Arn"]}``, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return value["Fn::GetAtt"][0]
    return None


def test_functions_and_delivery_streams_wait_for_their_roles_policies(assembly: Assembly) -> None:
    """IAM is eventually consistent: a VPC Lambda or a delivery stream created before its role's
    policy is attached fails (or runs without permissions) on its first call."""
    checked = 0
    for template in assembly.outdir.glob("*.template.json"):
        resources = json.loads(template.read_text())["Resources"]
        policies_of: dict[str, set[str]] = {}
        for pid, res in resources.items():
            if res["Type"] == "AWS::IAM::ManagedPolicy":
                for role in res["Properties"].get("Roles", []):
                    policies_of.setdefault(role["Ref"], set()).add(pid)
        for rid, res in resources.items():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::Lambda::Function":
                roles = {_role_id(props["Role"])}
            elif res["Type"] == "AWS::KinesisFirehose::DeliveryStream":
                roles = {_role_id(props["KinesisStreamSourceConfiguration"]["RoleARN"]),
                         _role_id(props["ExtendedS3DestinationConfiguration"]["RoleARN"])}  # fmt: skip
            else:
                continue
            needed = set().union(*(policies_of.get(role, set()) for role in roles if role))
            assert needed <= set(res.get("DependsOn", [])), (template.name, rid, needed)
            checked += bool(needed)
    assert checked >= 3
