"""Serving stack: the A/B endpoint, its promotion rule, and the approval-to-challenger flow."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, CfnParameter, Duration, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.ab_endpoint import SHADOW, VARIANTS, AbEndpoint
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.events import DeadLetterQueue
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, sagemaker_metrics, volume_key_grants
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from ml_constructs.monitoring import BASELINE_PREFIX
from stacks.base import PlatformStack

# Where each pipeline execution's Baseline step writes (pipelines/churn/<execution>/baselines/).
BASELINE_SOURCE = "pipelines/*/baselines/"


class ServingStack(PlatformStack):
    """Champion and challenger behind one endpoint, and what moves traffic between them.

    - ``endpoint``: an ``AbEndpoint`` (models in the VPC, canary deployments with
      auto-rollback, autoscaling per variant, alarms, dashboard).
    - ``promotion``: a Lambda on the profile's schedule that compares the variants
      and shifts weights (or rolls back, or holds; dry-run from the profile).
    - ``deployer``: a Lambda on model-package approval that makes the approved
      package the challenger: a stack update (previous template, the challenger
      parameter changed) under ``deploy_role``, so CloudFormation owns the
      endpoint and the guardrails apply.
    - ``package_parameters``: variant -> ``CfnParameter`` (``ChampionPackageArn``,
      ``ChallengerPackageArn``, ``ShadowPackageArn`` when the profile has a shadow);
      "" serves the bootstrap model. The profile's ARNs are only their defaults:
      ``cdk deploy`` keeps previous values, so a deploy never undoes an approval.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        workload_subnets: ec2.SubnetSelection,
        artifact_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        serving_data_policy: iam.IManagedPolicy,
        model_package_group: str,
        alarm_topic: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = self.profile.serving
        name = f"mlops-{self.profile.name}-churn"

        self.security_group = ec2.SecurityGroup(
            self, "ModelSecurityGroup", vpc=vpc, description="Endpoint model containers: no ingress",
            allow_all_outbound=False,
        )  # fmt: skip
        # Model artifacts are fetched through the S3 gateway endpoint (the subnets are isolated).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "S3 and AWS APIs via VPC endpoints")

        self.package_parameters = self._package_parameters(model_package_group)
        self.model_role = self._model_role(model_package_group, data_key, serving_data_policy)
        self.endpoint = AbEndpoint(
            self,
            "Churn",
            name=name,
            settings=settings,
            packages={variant: p.value_as_string for variant, p in self.package_parameters.items()},
            role_arn=self.model_role.iam_role.role_arn,
            vpc=vpc,
            subnets=workload_subnets,
            security_group=self.security_group,
            volume_key=data_key,
            capture_bucket=artifact_bucket,
            alarm_topic=alarm_topic,
        )
        for model in self.endpoint.models.values():
            model.node.add_dependency(self.model_role)
        rollback_alarms = [
            self.format_arn(service="cloudwatch", resource="alarm", resource_name=alarm,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)
            for alarm in self.endpoint.rollback_alarm_names
        ]  # fmt: skip
        # Deployment guardrails read the rollback alarms as the endpoint's execution role too.
        self.model_role.add_statements(
            iam.PolicyStatement(
                sid="BootstrapModel",
                actions=["s3:GetObject"],
                resources=[self.endpoint.bootstrap.bucket.arn_for_objects(self.endpoint.bootstrap.s3_object_key)],
            ),
            iam.PolicyStatement(sid="RollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=rollback_alarms),
        )
        self.deploy_role = self._deploy_role(model_package_group, data_key, rollback_alarms)

        endpoint_arn = self.format_arn(service="sagemaker", resource="endpoint", resource_name="*")
        self.dead_letter_queue = DeadLetterQueue(
            self, "DeadLetters", purpose="the promotion and deployment triggers"
        ).queue
        common = {
            "vpc": vpc,
            "subnets": workload_subnets,
            "logs_key": logs_key,
            **self.function_settings,
            "api_cidr": self.profile.vpc_cidr,
            "async_invocation": AsyncInvocation(alarm_topic=alarm_topic),
        }
        self.promotion = PythonFunction(
            self,
            "Promotion",
            package="ab_promotion",
            description="Compares champion and challenger; shifts weights, rolls back or holds",
            environment={
                "ENDPOINT_NAME": self.endpoint.endpoint_name,
                "MIN_CHALLENGER_INVOCATIONS": str(settings.min_challenger_invocations),
                "MAX_ERROR_RATE_INCREASE": str(settings.max_error_rate_increase),
                "MAX_LATENCY_RATIO": str(settings.max_latency_ratio),
                "PROMOTION_STEP": str(settings.promotion_step),
                "DRY_RUN": "true" if settings.promotion_dry_run else "false",
                "POWERTOOLS_METRICS_NAMESPACE": "MlPlatform/Serving",
            },
            statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
                    resources=[endpoint_arn],
                ),
                iam.PolicyStatement(actions=["cloudwatch:GetMetricStatistics"], resources=["*"]),
            ],
            **common,
        )
        challenger = self.package_parameters["challenger"]
        self.deployer = PythonFunction(
            self,
            "Deployer",
            package="model_deployer",
            description="Makes a newly approved model package the challenger through a stack update",
            environment={
                "STACK_NAME": self.stack_name,
                "PACKAGE_PARAMETER": challenger.logical_id,
                "DEPLOY_ROLE_ARN": self.deploy_role.iam_role.role_arn,
                "MODEL_PACKAGE_GROUP": model_package_group,
                "ARTIFACT_BUCKET": artifact_bucket.bucket_name,
                "BASELINE_PREFIX": BASELINE_PREFIX,
                "POWERTOOLS_METRICS_NAMESPACE": "MlPlatform/Serving",
            },
            statements=[
                *self._deployer_statements(model_package_group),
                *self._baseline_copy_statements(artifact_bucket, data_key),
            ],
            gateway_egress=True,  # S3, through its gateway endpoint
            **common,
        )
        acknowledge_wildcards(
            self.promotion.role.policy,
            ["*"],
            "Resource '*' only for APIs without resource-level permissions: the EC2 network-interface "
            "actions of a VPC Lambda and cloudwatch:GetMetricStatistics.",
        )
        acknowledge_wildcards(
            self.deployer.role.policy,
            [self._arn("model-package", f"{model_package_group}/*")],
            "The deployer reads versions of the platform's own model package group only (version "
            "numbers are assigned at registration).",
        )
        # The role itself (not its policy): the bucket is a cross-stack reference, final only at validation.
        acknowledge_wildcards(
            self.deployer.role,
            [
                artifact_bucket.arn_for_objects(f"{BASELINE_SOURCE}*"),
                artifact_bucket.arn_for_objects(f"{BASELINE_PREFIX}*"),
            ],
            "The deployer reads the baselines of any pipeline execution (execution ids are generated) "
            "and writes only the monitoring job's current-baselines prefix.",
        )
        acknowledge_wildcards(
            self.promotion.role.policy,
            [endpoint_arn],
            "Endpoint names are generated by CloudFormation; the function acts on this stack's "
            "endpoint, named in its environment. cloudwatch:GetMetricStatistics has no resource scoping.",
        )

        def target(fn: PythonFunction) -> targets.LambdaFunction:
            return targets.LambdaFunction(
                fn.function, dead_letter_queue=self.dead_letter_queue, retry_attempts=2, max_event_age=Duration.hours(1)
            )

        events.Rule(
            self, "PromotionSchedule", description="Compare the variants and move traffic",
            schedule=events.Schedule.expression(settings.promotion_schedule), targets=[target(self.promotion)],
        )  # fmt: skip
        events.Rule(
            self,
            "OnModelApproved",
            description="A newly approved churn model becomes the challenger",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[target(self.deployer)],
        )

        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        CfnOutput(self, "VariantNames", value=",".join(VARIANTS))
        for variant, condition in self.endpoint.bootstrap_conditions.items():
            CfnOutput(
                self,
                f"{variant.capitalize()}Serves",
                description=f"The model package the {variant} variant serves",
                value=Fn.condition_if(
                    condition.logical_id, "bootstrap", self.package_parameters[variant].value_as_string
                ).to_string(),
            )

    def _package_parameters(self, group: str) -> dict[str, CfnParameter]:
        settings = self.profile.serving
        defaults = {"champion": settings.champion_package_arn, "challenger": settings.challenger_package_arn}
        if settings.shadow_package_arn:
            defaults[SHADOW] = settings.shadow_package_arn
        # Only versions of this stack's model package group, in its region; "" = the bootstrap model.
        pattern = rf"^(|arn:aws[a-z-]*:sagemaker:{self.region}:\d{{12}}:model-package/{group}/\d+)$"
        return {
            variant: CfnParameter(
                self,
                f"{variant.capitalize()}PackageArn",
                type="String",
                default=default or "",
                allowed_pattern=pattern,
                constraint_description=f"an approved model package ARN of group {group} in {self.region}, or empty",
                description=f"Model package the {variant} variant serves (empty: the bootstrap model). "
                "Later deploys keep the previous value; the approval flow sets the challenger.",
            )
            for variant, default in defaults.items()
        }

    def _model_role(self, group: str, data_key: kms.IKey, serving_data: iam.IManagedPolicy) -> ManagedRole:
        logs = self.format_arn(
            service="logs", resource="log-group", resource_name="/aws/sagemaker/Endpoints/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )  # fmt: skip
        packages = self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")
        role = ManagedRole(
            self,
            "ModelRole",
            assumed_by=account_service(self, "sagemaker.amazonaws.com"),
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

    def _arn(self, resource: str, resource_name: str = "*") -> str:
        return self.format_arn(service="sagemaker", resource=resource, resource_name=resource_name)

    def _deploy_role(self, group: str, data_key: kms.IKey, rollback_alarms: list[str]) -> ManagedRole:
        """CloudFormation's role for the approval flow's stack updates: only what that update does.

        The update replaces a model and the endpoint config (create, tag, delete in cleanup or on
        rollback) and updates the endpoint under its guardrails (rollback alarms, KMS volume key).
        """
        arn = self._arn
        platform_stacks = self.format_arn(
            service="cloudformation", resource="stack", resource_name=f"mlops-{self.profile.name}-*/*"
        )
        role = ManagedRole(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation, for the approval flow's challenger updates of the serving stack",
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
                    resources=[self.endpoint.endpoint.ref, arn("endpoint-config")],
                ),
                iam.PolicyStatement(
                    sid="Packages",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[arn("model-package", f"{group}/*")],
                ),
                iam.PolicyStatement(
                    sid="PassModelRole",
                    actions=["iam:PassRole"],
                    resources=[self.model_role.iam_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                # The endpoint config is KMS-encrypted: SageMaker grants itself the key as the caller.
                volume_key_grants(data_key),
                iam.PolicyStatement(sid="DescribeVolumeKey", actions=["kms:DescribeKey"], resources=[data_key.key_arn]),
                iam.PolicyStatement(
                    sid="RollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=rollback_alarms
                ),
                # Fn::GetStackOutput references (VPC, keys, bucket) resolve again on every update, as this role.
                iam.PolicyStatement(
                    sid="PlatformOutputs", actions=["cloudformation:DescribeStacks"], resources=[platform_stacks]
                ),
                self._bootstrap_version_read(),
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

    def _bootstrap_version_read(self) -> iam.PolicyStatement:
        """Read the CDK bootstrap version parameter that the template's BootstrapVersion parameter resolves."""
        qualifier = self.synthesizer.bootstrap_qualifier or "hnb659fds"
        return iam.PolicyStatement(
            sid="BootstrapVersion",
            actions=["ssm:GetParameters"],
            resources=[
                self.format_arn(service="ssm", resource="parameter", resource_name=f"cdk-bootstrap/{qualifier}/version")
            ],
        )

    def _baseline_copy_statements(self, bucket: s3.IBucket, key: kms.IKey) -> list[iam.PolicyStatement]:
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
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            ),
        ]

    def _deployer_statements(self, group: str) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[self.stack_id]),
            # Only with the narrow role: without RoleARN, CloudFormation would reuse the stack's
            # previous role (the CDK deployment role, which is admin).
            iam.PolicyStatement(
                actions=["cloudformation:UpdateStack"],
                resources=[self.stack_id],
                conditions={"StringEquals": {"cloudformation:RoleArn": self.deploy_role.iam_role.role_arn}},
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.deploy_role.iam_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage"], resources=[self._arn("model-package", f"{group}/*")]
            ),
            self._bootstrap_version_read(),
        ]
