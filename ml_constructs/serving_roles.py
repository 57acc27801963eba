"""The serving stack's roles and the Lambda statements of its approval flow.

Functions that create the roles in the stack's own scope (``ModelRole``, ``DeployRole``), so the
logical ids stay those of the stack.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config.names import BASELINE_PREFIX
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.iam import ManagedRole
from ml_constructs.statements import VPC_ATTACH_ACTIONS, account_service, sagemaker_metrics, volume_key_grants

# Where each pipeline execution's Baseline step writes (pipelines/churn/<execution>/baselines/).
BASELINE_SOURCE = "pipelines/*/baselines/"


def model_role(stack: Stack, *, group: str, data_key: kms.IKey, serving_data: iam.IManagedPolicy) -> ManagedRole:
    """The endpoint models' execution role (construct id ``ModelRole`` in ``stack``)."""
    logs = stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws/sagemaker/Endpoints/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )  # fmt: skip
    packages = stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")
    role = ManagedRole(
        stack,
        "ModelRole",
        assumed_by=account_service(stack, "sagemaker.amazonaws.com"),
        description="Endpoint models: read model artifacts, write captured data",
        statements=[
            iam.PolicyStatement(sid="Network", actions=VPC_ATTACH_ACTIONS, resources=["*"]),
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs],
            ),
            sagemaker_metrics(),
            iam.PolicyStatement(sid="Packages", actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
            volume_key_grants(data_key),
        ],
    )
    role.iam_role.add_managed_policy(serving_data)
    acknowledge_wildcards(
        role.policy,
        ["*", logs, packages],
        "Wildcards only where names are generated: the endpoint's log streams and the group's "
        "package versions; EC2 network-interface actions have no resource-level permissions and "
        "PutMetricData is limited to SageMaker namespaces by condition.",
    )
    return role


def sagemaker_arn(stack: Stack, resource: str, resource_name: str = "*") -> str:
    return stack.format_arn(service="sagemaker", resource=resource, resource_name=resource_name)


def deploy_role(
    stack: Stack,
    *,
    variant: str,
    group: str,
    data_key: kms.IKey,
    rollback_alarms: list[str],
    endpoint_arn: str,
    model_role_arn: str,
    resource_prefix: str,
) -> ManagedRole:
    """CloudFormation's role for the approval flow's stack updates of the ``variant``'s package: only what
    that update does (construct id ``DeployRole`` in ``stack``).

    The update replaces a model and the endpoint config (create, tag, delete in cleanup or on
    rollback) and updates the endpoint under its guardrails (rollback alarms, KMS volume key).
    """

    def arn(resource: str, resource_name: str = "*") -> str:
        return sagemaker_arn(stack, resource, resource_name)

    platform_stacks = stack.format_arn(
        service="cloudformation", resource="stack", resource_name=f"{resource_prefix}-*/*"
    )
    role = ManagedRole(
        stack,
        "DeployRole",
        assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
        description=f"CloudFormation, for the approval flow's {variant} updates of the serving stack",
        statements=[
            iam.PolicyStatement(
                sid="ModelsAndConfigs",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:DeleteModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:AddTags",
                ],
                resources=[arn("model"), arn("endpoint-config")],
            ),
            iam.PolicyStatement(
                sid="Endpoint",
                actions=["sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint"],
                # UpdateEndpoint authorizes the endpoint config it moves to as well as the endpoint.
                resources=[endpoint_arn, arn("endpoint-config")],
            ),
            iam.PolicyStatement(
                sid="Packages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[arn("model-package", f"{group}/*")],
            ),
            iam.PolicyStatement(
                sid="PassModelRole",
                actions=["iam:PassRole"],
                resources=[model_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            # The endpoint config is KMS-encrypted: SageMaker grants itself the key as the caller.
            volume_key_grants(data_key),
            iam.PolicyStatement(sid="DescribeVolumeKey", actions=["kms:DescribeKey"], resources=[data_key.key_arn]),
            iam.PolicyStatement(sid="RollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=rollback_alarms),
            # Fn::GetStackOutput references (VPC, keys, bucket) resolve again on every update, as this role.
            iam.PolicyStatement(
                sid="PlatformOutputs", actions=["cloudformation:DescribeStacks"], resources=[platform_stacks]
            ),
            bootstrap_version_read(stack),
        ],
    )
    acknowledge_wildcards(
        role.policy,
        [arn("model"), arn("endpoint-config"), arn("model-package", f"{group}/*"), platform_stacks],
        "CloudFormation generates the names of the models and endpoint configs it replaces, so "
        "they are only known after the update; package versions are numbered at registration; "
        "stack ids end in a generated suffix, and only the platform's own stacks are read. "
        "The endpoint itself is named exactly.",
    )
    return role


def bootstrap_version_read(stack: Stack) -> iam.PolicyStatement:
    """Read the CDK bootstrap version parameter that the template's BootstrapVersion parameter resolves."""
    qualifier = stack.synthesizer.bootstrap_qualifier or "hnb659fds"
    return iam.PolicyStatement(
        sid="BootstrapVersion",
        actions=["ssm:GetParameters"],
        resources=[
            stack.format_arn(service="ssm", resource="parameter", resource_name=f"cdk-bootstrap/{qualifier}/version")
        ],
    )


def baseline_copy_statements(stack: Stack, bucket: s3.IBucket, key: kms.IKey) -> list[iam.PolicyStatement]:
    """List and read the pipeline executions' baselines, write the monitoring job's copy (CopyObject
    reads the source and writes the destination as the caller)."""
    return [
        # s3:prefix is in the request context of ListBucket only.
        iam.PolicyStatement(
            sid="ListBaselines",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": BASELINE_SOURCE}},
        ),
        iam.PolicyStatement(
            sid="ReadBaselines", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{BASELINE_SOURCE}*")]
        ),
        iam.PolicyStatement(
            sid="WriteCurrentBaselines",
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{BASELINE_PREFIX}*")],
        ),
        iam.PolicyStatement(
            sid="BaselineObjectsKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
        ),
    ]


def deployer_statements(stack: Stack, *, group: str, deploy_role_arn: str) -> list[iam.PolicyStatement]:
    """The deployer Lambda: update this stack through the deploy role only, and read the group's packages."""
    return [
        iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]),
        # Only with the narrow role: without RoleARN, CloudFormation would reuse the stack's
        # previous role (the CDK deployment role, which is admin).
        iam.PolicyStatement(
            actions=["cloudformation:UpdateStack"],
            resources=[stack.stack_id],
            conditions={"StringEquals": {"cloudformation:RoleArn": deploy_role_arn}},
        ),
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[deploy_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            actions=["sagemaker:DescribeModelPackage"], resources=[sagemaker_arn(stack, "model-package", f"{group}/*")]
        ),
        bootstrap_version_read(stack),
    ]
