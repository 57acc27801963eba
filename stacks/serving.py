"""Serving stack: the A/B endpoint, its promotion rule, and the approval-to-challenger flow."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.ab_endpoint import VARIANTS, AbEndpoint, describe
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.events import DeadLetterQueue
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, sagemaker_metrics, volume_key_grants
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from stacks.base import PlatformStack


class ServingStack(PlatformStack):
    """Champion and challenger behind one endpoint, and what moves traffic between them.

    - ``endpoint``: an ``AbEndpoint`` (models in the VPC, canary deployments with
      auto-rollback, autoscaling per variant, alarms, dashboard).
    - ``promotion``: a Lambda on the profile's schedule that compares the variants
      and shifts weights (or rolls back, or holds; dry-run from the profile).
    - ``deployer``: a Lambda on model-package approval that makes the approved
      package the challenger through a new endpoint config, under the guardrails.

    Models come from the profile's package ARNs (or ``-c champion=ARN -c
    challenger=ARN``); without them the endpoint serves the bootstrap model.
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

        self.model_role = self._model_role(model_package_group, data_key, serving_data_policy)
        self.endpoint = AbEndpoint(
            self,
            "Churn",
            name=name,
            settings=settings,
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
        self.model_role.add_statements(
            iam.PolicyStatement(
                sid="BootstrapModel",
                actions=["s3:GetObject"],
                resources=[self.endpoint.bootstrap.bucket.arn_for_objects(self.endpoint.bootstrap.s3_object_key)],
            )
        )

        endpoint_arn = self.format_arn(service="sagemaker", resource="endpoint", resource_name="*")
        self.dead_letter_queue = DeadLetterQueue(
            self, "DeadLetters", purpose="the promotion and deployment triggers"
        ).queue
        common = {
            "vpc": vpc,
            "subnets": workload_subnets,
            "logs_key": logs_key,
            "log_retention": self.log_retention,
            "removal_policy": self.data_removal_policy,
            "reserved_concurrency": self.profile.lambda_reserved_concurrency,
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
        self.deployer = PythonFunction(
            self,
            "Deployer",
            package="model_deployer",
            description="Makes a newly approved model package the challenger, under the canary guardrails",
            timeout=Duration.minutes(2),
            environment={
                "ENDPOINT_NAME": self.endpoint.endpoint_name,
                "MODEL_PACKAGE_GROUP": model_package_group,
                "CANARY_PERCENT": str(settings.canary_percent),
                "CANARY_WAIT_SECONDS": str(settings.canary_wait_minutes * 60),
                "ROLLBACK_ALARMS": ",".join(self.endpoint.rollback_alarm_names),
                "POWERTOOLS_METRICS_NAMESPACE": "MlPlatform/Serving",
            },
            statements=self._deployer_statements(model_package_group, endpoint_arn),
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
            [self._arn("model"), self._arn("endpoint-config"), self._arn("model-package", f"{model_package_group}/*")],
            "The deployer creates models and endpoint configs whose names it generates per approval, "
            "and reads versions of the platform's own model package group only.",
        )
        for fn in (self.promotion, self.deployer):
            acknowledge_wildcards(
                fn.role.policy,
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
        CfnOutput(self, "ServingModels", value=describe(settings))
        CfnOutput(self, "VariantNames", value=",".join(VARIANTS))

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

    def _deployer_statements(self, group: str, endpoint_arn: str) -> list[iam.PolicyStatement]:
        arn = self._arn
        deployer_resources = [arn("model"), arn("endpoint-config"), endpoint_arn]
        return [
            iam.PolicyStatement(
                actions=[
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:UpdateEndpoint",
                ],
                resources=deployer_resources,
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage"], resources=[arn("model-package", f"{group}/*")]
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.model_role.iam_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
