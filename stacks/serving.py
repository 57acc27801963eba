"""Serving stack: the A/B endpoint, its promotion rule, and the approval-to-challenger flow (or to the lone champion)."""

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

from config import names
from ml_constructs.ab_endpoint import AbEndpoint
from ml_constructs.endpoint_watch import CHALLENGER, CHAMPION, SHADOW, approved_variant
from ml_constructs.events import DeadLetterQueue
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from ml_constructs.serving_functions import deployer_function, promotion_function
from ml_constructs.serving_roles import deploy_role, model_role
from pipelines.data import spec as specs
from stacks.base import PlatformStack


class ServingStack(PlatformStack):
    """Champion and challenger behind one endpoint, and what moves traffic between them.

    - ``endpoint``: an ``AbEndpoint`` (models in the VPC, canary deployments with
      auto-rollback, autoscaling per variant, alarms, dashboard).
    - ``promotion``: a Lambda on the profile's schedule that compares the variants
      and shifts weights (or rolls back, or holds; dry-run from the profile);
      None without a challenger (nothing to promote).
    - ``weight_setter_arns``: roles that shift variant weights (the promotion's; none without it).
    - ``deployer``: a Lambda on model-package approval that makes the approved
      package the challenger (the champion when the profile has no challenger): a
      stack update (previous template, that variant's parameter changed) under
      ``deploy_role``, so CloudFormation owns the endpoint and the guardrails apply.
    - ``package_parameters``: variant -> ``CfnParameter`` (``ChampionPackageArn``,
      ``ChallengerPackageArn`` when the profile has a challenger, ``ShadowPackageArn``
      when it has a shadow); "" serves the bootstrap model. The profile's ARNs are only
      their defaults: ``cdk deploy`` keeps previous values, so a deploy never undoes an approval.
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
        name = f"{names.resource_prefix(self.profile.name)}-churn"
        approved = approved_variant(settings)

        self.security_group = ec2.SecurityGroup(
            self, "ModelSecurityGroup", vpc=vpc, description="Endpoint model containers: no ingress",
            allow_all_outbound=False,
        )  # fmt: skip
        # Model artifacts are fetched through the S3 gateway endpoint (the subnets are isolated).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "S3 and AWS APIs via VPC endpoints")

        self.package_parameters = self._package_parameters(model_package_group)
        self.model_role = model_role(
            self, group=model_package_group, data_key=data_key, serving_data=serving_data_policy
        )
        self.endpoint = AbEndpoint(
            self,
            "Churn",
            name=name,
            settings=settings,
            dataset=specs.load(self.profile.dataset),
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
        self.deploy_role = deploy_role(
            self,
            variant=approved,
            group=model_package_group,
            data_key=data_key,
            rollback_alarms=rollback_alarms,
            endpoint_arn=self.endpoint.endpoint.ref,
            model_role_arn=self.model_role.iam_role.role_arn,
            resource_prefix=names.resource_prefix(self.profile.name),
        )

        endpoint_arn = self.format_arn(service="sagemaker", resource="endpoint", resource_name="*")
        self.dead_letter_queue = DeadLetterQueue(
            self,
            "DeadLetters",
            purpose="the promotion and deployment triggers" if settings.challenger else "the deployment trigger",
        ).queue
        common = {
            "vpc": vpc,
            "subnets": workload_subnets,
            "logs_key": logs_key,
            **self.function_settings,
            "api_cidr": self.profile.vpc_cidr,
            "async_invocation": AsyncInvocation(alarm_topic=alarm_topic),
        }
        self.promotion = (
            promotion_function(
                self, settings=settings, endpoint_name=self.endpoint.endpoint_name, endpoint_arn=endpoint_arn,
                common=common,
            )
            if settings.challenger
            else None
        )  # fmt: skip
        self.weight_setter_arns = [self.promotion.role.iam_role.role_arn] if self.promotion else []
        self.deployer = deployer_function(
            self,
            variant=approved,
            package_parameter=self.package_parameters[approved].logical_id,
            deploy_role_arn=self.deploy_role.iam_role.role_arn,
            group=model_package_group,
            artifact_bucket=artifact_bucket,
            data_key=data_key,
            common=common,
        )

        def target(fn: PythonFunction) -> targets.LambdaFunction:
            return targets.LambdaFunction(
                fn.function, dead_letter_queue=self.dead_letter_queue, retry_attempts=2, max_event_age=Duration.hours(1)
            )

        if self.promotion:
            events.Rule(
                self, "PromotionSchedule", description="Compare the variants and move traffic",
                schedule=events.Schedule.expression(settings.promotion_schedule), targets=[target(self.promotion)],
            )  # fmt: skip
        events.Rule(
            self,
            "OnModelApproved",
            description=f"A newly approved churn model becomes the {approved}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[target(self.deployer)],
        )

        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        CfnOutput(self, "VariantNames", value=",".join(self.endpoint.variants))
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
        defaults = {CHAMPION: settings.champion_package_arn}
        if settings.challenger:
            defaults[CHALLENGER] = settings.challenger_package_arn
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
                f"Later deploys keep the previous value; the approval flow sets the {approved_variant(settings)}.",
            )
            for variant, default in defaults.items()
        }
