"""The account's CloudTrail trail, its dedicated bucket and its CloudWatch Logs group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import AuditSettings
from config.profiles import KEPT_ON_TEARDOWN
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.buckets import REPLICATION_REASON, AccessLogsBucket
from ml_constructs.cfn import l1
from ml_constructs.iam import ManagedRole
from posture.checks import acknowledge_all_packs

_CLOUDTRAIL = iam.ServicePrincipal("cloudtrail.amazonaws.com")


class AuditTrail(Construct):
    """A multi-region trail with log file validation into a bucket of its own and a log group.

    Management events (read and write) are recorded, and S3 data events only
    where they matter, through advanced event selectors: object writes in the
    ``write_buckets`` and object reads and writes in the ``read_write_buckets``.

    The bucket is TLS-only, versioned, logged into its own access-log bucket,
    tiered to Glacier Flexible Retrieval and kept after the stack is gone in
    every profile; object lock (governance mode) where the settings ask for it.
    Its policy admits CloudTrail for this trail only (``aws:SourceArn``): the
    trail's ARN is built from its name, so the policy needs no reference to the
    trail and the trail can depend on the policy (it deploys on the first try).

    The L1 trail is used because the L2 ``Trail`` neither writes advanced event
    selectors nor puts ``aws:SourceArn`` on the bucket policy, and its log
    delivery role gets an inline policy.

    Attributes: ``trail`` (``CfnTrail``), ``trail_arn``, ``bucket``, ``log_group``.

    :param trail_name: the trail's name (fixes its ARN).
    :param settings: lifecycle and object lock (from the profile).
    :param key: the audit KMS key, whose policy admits CloudTrail for this account's trails.
    :param logs_key: the key of the account's log groups.
    :param log_retention: how long the log group keeps events.
    :param access_log_expiry_days: how long the bucket's access logs are kept.
    :param write_buckets: buckets whose object writes are recorded.
    :param read_write_buckets: buckets whose object reads and writes are recorded.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_name: str,
        settings: AuditSettings,
        key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        access_log_expiry_days: int,
        write_buckets: list[s3.IBucket],
        read_write_buckets: list[s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
        access_logs = AccessLogsBucket(
            self, "AccessLogs", expiry_days=access_log_expiry_days, removal_policy=RemovalPolicy.RETAIN
        ).bucket
        lock = settings.object_lock_days
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="trail-bucket/",
            object_lock_enabled=lock is not None or None,
            object_lock_default_retention=s3.ObjectLockRetention.governance(Duration.days(lock)) if lock else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="cold-then-expire",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=Duration.days(settings.cold_after_days),
                        )
                    ],
                    expiration=Duration.days(settings.expiry_days),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        source = {"aws:SourceArn": self.trail_arn}
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheck", principals=[_CLOUDTRAIL], actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn], conditions={"StringEquals": source},
            )
        )  # fmt: skip
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWrite",
                principals=[_CLOUDTRAIL],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"AWSLogs/{stack.account}/*")],
                conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
            )
        )
        acknowledge_all_packs(l1(self.bucket, s3.CfnBucket), "S3BucketReplicationEnabled", REPLICATION_REASON)
        for bucket, why in ((self.bucket, "the trail's log files"), (access_logs, "access logs of the trail bucket")):
            l1(bucket, s3.CfnBucket).add_metadata(
                KEPT_ON_TEARDOWN, f"audit evidence, kept in every profile: {why} outlive the stack"
            )

        self.log_group = logs.LogGroup(
            self, "LogGroup", encryption_key=logs_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        delivery = ManagedRole(
            self,
            "LogDeliveryRole",
            assumed_by=_CLOUDTRAIL,
            description="CloudTrail: deliver this trail's events to its log group",
            statements=[
                iam.PolicyStatement(
                    sid="Deliver",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        acknowledge_wildcards(
            delivery.policy,
            [self.log_group.log_group_arn],
            "CloudTrail names the log streams it creates (account_CloudTrail_region); the role reaches "
            "the streams of this one log group only.",
        )

        def data_events(name: str, buckets: list[s3.IBucket], *, writes_only: bool):
            fields = [
                cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="eventCategory", equal_to=["Data"]),
                cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="resources.type", equal_to=["AWS::S3::Object"]),
                cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                    field="resources.ARN", starts_with=[b.arn_for_objects("") for b in buckets]
                ),
            ]
            if writes_only:
                fields.append(cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="readOnly", equal_to=["false"]))
            return cloudtrail.CfnTrail.AdvancedEventSelectorProperty(name=name, field_selectors=fields)

        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=key.key_arn,
            s3_bucket_name=self.bucket.bucket_name,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=delivery.iam_role.role_arn,
            advanced_event_selectors=[
                cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                    name="Management events, read and write",
                    field_selectors=[
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                            field="eventCategory", equal_to=["Management"]
                        )
                    ],
                ),
                data_events("Object writes in the raw and curated zones", write_buckets, writes_only=True),
                data_events(
                    "Object reads and writes of artifacts (models, data capture)", read_write_buckets, writes_only=False
                ),
            ],
        )
        self.trail.node.add_dependency(self.bucket.policy, delivery)
