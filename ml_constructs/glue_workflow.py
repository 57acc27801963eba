"""The raw -> curated run: crawler, ETL job, workflow and the events that start it or report it."""

from __future__ import annotations

import json

from aws_cdk import Aws, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import EtlSettings
from ml_constructs.events import DeadLetterQueue, notify_topic, object_created
from ml_constructs.glue_catalog import GlueCatalog
from ml_constructs.glue_network import EtlNetwork
from ml_constructs.glue_roles import ARTIFACT_GLUE_PREFIX, RAW_REJECTS_PREFIX, EtlRoles
from ml_constructs.iam import ManagedRole, account_service
from ml_constructs.lake import GovernedLake


class EtlWorkflow(Construct):
    """Crawler, job (with the data set's name as ``--dataset``), workflow, triggers and event rules.

    Attributes: ``crawler``, ``job``, ``workflow``, ``dead_letters`` and ``dead_letter_queue``
    (events the workflow could not take).

    :param dataset_name: the data-set spec the job curates.
    :param catalog, network, roles: what the job and crawler use.
    :param lake: the governance construct whose settings gate the job.
    :param raw_bucket, curated_bucket, artifact_bucket: the zones.
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
        dataset_name: str,
        catalog: GlueCatalog,
        network: EtlNetwork,
        roles: EtlRoles,
        lake: GovernedLake,
        raw_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        settings: EtlSettings,
        raw_events_prefix: str,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        security_configuration = network.security_configuration.name
        self.crawler = glue.CfnCrawler(
            self,
            "RawCrawler",
            role=roles.crawler_role.iam_role.role_arn,
            database_name=catalog.raw_database,
            description="Catalogs new raw events (date partitions) for Lake Formation-governed queries",
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[
                    glue.CfnCrawler.S3TargetProperty(
                        path=raw_bucket.s3_url_for_object(raw_events_prefix), connection_name=network.connection_name
                    )
                ]
            ),
            crawler_security_configuration=security_configuration,
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
        self.job = glue.CfnJob(
            self,
            "EtlJob",
            role=roles.job_role.iam_role.role_arn,
            description=f"{dataset_name} events: raw JSON lines to the curated Parquet table, bad rows quarantined",
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=network.script.s3_object_url
            ),
            glue_version="5.0",
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            max_retries=1,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security_configuration,
            connections=(
                glue.CfnJob.ConnectionsListProperty(connections=[network.connection_name])
                if network.connection_name
                else None
            ),
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-glue-datacatalog": "true",
                "--extra-py-files": network.spec_module.s3_object_url,
                "--TempDir": artifact_bucket.s3_url_for_object(f"{ARTIFACT_GLUE_PREFIX}tmp/"),
                "--raw_path": raw_bucket.s3_url_for_object(raw_events_prefix),
                "--rejects_path": raw_bucket.s3_url_for_object(RAW_REJECTS_PREFIX),
                "--curated_path": curated_bucket.s3_url_for_object(catalog.curated_prefix),
                "--stats_path": artifact_bucket.s3_url_for_object(f"{ARTIFACT_GLUE_PREFIX}stats/"),
                "--curated_database": catalog.curated_database,
                "--curated_table": catalog.curated_table,
                "--dq_ruleset": catalog.dq_ruleset.name,
                "--dataset": dataset_name,
            },
        )
        for resource in (self.crawler, self.job):
            resource.node.add_dependency(*[d for d in (network.connection, lake.gate, catalog.table) if d])
        # Glue uses the role, its permissions and the security configuration (named, not referenced)
        # as soon as the crawler or job exists: CloudFormation must create all of them first.
        self.crawler.node.add_dependency(roles.crawler_role, roles.crawler_access, network.security_configuration)
        self.job.node.add_dependency(roles.job_role, *roles.job_access, network.security_configuration)
        self._workflow(prefix, raw_bucket, settings, raw_events_prefix, alarm_topic)

    def _workflow(
        self, prefix: str, raw_bucket: s3.IBucket, settings: EtlSettings, raw_prefix: str, alarm_topic: sns.ITopic
    ) -> None:
        """New raw data (batched) or the schedule starts the crawler, then the job; failures notify."""
        self.workflow = glue.CfnWorkflow(
            self, "Workflow", name=f"{prefix}-raw-to-curated", description="Crawl raw, then run the ETL job",
            max_concurrent_runs=1,
        )  # fmt: skip
        start = glue.CfnTrigger(
            self, "StartOnEvents", type="EVENT", workflow_name=self.workflow.name,
            event_batching_condition=glue.CfnTrigger.EventBatchingConditionProperty(
                batch_size=settings.batch_size, batch_window=settings.batch_window_seconds
            ),
            actions=[glue.CfnTrigger.ActionProperty(crawler_name=self.crawler.ref)],
        )  # fmt: skip
        crawled = glue.CfnTrigger.ConditionProperty(
            logical_operator="EQUALS", crawler_name=self.crawler.ref, crawl_state="SUCCEEDED"
        )
        then_job = glue.CfnTrigger(
            self, "JobAfterCrawl", type="CONDITIONAL", start_on_creation=True, workflow_name=self.workflow.name,
            predicate=glue.CfnTrigger.PredicateProperty(conditions=[crawled]),
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.job.ref)],
        )  # fmt: skip
        for trigger in (start, then_job):
            trigger.add_resource_dependency(self.workflow)

        workflow_arn = Stack.of(self).format_arn(service="glue", resource="workflow", resource_name=self.workflow.name)
        self.dead_letters = DeadLetterQueue(self, "EventsDeadLetters", purpose="the ETL workflow's triggers and alerts")
        self.dead_letter_queue = self.dead_letters.queue
        events_role = ManagedRole(
            self, "EventsRole", assumed_by=account_service(self, "events.amazonaws.com"),
            description="EventBridge: notify the raw-to-curated workflow",
            statements=[iam.PolicyStatement(actions=["glue:NotifyEvent"], resources=[workflow_arn])],
        )  # fmt: skip
        on_data = events.Rule(
            self, "OnRawData", description="New raw events start the workflow (batched by its trigger)",
            event_pattern=object_created(raw_bucket, {"prefix": raw_prefix}),
        )  # fmt: skip
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
