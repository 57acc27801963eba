"""Buckets and keys: what S3 and KMS require of them, checked in a bare stack."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from config import get_profile
from ml_constructs.buckets import AccessLogsBucket, SecureBucket
from ml_constructs.keys import ServiceKey


def _buckets(stack: cdk.Stack) -> tuple[AccessLogsBucket, SecureBucket, kms.Key]:
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    logs = AccessLogsBucket(stack, "Logs", expiry_days=30, removal_policy=cdk.RemovalPolicy.DESTROY)
    data = SecureBucket(
        stack,
        "Raw",
        encryption_key=key,
        access_logs=logs.bucket,
        lifecycle=get_profile("dev").lifecycle,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    return logs, data, key


def test_the_access_log_target_uses_sse_s3_because_log_delivery_cannot_write_sse_kms(stack, template) -> None:
    logs, _, _ = _buckets(stack)
    bucket = template(stack).find_resources("AWS::S3::Bucket")[stack.get_logical_id(logs.bucket.node.default_child)]
    rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]


def test_log_delivery_may_write_the_access_log_target_by_bucket_policy(stack, template) -> None:
    logs, _, _ = _buckets(stack)
    template(stack).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": stack.get_logical_id(logs.bucket.node.default_child)},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_a_data_bucket_encrypts_with_the_customer_key_and_refuses_plain_http(stack, template) -> None:
    _, data, key = _buckets(stack)
    t = template(stack)
    bucket_id = stack.get_logical_id(data.bucket.node.default_child)
    rules = t.find_resources("AWS::S3::Bucket")[bucket_id]["Properties"]["BucketEncryption"]
    default = rules["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    t.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


def test_a_data_bucket_blocks_every_kind_of_public_access(stack, template) -> None:
    _, data, _ = _buckets(stack)
    bucket = template(stack).find_resources("AWS::S3::Bucket")[stack.get_logical_id(data.bucket.node.default_child)]
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_a_service_key_rotates_and_has_the_alias_it_was_given(stack, template) -> None:
    ServiceKey(
        stack,
        "DataKey",
        description="test data",
        alias="alias/mlops/test/data",
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    t = template(stack)
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    t.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/mlops/test/data"})
