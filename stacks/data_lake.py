"""Data-lake stack (stateful): customer keys and the encrypted zone buckets."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct

from ml_constructs import AccessLogsBucket, SecureBucket, ServiceKey
from ml_constructs.access import BucketAccessPolicy
from stacks.base import PlatformStack

# Layout of the raw zone: Firehose writes events and failed records here, the
# crawler and the ETL job read RAW_EVENTS_PREFIX.
RAW_EVENTS_PREFIX = "events/"
RAW_ERRORS_PREFIX = "errors/"


class DataLakeStack(PlatformStack):
    """Keys and buckets that hold the platform's data; retained in prod.

    Keys (rotation on, policies naming only the services that call KMS as
    themselves):

    - ``data_key``: raw, curated and artifact buckets; Firehose, Glue and
      SageMaker may use it for this account's resources.
    - ``logs_key``: CloudWatch log groups of this account and region.
    - ``audit_key``: CloudTrail trails of this account.

    Buckets: ``access_logs_bucket`` (server access logs), ``raw_bucket``,
    ``curated_bucket``, ``artifact_bucket`` (models, pipeline outputs,
    monitoring baselines and data capture; not tiered down, it is read by age).

    Construct ids here fix the logical ids of stateful resources; renaming one
    replaces the resource (tests pin them).
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, stateful=True, **kwargs)
        profile = self.profile
        removal = self.data_removal_policy
        # A deleted key makes its data unreadable: give operators time to cancel.
        pending = 30 if profile.retain_data else 7
        prefix = f"alias/mlops/{profile.name}"

        data = ServiceKey(
            self, "DataKey", description="Data-lake objects", alias=f"{prefix}/data",
            removal_policy=removal, pending_window_days=pending,
        )  # fmt: skip
        data.allow_services("DataServices", ["firehose", "glue", "sagemaker"])
        logs_key = ServiceKey(
            self, "LogsKey", description="CloudWatch log groups", alias=f"{prefix}/logs",
            removal_policy=removal, pending_window_days=pending,
        )  # fmt: skip
        logs_key.allow_cloudwatch_logs()
        audit = ServiceKey(
            self, "AuditKey", description="CloudTrail logs", alias=f"{prefix}/audit",
            removal_policy=removal, pending_window_days=pending,
        )  # fmt: skip
        audit.allow_cloudtrail()
        self.data_key = data.kms_key
        self.logs_key = logs_key.kms_key
        self.audit_key = audit.kms_key

        self.access_logs_bucket = AccessLogsBucket(
            self, "AccessLogs", expiry_days=profile.lifecycle.access_log_expiry_days, removal_policy=removal
        ).bucket

        def zone(construct_id: str, *, tier_down: bool = True):
            return SecureBucket(
                self,
                construct_id,
                encryption_key=self.data_key,
                access_logs=self.access_logs_bucket,
                lifecycle=profile.lifecycle,
                removal_policy=removal,
                tier_down=tier_down,
            ).bucket

        self.raw_bucket = zone("RawZone")
        self.curated_bucket = zone("CuratedZone")
        self.artifact_bucket = zone("Artifacts", tier_down=False)

        # Published access patterns; consumers in other stacks attach these to their roles.
        self.raw_ingest_policy = BucketAccessPolicy(
            self,
            "RawIngestAccess",
            bucket=self.raw_bucket,
            key=self.data_key,
            write_prefixes=(RAW_EVENTS_PREFIX, RAW_ERRORS_PREFIX),
            description="Deliver events (and failed records) into the raw zone",
        ).policy

        for name, bucket in (
            ("Raw", self.raw_bucket),
            ("Curated", self.curated_bucket),
            ("Artifact", self.artifact_bucket),
        ):
            CfnOutput(self, f"{name}BucketName", value=bucket.bucket_name)
