"""Analysts' access to the curated zone: an Athena workgroup and an MFA-only role, PII columns excluded."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config.names import ATHENA_RESULTS_PREFIX
from ml_constructs.access import BucketAccessPolicy, acknowledge_wildcards
from ml_constructs.glue_etl import CatalogAndEtl
from ml_constructs.iam import ManagedRole
from ml_constructs.lake import GovernedLake
from pipelines.data import spec as specs


def analyst_access(
    stack: Stack,
    *,
    name: str,
    retain_data: bool,
    artifact_bucket: s3.IBucket,
    data_key: kms.IKey,
    lake: GovernedLake,
    etl: CatalogAndEtl,
    dataset: specs.DataSet,
) -> iam.IRole:
    """An MFA-only role that queries the curated table in Athena, PII columns excluded (in ``stack``'s scope)."""
    workgroup = athena.CfnWorkGroup(
        stack,
        "AnalystWorkGroup",
        name=f"{name}-analysts",
        description="Exploratory analysis of the curated zone; results encrypted, settings enforced",
        state="ENABLED",
        recursive_delete_option=not retain_data,
        work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
            enforce_work_group_configuration=True,
            publish_cloud_watch_metrics_enabled=True,
            bytes_scanned_cutoff_per_query=100 * 1024**3,
            result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                output_location=artifact_bucket.s3_url_for_object(ATHENA_RESULTS_PREFIX),
                encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                    encryption_option="SSE_KMS", kms_key=data_key.key_arn
                ),
            ),
        ),
    )
    workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=workgroup.name)
    curated = etl.curated_database
    role = ManagedRole(
        stack,
        "AnalystRole",
        assumed_by=iam.AccountPrincipal(stack.account).with_conditions(
            {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        ),
        description="Analysts: Athena queries on the curated table (no PII columns)",
        statements=[
            iam.PolicyStatement(
                sid="Athena",
                actions=[
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetWorkGroup",
                    "athena:ListQueryExecutions",
                ],
                resources=[workgroup_arn],
            ),
            iam.PolicyStatement(
                sid="Catalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                ],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=curated),
                    stack.format_arn(service="glue", resource="table", resource_name=f"{curated}/{etl.curated_table}"),
                ],
            ),
            iam.PolicyStatement(sid="LakeFormation", actions=["lakeformation:GetDataAccess"], resources=["*"]),
        ],
    )
    acknowledge_wildcards(
        role.policy, ["*"], "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation "
        "authorizes each table and column by grant."
    )  # fmt: skip
    role.iam_role.add_managed_policy(
        BucketAccessPolicy(
            stack, "AnalystResultsAccess", bucket=artifact_bucket, key=data_key,
            read_prefixes=(ATHENA_RESULTS_PREFIX,), write_prefixes=(ATHENA_RESULTS_PREFIX,),
            description="Analysts: Athena query results",
        ).policy
    )  # fmt: skip
    analyst = role.iam_role.role_arn
    lake.grant("AnalystCuratedDatabase", principal_arn=analyst, database=curated, permissions=["DESCRIBE"])
    table_grant = lake.grant(
        "AnalystCuratedTable",
        principal_arn=analyst,
        database=curated,
        table=etl.curated_table,
        excluded_columns=specs.pii_columns(dataset),
        permissions=["SELECT"],
    )
    table_grant.add_resource_dependency(etl.table)
    CfnOutput(stack, "AnalystWorkGroupName", value=workgroup.name)
    return role.iam_role
