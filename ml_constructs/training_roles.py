"""The training pipeline's one execution role (created in the training stack's scope, so its ids stay)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from ml_constructs.access import acknowledge_wildcards
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, sagemaker_metrics, volume_key_grants


def pipeline_execution_role(
    stack: Stack, name: str, data_key: kms.IKey, training_data: iam.IManagedPolicy, artifacts: iam.IManagedPolicy
) -> ManagedRole:
    def arn(resource: str, resource_name: str = "*") -> str:
        return stack.format_arn(service="sagemaker", resource=resource, resource_name=resource_name)

    sagemaker_logs = stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )  # fmt: skip
    job_resources = [arn("processing-job"), arn("hyper-parameter-tuning-job"), arn("training-job")]
    package_resources = [arn("model-package-group", name), arn("model-package", f"{name}/*")]
    role = ManagedRole(
        stack,
        "ExecutionRole",
        assumed_by=account_service(stack, "sagemaker.amazonaws.com"),
        description="SageMaker pipeline and its jobs: curated data in, models and reports out",
        statements=[
            iam.PolicyStatement(
                sid="Jobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=job_resources,
            ),
            iam.PolicyStatement(
                sid="Registry",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:AddTags",
                ],
                resources=package_resources,
            ),
            iam.PolicyStatement(
                sid="PassSelf",
                actions=["iam:PassRole"],
                resources=[stack.format_arn(service="iam", region="", resource="role", resource_name="*")],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(sid="Network", actions=VPC_ATTACH_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="Logs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[sagemaker_logs],
            ),
            sagemaker_metrics(),
            volume_key_grants(data_key),
            iam.PolicyStatement(sid="LakeFormation", actions=["lakeformation:GetDataAccess"], resources=["*"]),
        ],
    )
    for policy in (training_data, artifacts):
        role.iam_role.add_managed_policy(policy)
    acknowledge_wildcards(
        role,
        ["*", sagemaker_logs, *job_resources, package_resources[1],
         stack.format_arn(service="iam", region="", resource="role", resource_name="*")],
        "Wildcards only where names are generated per run: the pipeline's processing, tuning and "
        "training jobs, its model package versions and log streams; iam:PassRole is limited to "
        "SageMaker by condition; EC2 network-interface actions and lakeformation:GetDataAccess "
        "have no resource-level permissions.",
    )  # fmt: skip
    return role
