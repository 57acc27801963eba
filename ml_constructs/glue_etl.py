"""The raw -> curated workflow on AWS Glue 5: crawler, PySpark job, data quality, triggers.

A Glue workflow starts when new raw objects arrive (S3 -> EventBridge, batched)
or on the profile's schedule: the crawler catalogs the raw zone, then the job
(``pipelines/glue/churn_etl.py``) writes the curated table, quarantines bad
rows with their reason, and evaluates the curated table's data-quality rules.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import EtlSettings
from ml_constructs.access import BucketAccessPolicy, acknowledge_wildcards
from ml_constructs.events import DeadLetterQueue, notify_topic, object_created
from ml_constructs.iam import ManagedRole, account_service
from ml_constructs.lake import GovernedLake
from pipelines.data.schema import CURATED_DQ_RULES, PARTITION_KEYS, curated_columns
from posture.checks import acknowledge

ROOT = Path(__file__).resolve().parents[1]
JOB_SCRIPT = ROOT / "pipelines" / "glue" / "churn_etl.py"
# The shared schema ships as a zip holding schema.py alone (--extra-py-files); the job
# imports it as ``schema`` there and as ``pipelines.data.schema`` in the repo.
SCHEMA_DIR = ROOT / "pipelines" / "data"

RAW_REJECTS_PREFIX = "rejects/"
CURATED_TABLE = "churn_features"
CURATED_PREFIX = f"{CURATED_TABLE}/"
ARTIFACT_GLUE_PREFIX = "glue/"

_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables",
    "ec2:DescribeVpcAttribute", "ec2:CreateTags", "ec2:DeleteTags",
]  # fmt: skip
_STAR_REASON = (
    "Resource '*' only where the API has no resource-level permissions: EC2 network-interface "
    "actions for jobs in the VPC, lakeformation:GetDataAccess (Lake Formation authorizes per table), "
    "and cloudwatch:PutMetricData (limited to the Glue namespace by condition)."
)


class ChurnCatalogAndEtl(Construct):
    """Glue databases, the curated table, crawler, ETL job, data quality and triggers.

    Attributes: ``raw_database``, ``curated_database``, ``curated_table`` (names),
    ``table`` (the curated table resource),
    ``job``, ``crawler``, ``workflow``, ``job_role``, ``crawler_role``,
    ``dead_letter_queue`` (events the workflow could not take).

    :param prefix: name prefix for named Glue resources (``mlops_dev``).
    :param lake: the governance construct that grants and gates.
    :param raw_bucket, curated_bucket, artifact_bucket: the zones.
    :param data_key, logs_key: encryption for data, bookmarks and logs.
    :param vpc, subnets: where the job and crawler run.
    :param settings: schedule, batching and capacity (from the profile).
    :param raw_events_prefix: where raw events land.
    :param alarm_topic: notified when a crawl, job run or quality evaluation fails.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        lake: GovernedLake,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        settings: EtlSettings,
        raw_events_prefix: str,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.raw_database = f"{prefix}_raw"
        self.curated_database = f"{prefix}_curated"
        self.curated_table = CURATED_TABLE

        # --- catalog --------------------------------------------------------------------------
        raw_db = self._database("RawDatabase", self.raw_database, raw_bucket.s3_url_for_object(raw_events_prefix))
        curated_db = self._database("CuratedDatabase", self.curated_database, curated_bucket.s3_url_for_object())
        self.table = table = glue.CfnTable(
            self,
            "CuratedTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.curated_database,
            table_input=glue.CfnTable.TableInputProperty(
                name=CURATED_TABLE,
                description="Cleaned, de-duplicated churn snapshots with engineered features",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"},
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in PARTITION_KEYS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in curated_columns()],
                    location=curated_bucket.s3_url_for_object(CURATED_PREFIX),
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                ),
            ),
        )
        table.add_resource_dependency(curated_db)
        for resource in (raw_db, curated_db, table):
            resource.node.add_dependency(lake.settings)

        # --- security configuration: KMS for S3 output, logs and bookmarks ----------------------
        self.security_configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{prefix}-etl",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=data_key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=data_key.key_arn
                ),
            ),
        )

        # --- network: a connection in a workload subnet ------------------------------------------
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Glue job and crawler", allow_all_outbound=False
        )
        # Spark executors talk to each other; Glue requires a self-referencing rule.
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_tcp(), "Glue workers")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_tcp(), "Glue workers")
        # The subnets are isolated: HTTPS reaches only the VPC endpoints (S3 gateway included).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")
        subnet = vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnets[0]
        self.connection = glue.CfnConnection(
            self,
            "Connection",
            catalog_id=Aws.ACCOUNT_ID,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=f"{prefix}-vpc",
                connection_type="NETWORK",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    subnet_id=subnet.subnet_id,
                    availability_zone=subnet.availability_zone,
                    security_group_id_list=[self.security_group.security_group_id],
                ),
            ),
        )
        acknowledge(
            self.connection,
            "CloudFormation-Validate::W3010",
            "The zone is the workload subnet's, from the profile, so synth needs no lookup.",
        )
        connection_arn = stack.format_arn(service="glue", resource="connection", resource_name=f"{prefix}-vpc")

        # --- scripts, as CDK assets (plain files: no bundling) -----------------------------------
        script = assets.Asset(self, "JobScript", path=str(JOB_SCRIPT))
        schema_module = assets.Asset(
            self,
            "SchemaModule",
            path=str(SCHEMA_DIR),
            exclude=["*", "!schema.py"],
        )

        # --- roles ---------------------------------------------------------------------------------
        catalog_arn = stack.format_arn(service="glue", resource="catalog")
        glue_logs = stack.format_arn(
            service="logs", resource="log-group", resource_name="/aws-glue/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )

        def db_arns(name: str) -> list[str]:
            return [
                catalog_arn,
                stack.format_arn(service="glue", resource="database", resource_name=name),
                stack.format_arn(service="glue", resource="table", resource_name=f"{name}/*"),
            ]

        common = [
            iam.PolicyStatement(sid="Network", actions=_ENI_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="Connection", actions=["glue:GetConnection"], resources=[catalog_arn, connection_arn]
            ),
            iam.PolicyStatement(sid="LakeFormation", actions=["lakeformation:GetDataAccess"], resources=["*"]),
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[glue_logs],
            ),
            iam.PolicyStatement(
                sid="Keys",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[data_key.key_arn, logs_key.key_arn],
            ),
            iam.PolicyStatement(
                sid="SecurityConfiguration",
                actions=["glue:GetSecurityConfiguration"],
                resources=["*"],
            ),
        ]
        glue_principal = account_service(self, "glue.amazonaws.com")
        self.crawler_role = ManagedRole(
            self,
            "CrawlerRole",
            assumed_by=glue_principal,
            description="Glue crawler: catalog the raw zone",
            statements=[
                *common,
                iam.PolicyStatement(
                    sid="Catalog",
                    actions=[
                        "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                        "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition",
                        "glue:BatchGetPartition", "glue:UpdatePartition", "glue:CreatePartitionIndex",
                    ],
                    resources=db_arns(self.raw_database),
                ),
            ],
        )  # fmt: skip
        crawler_access = BucketAccessPolicy(
            self, "CrawlerRawAccess", bucket=raw_bucket, key=data_key, read_prefixes=(raw_events_prefix,),
            description="Crawler: read raw events",
        )  # fmt: skip
        self.crawler_role.iam_role.add_managed_policy(crawler_access.policy)
        self.job_role = ManagedRole(
            self,
            "JobRole",
            assumed_by=glue_principal,
            description="Glue ETL job: raw events to the curated table",
            statements=[
                *common,
                iam.PolicyStatement(
                    sid="Catalog",
                    actions=[
                        "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable",
                        "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition",
                        "glue:BatchGetPartition", "glue:CreatePartition", "glue:UpdatePartition",
                    ],
                    resources=[*db_arns(self.curated_database), *db_arns(self.raw_database)[1:]],
                ),
                iam.PolicyStatement(
                    sid="DataQuality",
                    actions=["glue:PublishDataQuality", "glue:GetDataQualityRuleset"],
                    resources=[stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name="*")],
                ),
                iam.PolicyStatement(
                    sid="Metrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringLike": {"cloudwatch:namespace": ["Glue", "Glue Data Quality"]}},
                ),
                iam.PolicyStatement(
                    sid="Scripts",
                    actions=["s3:GetObject"],
                    resources=[
                        script.bucket.arn_for_objects(script.s3_object_key),
                        schema_module.bucket.arn_for_objects(schema_module.s3_object_key),
                    ],
                ),
            ],
        )  # fmt: skip
        job_access = (
            BucketAccessPolicy(
                self, "JobRawAccess", bucket=raw_bucket, key=data_key, read_prefixes=(raw_events_prefix,),
                write_prefixes=(RAW_REJECTS_PREFIX,), description="ETL job: read raw events, quarantine rejects",
            ),
            BucketAccessPolicy(
                self, "JobCuratedAccess", bucket=curated_bucket, key=data_key, read_prefixes=(CURATED_PREFIX,),
                write_prefixes=(CURATED_PREFIX,), description="ETL job: write the curated table",
            ),
            BucketAccessPolicy(
                self, "JobArtifactAccess", bucket=artifact_bucket, key=data_key, read_prefixes=(ARTIFACT_GLUE_PREFIX,),
                write_prefixes=(ARTIFACT_GLUE_PREFIX,), description="ETL job: temporary files and run statistics",
            ),
        )  # fmt: skip
        for access in job_access:
            self.job_role.iam_role.add_managed_policy(access.policy)
        for role in (self.crawler_role, self.job_role):
            acknowledge_wildcards(
                role.policy, ["*", glue_logs], _STAR_REASON + " Log groups: Glue names them per run under /aws-glue/."
            )
        acknowledge_wildcards(
            self.job_role.policy,
            [stack.format_arn(service="glue", resource="table", resource_name=f"{n}/*") for n in (self.raw_database, self.curated_database)]
            + [stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name="*")],
            "Tables of the platform's own two databases only (the crawler names raw tables); rulesets are read by name.",
        )  # fmt: skip
        acknowledge_wildcards(
            self.crawler_role.policy,
            [stack.format_arn(service="glue", resource="table", resource_name=f"{self.raw_database}/*")],
            "The crawler creates and names the raw tables; it may touch tables of the raw database only.",
        )

        # --- Lake Formation grants -----------------------------------------------------------------
        crawler_arn, job_arn = self.crawler_role.iam_role.role_arn, self.job_role.iam_role.role_arn
        raw_grants = [
            lake.grant("CrawlerRawDatabase", principal_arn=crawler_arn, database=self.raw_database,
                       permissions=["CREATE_TABLE", "ALTER", "DESCRIBE"]),
            lake.grant("CrawlerRawTables", principal_arn=crawler_arn, database=self.raw_database, all_tables=True,
                       permissions=["SELECT", "ALTER", "DESCRIBE", "INSERT"]),
        ]  # fmt: skip
        curated_grants = [
            lake.grant("JobCuratedDatabase", principal_arn=job_arn, database=self.curated_database, permissions=["DESCRIBE"]),
            lake.grant("JobCuratedTable", principal_arn=job_arn, database=self.curated_database, table=CURATED_TABLE,
                       permissions=["SELECT", "INSERT", "ALTER", "DESCRIBE"]),
        ]  # fmt: skip
        lake.grant(
            "CrawlerRawLocation", principal_arn=crawler_arn, location=raw_bucket, permissions=["DATA_LOCATION_ACCESS"]
        )
        lake.grant(
            "JobCuratedLocation", principal_arn=job_arn, location=curated_bucket, permissions=["DATA_LOCATION_ACCESS"]
        )
        for grant in raw_grants:
            grant.add_resource_dependency(raw_db)
        for grant in curated_grants:
            grant.add_resource_dependency(table)

        # --- crawler and job -----------------------------------------------------------------------
        self.crawler = glue.CfnCrawler(
            self,
            "RawCrawler",
            role=self.crawler_role.iam_role.role_arn,
            database_name=self.raw_database,
            description="Catalogs new raw events (date partitions) for Lake Formation-governed queries",
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[
                    glue.CfnCrawler.S3TargetProperty(
                        path=raw_bucket.s3_url_for_object(raw_events_prefix), connection_name=f"{prefix}-vpc"
                    )
                ]
            ),
            crawler_security_configuration=self.security_configuration.name,
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_NEW_FOLDERS_ONLY"),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="LOG", delete_behavior="LOG"
            ),
            lake_formation_configuration=glue.CfnCrawler.LakeFormationConfigurationProperty(
                use_lake_formation_credentials=True, account_id=Aws.ACCOUNT_ID
            ),
            configuration=json.dumps(
                {
                    "Version": 1.0,
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                    "CreatePartitionIndex": True,
                }
            ),
        )
        self.dq_ruleset = glue.CfnDataQualityRuleset(
            self,
            "CuratedQuality",
            name=f"{prefix}-{CURATED_TABLE}",
            description="Completeness, domain and uniqueness rules of the curated table",
            ruleset=CURATED_DQ_RULES,
            target_table=glue.CfnDataQualityRuleset.DataQualityTargetTableProperty(
                database_name=self.curated_database, table_name=CURATED_TABLE
            ),
        )
        self.dq_ruleset.add_resource_dependency(table)
        self.job = glue.CfnJob(
            self,
            "EtlJob",
            role=self.job_role.iam_role.role_arn,
            description="Churn events: raw JSON lines to the curated Parquet table, bad rows quarantined",
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            glue_version="5.0",
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            max_retries=1,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=self.security_configuration.name,
            connections=glue.CfnJob.ConnectionsListProperty(connections=[f"{prefix}-vpc"]),
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-glue-datacatalog": "true",
                "--extra-py-files": schema_module.s3_object_url,
                "--TempDir": artifact_bucket.s3_url_for_object(f"{ARTIFACT_GLUE_PREFIX}tmp/"),
                "--raw_path": raw_bucket.s3_url_for_object(raw_events_prefix),
                "--rejects_path": raw_bucket.s3_url_for_object(RAW_REJECTS_PREFIX),
                "--curated_path": curated_bucket.s3_url_for_object(CURATED_PREFIX),
                "--stats_path": artifact_bucket.s3_url_for_object(f"{ARTIFACT_GLUE_PREFIX}stats/"),
                "--curated_database": self.curated_database,
                "--curated_table": CURATED_TABLE,
                "--dq_ruleset": self.dq_ruleset.name,
            },
        )
        for resource in (self.crawler, self.job):
            resource.node.add_dependency(self.connection, lake.gate, table)
        # Glue uses the role, its permissions and the security configuration (named, not referenced)
        # as soon as the crawler or job exists: CloudFormation must create all of them first.
        self.crawler.node.add_dependency(self.crawler_role, crawler_access, self.security_configuration)
        self.job.node.add_dependency(self.job_role, *job_access, self.security_configuration)

        # --- workflow: new raw data (batched) or the schedule starts crawler, then job ---------------
        self.workflow = glue.CfnWorkflow(
            self, "Workflow", name=f"{prefix}-raw-to-curated", description="Crawl raw, then run the ETL job",
            max_concurrent_runs=1,
        )  # fmt: skip
        start = glue.CfnTrigger(
            self,
            "StartOnEvents",
            type="EVENT",
            workflow_name=self.workflow.name,
            event_batching_condition=glue.CfnTrigger.EventBatchingConditionProperty(
                batch_size=settings.batch_size, batch_window=settings.batch_window_seconds
            ),
            actions=[glue.CfnTrigger.ActionProperty(crawler_name=self.crawler.ref)],
        )
        then_job = glue.CfnTrigger(
            self,
            "JobAfterCrawl",
            type="CONDITIONAL",
            start_on_creation=True,
            workflow_name=self.workflow.name,
            predicate=glue.CfnTrigger.PredicateProperty(
                conditions=[
                    glue.CfnTrigger.ConditionProperty(
                        logical_operator="EQUALS", crawler_name=self.crawler.ref, crawl_state="SUCCEEDED"
                    )
                ]
            ),
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.job.ref)],
        )
        for trigger in (start, then_job):
            trigger.add_resource_dependency(self.workflow)

        workflow_arn = stack.format_arn(service="glue", resource="workflow", resource_name=self.workflow.name)
        self.dead_letters = DeadLetterQueue(self, "EventsDeadLetters", purpose="the ETL workflow's triggers and alerts")
        self.dead_letter_queue = self.dead_letters.queue
        events_role = ManagedRole(
            self,
            "EventsRole",
            assumed_by=account_service(self, "events.amazonaws.com"),
            description="EventBridge: notify the raw-to-curated workflow",
            statements=[iam.PolicyStatement(actions=["glue:NotifyEvent"], resources=[workflow_arn])],
        )
        on_data = events.Rule(
            self,
            "OnRawData",
            description="New raw events start the workflow (batched by its trigger)",
            event_pattern=object_created(raw_bucket, {"prefix": raw_events_prefix}),
        )
        on_schedule = events.Rule(
            self, "OnSchedule", description="The workflow runs on the profile's schedule too",
            schedule=events.Schedule.expression(settings.schedule),
        )  # fmt: skip
        for rule in (on_data, on_schedule):
            rule.node.default_child.targets = [
                self.dead_letters.raw_target("workflow", workflow_arn, events_role.iam_role.role_arn)
            ]
            rule.node.add_dependency(start, events_role)
        self.dead_letters.allow(on_data, on_schedule)
        failures = events.Rule(
            self,
            "OnFailure",
            description="A failed crawl, job run or data-quality evaluation notifies the alarm topic",
            event_pattern=events.EventPattern(
                source=["aws.glue", "aws.glue-dataquality"],
                detail_type=["Glue Job State Change", "Glue Crawler State Change", "Data Quality Evaluation Results Available"],
                detail={"state": ["FAILED", "TIMEOUT", "ERROR", "Failed"]},
            ),
        )  # fmt: skip
        notify_topic(failures, alarm_topic, self.dead_letters)

    def _database(self, construct_id: str, name: str, location: str) -> glue.CfnDatabase:
        return glue.CfnDatabase(
            self,
            construct_id,
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=name,
                description=f"{name}: governed by Lake Formation",
                location_uri=location,
                # No IAMAllowedPrincipals default: tables here are reachable through Lake Formation grants only.
                create_table_default_permissions=[],
            ),
        )
