"""Managed policies a data-lake bucket publishes for each way it is used.

A policy lives in the stack that owns the bucket and its key; consumers in
other stacks attach it to their roles. Object-level S3 permissions need a
``prefix/*`` resource, which AwsSolutions-IAM5 reports; each such finding is
acknowledged here, by its exact id, on this policy only.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from posture.checks import acknowledge

_PREFIX_REASON = (
    "Object-level S3 actions need an object ARN; this grants one prefix of one bucket "
    "(bucket/prefix/*), never the whole account's S3."
)


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


def acknowledge_wildcards(policy: iam.ManagedPolicy, resources: list[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources of ``policy``."""
    stack = Stack.of(policy)
    for resource in resources:
        flat = flatten_reference(stack.resolve(resource))
        acknowledge(policy.node.default_child, f"AwsSolutions-IAM5[Resource::{flat}]", reason)


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
        listing = iam.PolicyStatement(
            sid="List", actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            resources=[bucket.bucket_arn],
        )  # fmt: skip
        if "" not in prefixes:
            listing.add_condition("StringLike", {"s3:prefix": [f"{p}*" for p in prefixes]})
        statements = [listing]
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
