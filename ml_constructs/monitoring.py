"""What both monitoring engines share: the artifact bucket's ``monitoring/`` layout, the jobs' role, the
Model Monitor analyzer image. The engines: ``ml_constructs.drift_job`` (the portable drift job, default)
and ``ml_constructs.model_monitor`` (SageMaker Model Monitor). Both run network-isolated in the VPC's
workload subnets, with KMS on volumes and outputs and encrypted traffic between containers, and read
the endpoint's data capture and the ground truth under ``monitoring/``.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.names import BASELINE_PREFIX, GROUND_TRUTH_PREFIX, MONITORING_PREFIX, REPORTS_PREFIX  # noqa: F401  (re-exported: one source of the bucket layout)
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, volume_key_grants

MODEL_MONITOR_IMAGES = Path(__file__).resolve().parents[1] / "pipelines" / "monitoring" / "model_monitor_images.json"
PROCESSING = "/opt/ml/processing"


def model_monitor_image(region: str) -> str:
    images = json.loads(MODEL_MONITOR_IMAGES.read_text())
    if region not in images:
        raise ValueError(f"no Model Monitor analyzer image known for region {region}; known: {sorted(images)}")
    return images[region]


def monitoring_job_role(
    scope: Construct, construct_id: str, *, key: kms.IKey, data_policy: iam.IManagedPolicy, extra: list
) -> ManagedRole:
    """What a monitoring job needs: ``data_policy`` (capture, ground truth and baselines in, reports
    out), the key for its volumes, the VPC and its logs."""
    stack = Stack.of(scope)
    sagemaker_logs = stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws/sagemaker/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    role = ManagedRole(
        scope,
        construct_id,
        assumed_by=account_service(scope, "sagemaker.amazonaws.com"),
        description="Monitoring job: reads data capture, ground truth and baselines, writes reports",
        statements=[
            volume_key_grants(key),
            iam.PolicyStatement(sid="Network", actions=VPC_ATTACH_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[sagemaker_logs],
            ),
            *extra,
        ],
    )
    role.iam_role.add_managed_policy(data_policy)
    acknowledge_wildcards(
        role.policy,
        ["*", sagemaker_logs],
        "Wildcards only for the jobs' log streams, named per run, and the EC2 network-interface actions, "
        "which have no resource-level permissions.",
    )
    return role
