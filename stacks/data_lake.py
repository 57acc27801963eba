"""Data-lake stack (stateful): keys, zone buckets, Lake Formation, Glue catalog and ETL."""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.names import RAW_ERRORS_PREFIX, RAW_EVENTS_PREFIX
from config.profiles import missing_contacts
from ml_constructs import AccessLogsBucket, SecureBucket
from ml_constructs.ab_endpoint import DATA_CAPTURE_PREFIX
from ml_constructs.access import BucketAccessPolicy
from ml_constructs.analyst import analyst_access
from ml_constructs.etl_metrics import EtlRunMetrics
from ml_constructs.glue_etl import CatalogAndEtl
from ml_constructs.lake import GovernedLake
from ml_constructs.monitoring import MONITORING_PREFIX, REPORTS_PREFIX
from ml_constructs.training_pipeline import PIPELINE_PREFIX
from pipelines.data import spec as specs
from stacks.base import PlatformStack

# Layout of the raw zone: Firehose writes events and failed records here, the
# crawler and the ETL job read RAW_EVENTS_PREFIX.


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

    Governance and processing: ``lake`` (Lake Formation settings, registered
    raw and curated locations, grants), ``etl`` (Glue databases, the curated
    table, crawler, ETL job, data-quality rules, workflow and triggers),
    ``etl_metrics`` (the job's output log group and the filters that count its
    rejected and curated rows in ``MlPlatform/Etl``), and
    an analyst role with an Athena workgroup that sees the curated table
    without its PII columns.

    Construct ids here fix the logical ids of stateful resources; renaming one
    replaces the resource (tests pin them).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        workload_subnets: ec2.SubnetSelection,
        alarm_topic: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, stateful=True, **kwargs)
        profile = self.profile
        removal = self.data_removal_policy
        data = self.service_key("DataKey", description="Data-lake objects", alias_name="data")
        data.allow_services("DataServices", ["firehose", "glue", "sagemaker"])
        logs_key = self.service_key("LogsKey", description="CloudWatch log groups", alias_name="logs")
        logs_key.allow_cloudwatch_logs()
        audit = self.service_key("AuditKey", description="CloudTrail logs", alias_name="audit")
        audit.allow_cloudtrail()
        self.data_key = data.kms_key
        self.logs_key = logs_key.kms_key
        self.audit_key = audit.kms_key

        self.access_logs_bucket = AccessLogsBucket(
            self, "AccessLogs", expiry_days=profile.lifecycle.access_log_expiry_days, removal_policy=removal
        ).bucket

        def zone(construct_id: str, *, tier_down: bool = True, event_bridge: bool = False):
            return SecureBucket(
                self,
                construct_id,
                encryption_key=self.data_key,
                access_logs=self.access_logs_bucket,
                lifecycle=profile.lifecycle,
                removal_policy=removal,
                tier_down=tier_down,
                event_bridge=event_bridge,
            ).bucket

        # Object events from raw start the ETL workflow; from curated, retraining.
        self.raw_bucket = zone("RawZone", event_bridge=True)
        self.curated_bucket = zone("CuratedZone", event_bridge=True)
        # EventBridge: the monitoring stack reacts to drift reports landing here.
        self.artifact_bucket = zone("Artifacts", tier_down=False, event_bridge=True)

        # Published access patterns; consumers in other stacks attach these to their roles.
        self.raw_ingest_policy = BucketAccessPolicy(
            self,
            "RawIngestAccess",
            bucket=self.raw_bucket,
            key=self.data_key,
            # Firehose's documented delivery policy reads back what it writes.
            read_prefixes=(RAW_EVENTS_PREFIX, RAW_ERRORS_PREFIX),
            write_prefixes=(RAW_EVENTS_PREFIX, RAW_ERRORS_PREFIX),
            description="Deliver events (and failed records) into the raw zone",
        ).policy

        prefix = f"mlops_{profile.name}"
        self.lake = GovernedLake(
            self,
            "Governance",
            admin_arns=profile.lake_admin_arns,
            locations={"Raw": (self.raw_bucket, self.data_key), "Curated": (self.curated_bucket, self.data_key)},
        )
        if why := missing_contacts(profile).get("lake_admin_arns"):
            Annotations.of(self).add_warning_v2("mlops:lake-admin-arns", f"profile '{profile.name}': {why}")
        self.dataset = specs.load(profile.dataset)
        self.etl = CatalogAndEtl(
            self,
            "ChurnEtl",  # the construct id the pinned catalog ids derive from, whatever the data set
            prefix=prefix,
            dataset=self.dataset,
            lake=self.lake,
            raw_bucket=self.raw_bucket,
            curated_bucket=self.curated_bucket,
            artifact_bucket=self.artifact_bucket,
            data_key=self.data_key,
            logs_key=self.logs_key,
            vpc=vpc,
            subnets=workload_subnets,
            in_vpc=profile.functions_in_vpc,
            settings=profile.etl,
            raw_events_prefix=RAW_EVENTS_PREFIX,
            alarm_topic=alarm_topic,
        )
        self.etl_metrics = EtlRunMetrics(
            self, "EtlRunMetrics", job=self.etl.job, log_group_prefix=f"/aws-glue/jobs/{prefix.replace('_', '-')}-etl",
            logs_key=self.logs_key, retention=self.log_retention, removal_policy=removal,
        )  # fmt: skip
        self.analyst_role = analyst_access(
            self, name=prefix.replace("_", "-"), retain_data=profile.retain_data, artifact_bucket=self.artifact_bucket,
            data_key=self.data_key, lake=self.lake, etl=self.etl, dataset=self.dataset,
        )  # fmt: skip

        self.training_data_policy = BucketAccessPolicy(
            self, "TrainingDataAccess", bucket=self.curated_bucket, key=self.data_key,
            read_prefixes=(self.etl.curated_prefix,), description="Training: read the curated table",
        ).policy  # fmt: skip
        self.pipeline_artifacts_policy = BucketAccessPolicy(
            self, "PipelineArtifactsAccess", bucket=self.artifact_bucket, key=self.data_key,
            read_prefixes=(PIPELINE_PREFIX,), write_prefixes=(PIPELINE_PREFIX,),
            description="Training pipeline: splits, models, evaluations, baselines",
        ).policy  # fmt: skip

        self.serving_data_policy = BucketAccessPolicy(
            self, "ServingDataAccess", bucket=self.artifact_bucket, key=self.data_key,
            read_prefixes=(f"{PIPELINE_PREFIX}models/",), write_prefixes=(DATA_CAPTURE_PREFIX,),
            description="Endpoint models: read trained models, write captured requests and responses",
        ).policy  # fmt: skip
        self.monitoring_job_policy = BucketAccessPolicy(
            self, "MonitoringJobAccess", bucket=self.artifact_bucket, key=self.data_key,
            read_prefixes=(MONITORING_PREFIX,), write_prefixes=(REPORTS_PREFIX,),
            description="Monitoring jobs: read capture, ground truth and baselines, write reports",
        ).policy  # fmt: skip
        self.monitoring_reports_policy = BucketAccessPolicy(
            self, "MonitoringReportsAccess", bucket=self.artifact_bucket, key=self.data_key,
            read_prefixes=(REPORTS_PREFIX,), description="Monitoring publisher: read drift reports",
        ).policy  # fmt: skip

        for name, bucket in (
            ("Raw", self.raw_bucket),
            ("Curated", self.curated_bucket),
            ("Artifact", self.artifact_bucket),
        ):
            CfnOutput(self, f"{name}BucketName", value=bucket.bucket_name)
