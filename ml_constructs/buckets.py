"""S3 buckets for the data lake: encrypted, private, TLS-only, versioned, logged."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import LifecycleSettings
from ml_constructs.cfn import l1
from posture.checks import acknowledge, acknowledge_all_packs

REPLICATION_REASON = (
    "Cross-region replication is a disaster-recovery choice made per deployment (second region, "
    "its own key and bucket); durability inside the region comes from S3 and versioning, and "
    "recovery from noncurrent versions kept by the lifecycle rules."
)

_SELF_LOGGING_REASON = (
    "This is the server access log target; logging it into itself would loop, and every "
    "API call on it is recorded by CloudTrail."
)


class AccessLogsBucket(Construct):
    """The target of S3 server access logs for the other buckets.

    Encrypted with SSE-S3 because S3 log delivery cannot write to SSE-KMS
    buckets; otherwise private, TLS-only and versioned. Log delivery is granted
    by bucket policy (not ACLs). Logs expire after ``expiry_days``.

    :param expiry_days: days an access-log object is kept.
    :param removal_policy: what happens to the bucket when its stack goes.
    """

    def __init__(self, scope: Construct, construct_id: str, *, expiry_days: int, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )
        resource = l1(self.bucket, s3.CfnBucket)
        acknowledge(resource, "AwsSolutions-S1", _SELF_LOGGING_REASON)
        acknowledge_all_packs(resource, "S3BucketLoggingEnabled", _SELF_LOGGING_REASON)
        acknowledge_all_packs(
            resource,
            "S3DefaultEncryptionKMS",
            "S3 server access log delivery supports only SSE-S3 on the target bucket; the logs hold "
            "request metadata, not data-lake objects, and the bucket is private and TLS-only.",
        )
        acknowledge_all_packs(resource, "S3BucketReplicationEnabled", REPLICATION_REASON)


class SecureBucket(Construct):
    """A data-lake bucket with the controls every zone needs.

    SSE-KMS with a customer key (S3 Bucket Keys on, to cut KMS calls), all
    public access blocked, ACLs disabled, a bucket policy that denies non-TLS
    and TLS < 1.2 requests, versioning, server access logs under
    ``<construct id>/``, and lifecycle rules: noncurrent versions expire,
    incomplete uploads are aborted, and current objects move to Standard-IA and
    then Glacier Instant Retrieval as they cool.

    :param encryption_key: the customer-managed key for objects.
    :param access_logs: the bucket that receives server access logs.
    :param lifecycle: days for expiry and tiering (from the profile).
    :param removal_policy: RETAIN for data that must outlive the stack.
    :param tier_down: move current objects to colder tiers (default True);
        False for buckets read often whatever their age.
    :param event_bridge: send object events to EventBridge (default False).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs: s3.IBucket,
        lifecycle: LifecycleSettings,
        removal_policy: RemovalPolicy,
        tier_down: bool = True,
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        transitions = (
            [
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(lifecycle.infrequent_access_after_days),
                ),
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                    transition_after=Duration.days(lifecycle.glacier_after_days),
                ),
            ]
            if tier_down
            else None
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="versions-and-tiers",
                    noncurrent_version_expiration=Duration.days(lifecycle.noncurrent_version_expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(lifecycle.abort_incomplete_upload_days),
                    expired_object_delete_marker=True,
                    transitions=transitions,
                )
            ],
            removal_policy=removal_policy,
        )
        if event_bridge:
            # CloudFormation supports this natively; CDK's event_bridge_enabled would add a
            # custom-resource Lambda to do the same.
            l1(self.bucket, s3.CfnBucket).add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        acknowledge_all_packs(l1(self.bucket, s3.CfnBucket), "S3BucketReplicationEnabled", REPLICATION_REASON)
