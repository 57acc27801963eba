"""Roles whose permissions live in customer-managed policies, never inline.

CDK's ``grant_*`` helpers add statements to a role's inline default policy;
the HIPAA, NIST and PCI packs flag inline policies. ``ManagedRole`` is a role
whose ``add_to_principal_policy`` writes into its customer-managed policy
instead (spilling into another one before IAM's size limit), so a grant by an
L2 construct lands where the packs accept it, and CDK makes the resources that
use the role depend on that policy.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct, IValidation

from ml_constructs.cfn import l1

# The statement helpers lived here first; importers may keep importing them from this module.
from ml_constructs.statements import VPC_ATTACH_ACTIONS as VPC_ATTACH_ACTIONS
from ml_constructs.statements import account_service as account_service
from ml_constructs.statements import kms_use as kms_use
from ml_constructs.statements import logs_write as logs_write
from ml_constructs.statements import s3_read as s3_read
from ml_constructs.statements import s3_write as s3_write
from ml_constructs.statements import sagemaker_metrics as sagemaker_metrics
from ml_constructs.statements import volume_key_grants as volume_key_grants
from posture.checks import acknowledge

# IAM quota: a managed policy document holds at most 6,144 characters, whitespace not counted.
MANAGED_POLICY_MAX_CHARS = 6144
# Unresolved values are counted at their longest plausible length, so a policy
# judged to fit still fits once CloudFormation has filled them in.
_PSEUDO_LENGTHS = {"AWS::AccountId": 12, "AWS::Partition": 10, "AWS::Region": 20, "AWS::URLSuffix": 20}
TOKEN_CHARS = 256


def flatten_reference(value: object) -> str:
    """The string cdk-nag makes of a resolved CloudFormation value (its flattenCfnReference)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return arg[0].join(flatten_reference(v) for v in arg[1])
        if fn == "Fn::Sub":
            return flatten_reference(arg)
        if fn == "Fn::GetAtt":
            return f"<{flatten_reference(arg[0])}.{flatten_reference(arg[1])}>"
        if fn == "Fn::ImportValue":
            return flatten_reference(arg)
        if fn == "Ref":
            return f"<{flatten_reference(arg)}>"
    return json.dumps(value, separators=(",", ":"))


