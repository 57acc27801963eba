"""Least-privilege policy statements the platform's roles share."""

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


def s3_read(bucket: s3.IBucket, prefix: str = "") -> list[iam.PolicyStatement]:
    """List the bucket (under ``prefix``) and read its objects under ``prefix``."""
    # s3:prefix is in ListBucket's request context only; on GetBucketLocation it would deny.
    listing = iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    if prefix:
        listing.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
    return [
        listing,
        iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
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
