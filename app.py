#!/usr/bin/env python3
"""CDK app: reads the profile, builds the stacks, passes objects between them."""

import dataclasses
import os

from config.toolchain import use_project_node

use_project_node()

import aws_cdk as cdk  # noqa: E402

from config import get_profile, names  # noqa: E402
from posture.checks import register_packs  # noqa: E402
from stacks.alerts import AlertsStack  # noqa: E402
from stacks.audit import AuditStack  # noqa: E402
from stacks.data_lake import DataLakeStack  # noqa: E402
from stacks.ingest import IngestStack  # noqa: E402
from stacks.monitoring import MonitoringStack  # noqa: E402
from stacks.network import NetworkStack  # noqa: E402
from stacks.serving import ServingStack  # noqa: E402
from stacks.training import TrainingStack  # noqa: E402

app = cdk.App()
profile = get_profile(app.node.try_get_context("profile"))
# -c monitoring_engine=model-monitor|portable overrides the profile's engine (validated like the profile).
if engine := app.node.try_get_context("monitoring_engine"):
    profile = dataclasses.replace(profile, monitoring=dataclasses.replace(profile.monitoring, engine=engine))
# -c dataset=NAME picks another data-set spec (pipelines/data/datasets/NAME.json), validated like the profile.
if dataset := app.node.try_get_context("dataset"):
    profile = dataclasses.replace(profile, dataset=dataset)
env = cdk.Environment(account=profile.account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=profile.region)
common = {"profile": profile, "env": env}
prefix = names.resource_prefix(profile.name)

network = NetworkStack(app, f"{prefix}-network", description="ML platform network: VPC, endpoints, flow logs", **common)
alerts = AlertsStack(app, f"{prefix}-alerts", description="ML platform alarm topic", **common)
data_lake = DataLakeStack(
    app,
    f"{prefix}-data-lake",
    description="ML platform data lake: keys, zone buckets, Lake Formation, Glue catalog and ETL",
    vpc=network.vpc,
    workload_subnets=network.workload_subnets,
    alarm_topic=alerts.alarm_topic,
    **common,
)
ingest = IngestStack(
    app,
    f"{prefix}-ingest",
    description="ML platform ingest: Kinesis, validating Firehose, raw zone",
    vpc=network.vpc,
    workload_subnets=network.workload_subnets,
    raw_bucket=data_lake.raw_bucket,
    raw_ingest_policy=data_lake.raw_ingest_policy,
    raw_events_prefix=names.RAW_EVENTS_PREFIX,
    raw_errors_prefix=names.RAW_ERRORS_PREFIX,
    data_key=data_lake.data_key,
    logs_key=data_lake.logs_key,
    alarm_topic=alerts.alarm_topic,
    **common,
)
training = TrainingStack(
    app,
    f"{prefix}-training",
    description="ML platform training: SageMaker pipeline, model registry, retraining guard",
    vpc=network.vpc,
    workload_subnets=network.workload_subnets,
    curated_bucket=data_lake.curated_bucket,
    artifact_bucket=data_lake.artifact_bucket,
    data_key=data_lake.data_key,
    logs_key=data_lake.logs_key,
    training_data_policy=data_lake.training_data_policy,
    pipeline_artifacts_policy=data_lake.pipeline_artifacts_policy,
    curated_database=data_lake.etl.curated_database,
    curated_table=data_lake.etl.curated_table,
    alarm_topic=alerts.alarm_topic,
    **common,
)
serving = ServingStack(
    app,
    f"{prefix}-serving",
    description="ML platform serving: A/B endpoint, guardrails, autoscaling, promotion, approval flow",
    vpc=network.vpc,
    workload_subnets=network.workload_subnets,
    artifact_bucket=data_lake.artifact_bucket,
    data_key=data_lake.data_key,
    logs_key=data_lake.logs_key,
    serving_data_policy=data_lake.serving_data_policy,
    model_package_group=training.model_package_group_name,
    alarm_topic=alerts.alarm_topic,
    **common,
)
AuditStack(
    app,
    f"{prefix}-audit",
    description="ML platform audit: CloudTrail, CIS security alarms, ML control-plane alerts",
    raw_bucket=data_lake.raw_bucket,
    curated_bucket=data_lake.curated_bucket,
    artifact_bucket=data_lake.artifact_bucket,
    access_logs_bucket=data_lake.access_logs_bucket,
    audit_key=data_lake.audit_key,
    logs_key=data_lake.logs_key,
    platform_keys=[
        data_lake.data_key,
        data_lake.logs_key,
        data_lake.audit_key,
        alerts.topic_key,
        network.flow_log_key,
    ],
    weight_setter_arns=serving.weight_setter_arns,
    endpoint_deployer_arns=[serving.deploy_role.iam_role.role_arn],
    **common,
)
MonitoringStack(
    app,
    f"{prefix}-monitoring",
    description="ML platform monitoring: drift and model quality, alarms into retraining, ML ops dashboard",
    vpc=network.vpc,
    workload_subnets=network.workload_subnets,
    artifact_bucket=data_lake.artifact_bucket,
    data_key=data_lake.data_key,
    monitoring_job_policy=data_lake.monitoring_job_policy,
    monitoring_reports_policy=data_lake.monitoring_reports_policy,
    logs_key=data_lake.logs_key,
    alarm_topic=alerts.alarm_topic,
    endpoint_name=serving.endpoint.endpoint_name,
    retrain_alarm_prefix=training.retrain_alarm_prefix,
    pipeline_name=training.pipeline.pipeline_name,
    ingest_stream=ingest.stream,
    etl_job_name=data_lake.etl.job.ref,
    **common,
)

register_packs(app)
app.synth()