def _estimate(value: object) -> object:
    """``value`` (resolved) with every intrinsic replaced by a string as long as it can plausibly become."""
    if isinstance(value, list):
        return [_estimate(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref" and arg in _PSEUDO_LENGTHS:
                return "x" * _PSEUDO_LENGTHS[arg]
            if fn == "Fn::Join":
                return str(arg[0]).join(str(_estimate(part)) for part in arg[1])
            if fn == "Ref" or fn.startswith("Fn::"):
                return "x" * TOKEN_CHARS
        return {k: _estimate(v) for k, v in value.items()}
    return value


def policy_size(scope: Construct, statements: list[dict] | list[iam.PolicyStatement]) -> int:
    """Characters IAM counts for a policy document of ``statements`` (no whitespace), tokens counted long."""
    stack = Stack.of(scope)
    resolved = [stack.resolve(s.to_statement_json() if isinstance(s, iam.PolicyStatement) else s) for s in statements]
    document = {"Version": "2012-10-17", "Statement": _estimate(resolved)}
    return len("".join(json.dumps(document, separators=(",", ":")).split()))


class _PolicyRole(iam.Role):
    """An ``iam.Role`` whose principal policy is a series of customer-managed policies (its children)."""

    def __init__(self, scope: Construct, construct_id: str, *, assumed_by: iam.IPrincipal, description: str) -> None:
        super().__init__(scope, construct_id, assumed_by=assumed_by, description=description)
        self._description = description
        self._acknowledgments: list[tuple[str, str]] = []
        self._wildcards: list[tuple[list[str], str]] = []
        self.policies: list[iam.ManagedPolicy] = []
        self._statements: list[list[iam.PolicyStatement]] = []
        self._new_policy()

    def _new_policy(self) -> iam.ManagedPolicy:
        n = len(self.policies) + 1
        policy = iam.ManagedPolicy(
            self,
            "Policy" if n == 1 else f"Policy{n}",
            description=self._description if n == 1 else f"{self._description} (part {n})",
            roles=[self],
        )
        policy.node.add_validation(_Checks(policy, self._wildcards))
        self.policies.append(policy)
        self._statements.append([])
        for rule, reason in self._acknowledgments:
            acknowledge(l1(policy, CfnResource), rule, reason)
        return policy

    def acknowledge_wildcards(self, resources: list[str], reason: str) -> None:
        self._wildcards.append((resources, reason))

    def acknowledge(self, rule: str, reason: str) -> None:
        self._acknowledgments.append((rule, reason))
        for policy in self.policies:
            acknowledge(l1(policy, CfnResource), rule, reason)

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        if not hasattr(self, "policies"):
            raise RuntimeError("statement added to a ManagedRole before it was built")
        if policy_size(self, [*self._statements[-1], statement]) > MANAGED_POLICY_MAX_CHARS:
            if not self._statements[-1] or policy_size(self, [statement]) > MANAGED_POLICY_MAX_CHARS:
                raise ValueError(f"{self.node.path}: one statement exceeds a managed policy's size limit")
            self._new_policy()
        self.policies[-1].add_statements(statement)
        self._statements[-1].append(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self.policies[-1])


@jsii.implements(IValidation)
class _Checks:
    """At validation, when references have their final form: acknowledge the role's wildcard
    resources (a cross-stack reference is only rewritten then), and fail synth if the policy grew
    past the limit after its statements were placed (statements are mutable)."""

    def __init__(self, policy: iam.ManagedPolicy, wildcards: list[tuple[list[str], str]]) -> None:
        self._policy = policy
        self._wildcards = wildcards

    def validate(self) -> list[str]:
        stack = Stack.of(self._policy)
        for resources, reason in self._wildcards:
            for resource in resources:
                rule = f"AwsSolutions-IAM5[Resource::{flatten_reference(stack.resolve(resource))}]"
                acknowledge(l1(self._policy, CfnResource), rule, reason)
        statements = stack.resolve(self._policy.document).get("Statement", [])
        size = policy_size(self._policy, statements)
        if size > MANAGED_POLICY_MAX_CHARS:
            return [f"policy is about {size} characters, over IAM's {MANAGED_POLICY_MAX_CHARS} for a managed policy"]
        return []


class ManagedRole(Construct):
    """An IAM role whose permissions, given here or granted later, live in customer-managed policies.

    Grants (``bucket.grant_read(role.role)``) land in the managed policy, which
    spills into ``Policy2``, ``Policy3``... before IAM's 6,144-character limit.
    Constructs that pass the role to CloudFormation resources depend on the
    role and its policies (CDK adds that for Lambda and Firehose through the
    grant results); depend on ``role`` (the construct) for anything else.

    Attributes: ``role`` and ``iam_role`` (the same grantable ``iam.Role``),
    ``policy`` (the first managed policy), ``policies`` (all of them).

    :param assumed_by: the principal trusted to assume the role.
    :param description: what the role is for.
    :param statements: the permissions the role starts with.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assumed_by: iam.IPrincipal,
        description: str,
        statements: list[iam.PolicyStatement],
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = _PolicyRole(self, "Role", assumed_by=assumed_by, description=description)
        self.iam_role = self.role
        self.add_statements(*statements)

    @property
    def policy(self) -> iam.ManagedPolicy:
        return self.role.policies[0]

    @property
    def policies(self) -> list[iam.ManagedPolicy]:
        return list(self.role.policies)

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def acknowledge(self, rule: str, reason: str) -> None:
        """Acknowledge a finding on every managed policy of the role, those it spills into later included."""
        self.role.acknowledge(rule, reason)

    def acknowledge_wildcards(self, resources: list[str], reason: str) -> None:
        """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources, on every policy of the role."""
        self.role.acknowledge_wildcards(resources, reason)
