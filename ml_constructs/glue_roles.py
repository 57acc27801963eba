"""Who the Glue crawler and ETL job act as: roles, bucket access and Lake Formation grants."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.names import ARTIFACT_GLUE_PREFIX, RAW_REJECTS_PREFIX
from ml_constructs.access import BucketAccessPolicy, acknowledge_wildcards
from ml_constructs.glue_catalog import GlueCatalog
from ml_constructs.glue_network import EtlNetwork
from ml_constructs.iam import ManagedRole, account_service
from ml_constructs.lake import GovernedLake

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


class EtlRoles(Construct):
    """The crawler's and the job's roles, their bucket access policies and Lake Formation grants.

    Attributes: ``crawler_role``, ``job_role`` (``ManagedRole``), ``crawler_access`` and
    ``job_access`` (the bucket policies the crawler and job need before they exist).

    :param catalog: the databases and table the roles work on.
    :param network: the connection and script assets the roles read.
    :param lake: the governance construct that grants.
    :param raw_bucket, curated_bucket, artifact_bucket: the zones.
    :param data_key, logs_key: the keys the job and crawler use.
    :param raw_events_prefix: where raw events land.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog: GlueCatalog,
        network: EtlNetwork,
        lake: GovernedLake,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        raw_events_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        raw, curated, curated_prefix = catalog.raw_database, catalog.curated_database, catalog.curated_prefix
        catalog_arn = stack.format_arn(service="glue", resource="catalog")
        glue_logs = stack.format_arn(
            service="logs", resource="log-group", resource_name="/aws-glue/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        rulesets = stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name="*")

        def tables(name: str) -> str:
            return stack.format_arn(service="glue", resource="table", resource_name=f"{name}/*")

        def db_arns(name: str) -> list[str]:
            return [
                catalog_arn,
                stack.format_arn(service="glue", resource="database", resource_name=name),
                tables(name),
            ]

        # In the VPC, Glue reads the connection and makes the workers' network interfaces as the role.
        in_vpc = (
            [
                iam.PolicyStatement(sid="Network", actions=_ENI_ACTIONS, resources=["*"]),
                iam.PolicyStatement(
                    sid="Connection", actions=["glue:GetConnection"], resources=[catalog_arn, network.connection_arn]
                ),
            ]
            if network.connection_arn
            else []
        )
        common = [
            *in_vpc,
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
                sid="SecurityConfiguration", actions=["glue:GetSecurityConfiguration"], resources=["*"]
            ),
        ]
        glue_principal = account_service(self, "glue.amazonaws.com")
        self.crawler_role = ManagedRole(
            self, "CrawlerRole", assumed_by=glue_principal, description="Glue crawler: catalog the raw zone",
            statements=[
                *common,
                iam.PolicyStatement(
                    sid="Catalog",
                    actions=[
                        "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                        "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition",
                        "glue:BatchGetPartition", "glue:UpdatePartition", "glue:CreatePartitionIndex",
                    ],
                    resources=db_arns(raw),
                ),
            ],
        )  # fmt: skip
        self.crawler_access = BucketAccessPolicy(
            self, "CrawlerRawAccess", bucket=raw_bucket, key=data_key, read_prefixes=(raw_events_prefix,),
            description="Crawler: read raw events",
        )  # fmt: skip
        self.crawler_role.iam_role.add_managed_policy(self.crawler_access.policy)
        self.job_role = ManagedRole(
            self, "JobRole", assumed_by=glue_principal, description="Glue ETL job: raw events to the curated table",
            statements=[
                *common,
                iam.PolicyStatement(
                    sid="Catalog",
                    actions=[
                        "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable",
                        "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition",
                        "glue:BatchGetPartition", "glue:CreatePartition", "glue:UpdatePartition",
                    ],
                    resources=[*db_arns(curated), *db_arns(raw)[1:]],
                ),
                iam.PolicyStatement(
                    sid="DataQuality", actions=["glue:PublishDataQuality", "glue:GetDataQualityRuleset"],
                    resources=[rulesets],
                ),
                iam.PolicyStatement(
                    sid="Metrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
                    conditions={"StringLike": {"cloudwatch:namespace": ["Glue", "Glue Data Quality"]}},
                ),
                iam.PolicyStatement(
                    sid="Scripts", actions=["s3:GetObject"],
                    resources=[
                        network.script.bucket.arn_for_objects(network.script.s3_object_key),
                        network.spec_module.bucket.arn_for_objects(network.spec_module.s3_object_key),
                    ],
                ),
            ],
        )  # fmt: skip
        self.job_access = (
            BucketAccessPolicy(
                self, "JobRawAccess", bucket=raw_bucket, key=data_key, read_prefixes=(raw_events_prefix,),
                write_prefixes=(RAW_REJECTS_PREFIX,), description="ETL job: read raw events, quarantine rejects",
            ),
            BucketAccessPolicy(
                self, "JobCuratedAccess", bucket=curated_bucket, key=data_key, read_prefixes=(curated_prefix,),
                write_prefixes=(curated_prefix,), description="ETL job: write the curated table",
            ),
            BucketAccessPolicy(
                self, "JobArtifactAccess", bucket=artifact_bucket, key=data_key, read_prefixes=(ARTIFACT_GLUE_PREFIX,),
                write_prefixes=(ARTIFACT_GLUE_PREFIX,), description="ETL job: temporary files and run statistics",
            ),
        )  # fmt: skip
        for access in self.job_access:
            self.job_role.iam_role.add_managed_policy(access.policy)
        for role in (self.crawler_role, self.job_role):
            acknowledge_wildcards(
                role.policy, ["*", glue_logs], _STAR_REASON + " Log groups: Glue names them per run under /aws-glue/."
            )
        acknowledge_wildcards(
            self.job_role.policy, [tables(raw), tables(curated), rulesets],
            "Tables of the platform's own two databases only (the crawler names raw tables); rulesets are read by name.",
        )  # fmt: skip
        acknowledge_wildcards(
            self.crawler_role.policy,
            [tables(raw)],
            "The crawler creates and names the raw tables; it may touch tables of the raw database only.",
        )
        self._grant(lake, catalog, raw_bucket, curated_bucket)

    def _grant(self, lake: GovernedLake, catalog: GlueCatalog, raw_bucket: s3.IBucket, curated: s3.IBucket) -> None:
        crawler_arn, job_arn = self.crawler_role.iam_role.role_arn, self.job_role.iam_role.role_arn
        raw_db, curated_db = catalog.raw_database, catalog.curated_database
        raw_grants = [
            lake.grant("CrawlerRawDatabase", principal_arn=crawler_arn, database=raw_db,
                       permissions=["CREATE_TABLE", "ALTER", "DESCRIBE"]),
            lake.grant("CrawlerRawTables", principal_arn=crawler_arn, database=raw_db, all_tables=True,
                       permissions=["SELECT", "ALTER", "DESCRIBE", "INSERT"]),
        ]  # fmt: skip
        curated_grants = [
            lake.grant("JobCuratedDatabase", principal_arn=job_arn, database=curated_db, permissions=["DESCRIBE"]),
            lake.grant("JobCuratedTable", principal_arn=job_arn, database=curated_db, table=catalog.curated_table,
                       permissions=["SELECT", "INSERT", "ALTER", "DESCRIBE"]),
        ]  # fmt: skip
        lake.grant(
            "CrawlerRawLocation", principal_arn=crawler_arn, location=raw_bucket, permissions=["DATA_LOCATION_ACCESS"]
        )
        lake.grant("JobCuratedLocation", principal_arn=job_arn, location=curated, permissions=["DATA_LOCATION_ACCESS"])
        for grant in raw_grants:
            grant.add_resource_dependency(catalog.raw_db)
        for grant in curated_grants:
            grant.add_resource_dependency(catalog.table)
