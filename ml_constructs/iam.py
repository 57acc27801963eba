"""Roles whose permissions are written out, in one customer-managed policy each.

CDK's ``grant_*`` helpers add statements to a role's inline default policy;
the HIPAA, NIST and PCI packs flag inline policies. These helpers keep the
same least-privilege statements in a managed policy, and hand out the role
without policy updates so nothing adds an inline policy later.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

# What a service needs to attach its jobs or containers to the VPC; EC2 offers no
# resource-level scoping for these (the interface does not exist yet).
VPC_ATTACH_ACTIONS = [
    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
]  # fmt: skip


def account_service(scope: Construct, service: str) -> iam.ServicePrincipal:
    """``service`` (``sagemaker.amazonaws.com``), acting for this account only (confused-deputy guard)."""
    return iam.ServicePrincipal(service, conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}})


class ManagedRole(Construct):
    """An IAM role with exactly the given statements, in a customer-managed policy.

    Attributes: ``iam_role`` (the role), ``role`` (the same role, closed to
    policy updates: pass it to L2 constructs so they cannot add inline
    statements), ``policy`` (the managed policy).

    :param assumed_by: the principal trusted to assume the role.
    :param description: what the role is for.
    :param statements: every permission the role has.
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
        self.policy = iam.ManagedPolicy(self, "Policy", description=description, statements=statements)
        self.iam_role = iam.Role(
            self, "Role", assumed_by=assumed_by, description=description, managed_policies=[self.policy]
        )
        self.role = self.iam_role.without_policy_updates()

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        self.policy.add_statements(*statements)


def s3_read(bucket: s3.IBucket, prefix: str = "") -> list[iam.PolicyStatement]:
    """List the bucket (under ``prefix``) and read its objects under ``prefix``."""
    listing = iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn])
    if prefix:
        listing.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
    return [
        listing,
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[bucket.arn_for_objects(f"{prefix}*")]
        ),
    ]


def s3_write(bucket: s3.IBucket, prefix: str = "") -> list[iam.PolicyStatement]:
    """Write (and overwrite) objects under ``prefix``; no delete of other prefixes."""
    return [
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    ]


def kms_use(key: kms.IKey) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"],
        resources=[key.key_arn],
    )


def logs_write(group: logs.ILogGroup) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn])


def sagemaker_metrics() -> iam.PolicyStatement:
    """PutMetricData for SageMaker jobs and endpoints: the API has no resources, the namespace is the scope."""
    return iam.PolicyStatement(
        sid="Metrics",
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
    )


def volume_key_grants(key: kms.IKey) -> iam.PolicyStatement:
    """Let SageMaker attach ``key`` to the volumes it creates, and nothing else."""
    return iam.PolicyStatement(
        sid="VolumeKey",
        actions=["kms:CreateGrant"],
        resources=[key.key_arn],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
