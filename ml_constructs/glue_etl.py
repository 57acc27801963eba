"""The raw -> curated workflow on AWS Glue 5: catalog, crawler, PySpark job, data quality, triggers.

A Glue workflow starts when new raw objects arrive (S3 -> EventBridge, batched)
or on the profile's schedule: the crawler catalogs the raw zone, then the job
(``pipelines/glue/``) writes the curated table, quarantines bad rows with their
reason, and evaluates the curated table's data-quality rules. What the table holds
comes from the data-set spec (``pipelines/data/spec.py``).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import EtlSettings
from ml_constructs.glue_catalog import GlueCatalog
from ml_constructs.glue_network import EtlNetwork
from ml_constructs.glue_roles import ARTIFACT_GLUE_PREFIX, RAW_REJECTS_PREFIX, EtlRoles
from ml_constructs.glue_workflow import EtlWorkflow
from ml_constructs.lake import GovernedLake
from pipelines.data import spec as specs

__all__ = ["ARTIFACT_GLUE_PREFIX", "RAW_REJECTS_PREFIX", "CatalogAndEtl"]


class CatalogAndEtl(Construct):
    """Glue databases, the curated table, crawler, ETL job, data quality and triggers, for one data set.

    Attributes: ``raw_database``, ``curated_database``, ``curated_table``, ``curated_prefix`` (names),
    ``table`` (the curated table resource), ``dq_ruleset``, ``job``, ``crawler``, ``workflow``,
    ``job_role``, ``crawler_role``, ``security_configuration``, ``security_group``, ``connection``,
    ``dead_letter_queue`` (events the workflow could not take); the parts: ``catalog``,
    ``network``, ``roles``, ``run``.

    :param prefix: name prefix for named Glue resources (``mlops_dev``).
    :param dataset: the data-set spec: table columns, quality rules, the job's ``--dataset``.
    :param lake: the governance construct that grants and gates.
    :param raw_bucket, curated_bucket, artifact_bucket: the zones.
    :param data_key, logs_key: encryption for data, bookmarks and logs.
    :param vpc, subnets: where the job and crawler run.
    :param in_vpc: False runs them in Glue's own network, without a connection (default True).
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
        dataset: specs.DataSet,
        lake: GovernedLake,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        in_vpc: bool = True,
        settings: EtlSettings,
        raw_events_prefix: str,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        zones = {"raw_bucket": raw_bucket, "curated_bucket": curated_bucket, "artifact_bucket": artifact_bucket}
        # Each part nests in the one before under the id "Default", which CDK leaves out of logical
        # ids: every resource keeps the id it had when this was one construct (the catalog's are
        # pinned, and CloudFormation cannot replace the named Glue resources in place).
        self.catalog = GlueCatalog(
            self, "Default", prefix=prefix, dataset=dataset, lake=lake, raw_bucket=raw_bucket,
            curated_bucket=curated_bucket, raw_events_prefix=raw_events_prefix,
        )  # fmt: skip
        self.network = EtlNetwork(
            self.catalog,
            "Default",
            prefix=prefix,
            data_key=data_key,
            logs_key=logs_key,
            vpc=vpc,
            subnets=subnets,
            in_vpc=in_vpc,
        )
        self.roles = EtlRoles(
            self.network, "Default", catalog=self.catalog, network=self.network, lake=lake, data_key=data_key,
            logs_key=logs_key, raw_events_prefix=raw_events_prefix, **zones,
        )  # fmt: skip
        self.run = EtlWorkflow(
            self.roles, "Default", prefix=prefix, dataset_name=dataset.name, catalog=self.catalog,
            network=self.network, roles=self.roles, lake=lake, settings=settings,
            raw_events_prefix=raw_events_prefix, alarm_topic=alarm_topic, **zones,
        )  # fmt: skip
        self.raw_database, self.curated_database = self.catalog.raw_database, self.catalog.curated_database
        self.curated_table, self.curated_prefix = self.catalog.curated_table, self.catalog.curated_prefix
        self.table, self.dq_ruleset = self.catalog.table, self.catalog.dq_ruleset
        self.security_configuration = self.network.security_configuration
        self.security_group, self.connection = self.network.security_group, self.network.connection
        self.crawler_role, self.job_role = self.roles.crawler_role, self.roles.job_role
        self.crawler, self.job, self.workflow = self.run.crawler, self.run.job, self.run.workflow
        self.dead_letters, self.dead_letter_queue = self.run.dead_letters, self.run.dead_letter_queue
