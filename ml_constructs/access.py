"""Managed policies a data-lake bucket publishes for each way it is used.

A policy lives in the stack that owns the bucket and its key; consumers in
other stacks attach it to their roles. Object-level S3 permissions need a
``prefix/*`` resource, which AwsSolutions-IAM5 reports; each such finding is
acknowledged here, by its exact id, on this policy only.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_constructs.cfn import l1
from ml_constructs.iam import ManagedRole, flatten_reference
from posture.checks import acknowledge

_PREFIX_REASON = (
    "Object-level S3 actions need an object ARN; this grants one prefix of one bucket "
    "(bucket/prefix/*), never the whole account's S3."
)


def acknowledge_wildcards(policy: iam.ManagedPolicy | ManagedRole, resources: list[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources of ``policy``
    (of every policy of a ``ManagedRole``, those it spills into later included)."""
    if isinstance(policy, ManagedRole):
        policy.acknowledge_wildcards(resources, reason)
        return
    stack = Stack.of(policy)
    for resource in resources:
        flat = flatten_reference(stack.resolve(resource))
        acknowledge(l1(policy, CfnResource), f"AwsSolutions-IAM5[Resource::{flat}]", reason)


class BucketAccessPolicy(Construct):
    """A customer-managed policy: read and/or write given prefixes of one bucket with its key.

    Attributes: ``policy``.

    :param bucket: the bucket.
    :param key: the bucket's KMS key (decrypt to read, generate data keys to write).
    :param read_prefixes: prefixes whose objects may be read ("" = the whole bucket).
    :param write_prefixes: prefixes where objects may be written and replaced.
    :param description: what the policy is for.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        description: str,
        read_prefixes: tuple[str, ...] = (),
        write_prefixes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        prefixes = sorted(set(read_prefixes) | set(write_prefixes))
        # s3:prefix is in the request context of ListBucket only: on GetBucketLocation or
        # ListBucketMultipartUploads the condition would never match and silently deny them.
        listing = iam.PolicyStatement(sid="List", actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        if "" not in prefixes:
            listing.add_condition("StringLike", {"s3:prefix": [f"{p}*" for p in prefixes]})
        statements = [
            listing,
            iam.PolicyStatement(
                sid="Bucket",
                actions=["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            ),
        ]
        key_actions = set()
        if read_prefixes:
            statements.append(
                iam.PolicyStatement(
                    sid="Read",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[bucket.arn_for_objects(f"{p}*") for p in read_prefixes],
                )
            )
            key_actions |= {"kms:Decrypt", "kms:DescribeKey"}
        if write_prefixes:
            statements.append(
                iam.PolicyStatement(
                    sid="Write",
                    actions=[
                        "s3:PutObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                        "s3:DeleteObject",
                    ],
                    resources=[bucket.arn_for_objects(f"{p}*") for p in write_prefixes],
                )
            )
            key_actions |= {"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"}
        statements.append(iam.PolicyStatement(sid="Key", actions=sorted(key_actions), resources=[key.key_arn]))
        self.policy = iam.ManagedPolicy(self, "Policy", description=description, statements=statements)
        acknowledge_wildcards(self.policy, [bucket.arn_for_objects(f"{p}*") for p in prefixes], _PREFIX_REASON)
