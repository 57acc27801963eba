"""A real-time SageMaker endpoint with champion and challenger variants (or the champion alone).

Models run in the VPC's workload subnets (every zone) with network isolation;
each variant serves the approved model package its stack parameter names, or
the bootstrap model while that parameter is empty. Models and endpoint configs
have generated names, so a replacement never collides; a KMS volume key and data
capture to the artifact bucket. Updates are blue/green (a canary of instances
where the variant has enough of them, else all at once) with a bake period, and
roll back on their own when the 5XX or latency alarms fire; autoscaled instance
counts and traffic weights survive a deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnCondition, Duration, Fn, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import ServingSettings
from config.names import DATA_CAPTURE_PREFIX
from ml_constructs.alarms import build_alarms
from ml_constructs.endpoint_watch import (
    CHALLENGER,
    CHAMPION,
    SHADOW,
    deployment_config,
    endpoint_dashboard,
    rollback_alarm_names,
    variant_alarm_specs,
    variant_metric,
    variants,
)
from ml_constructs.training_pipeline import xgboost_image
from pipelines.data import spec as specs
from pipelines.serving.bootstrap import artifact as bootstrap_artifact
from posture.checks import acknowledge


class AbEndpoint(Construct):
    """Champion/challenger endpoint with guardrails, autoscaling, alarms and a dashboard.

    Without a challenger (``settings.challenger`` False) the champion is the one production
    variant and takes all the traffic; alarms, autoscaling and the dashboard cover the variants
    that exist.

    Attributes: ``variants`` (the production variants' names), ``endpoint`` (``CfnEndpoint``), ``endpoint_name`` (token),
    ``models`` (variant -> ``CfnModel``), ``bootstrap_conditions`` (variant ->
    ``CfnCondition``, true while the variant serves the bootstrap model),
    ``rollback_alarm_names``, ``alarms``, ``dashboard``.

    :param name: prefix of the alarm and dashboard names (``mlops-dev-churn``).
    :param settings: capacity, guardrails, alarms (from the profile).
    :param dataset: the data-set spec the bootstrap model was trained on (its features).
    :param packages: variant -> the model package ARN it serves, a token of a stack
        parameter ("" = the bootstrap model): one per production variant of ``settings``,
        and a shadow variant exists when given one.
    :param role_arn: the models' execution role.
    :param vpc, subnets, security_group: where the models run.
    :param volume_key: KMS key for instance volumes and captured data.
    :param capture_bucket: where data capture writes (under ``monitoring/data-capture/``).
    :param alarm_topic: where alarms notify.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        settings: ServingSettings,
        dataset: specs.DataSet,
        packages: Mapping[str, str],
        role_arn: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        volume_key: kms.IKey,
        capture_bucket: s3.IBucket,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.settings = settings
        self.variants = variants(settings)
        if set(packages) - {SHADOW} != set(self.variants):
            raise ValueError(f"packages name {sorted(packages)}; the endpoint's variants are {list(self.variants)}")
        bootstrap_model = bootstrap_artifact(dataset.name, specs.features(dataset))
        self.bootstrap = assets.Asset(self, "BootstrapModel", path=str(bootstrap_model))
        subnet_ids = vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids
        vpc_config = sagemaker.CfnModel.VpcConfigProperty(
            subnets=subnet_ids, security_group_ids=[security_group.security_group_id]
        )
        bootstrap = {"Image": xgboost_image(stack.region), "ModelDataUrl": self.bootstrap.s3_object_url}
        self.models: dict[str, sagemaker.CfnModel] = {}
        self.bootstrap_conditions: dict[str, CfnCondition] = {}
        for variant, package in packages.items():
            # The project's only Conditions: the package ARN is a stack parameter that the approval
            # flow changes with UpdateStack(UsePreviousTemplate), so the choice between the bootstrap
            # container and the package must be made by CloudFormation, not at synth.
            condition = CfnCondition(
                self, f"{variant.capitalize()}ServesBootstrap", expression=Fn.condition_equals(package, "")
            )
            self.bootstrap_conditions[variant] = condition
            self.models[variant] = sagemaker.CfnModel(
                self,
                f"{variant.capitalize()}Model",
                execution_role_arn=role_arn,
                primary_container=Fn.condition_if(condition.logical_id, bootstrap, {"ModelPackageName": package}),
                vpc_config=vpc_config,
                enable_network_isolation=True,
            )
            for rule in ("CloudFormation-Validate::F3031", "CloudFormation-Validate::F3033"):
                acknowledge(
                    self.models[variant],
                    rule,
                    "The linter puts the parameter's default (empty) into the ModelPackageName branch, but "
                    "CloudFormation takes that branch only when the parameter is not empty, and the "
                    "parameter's AllowedPattern then admits only package ARNs of the platform's group.",
                )

        weights = (
            {CHAMPION: 1.0 - settings.challenger_weight, CHALLENGER: settings.challenger_weight}
            if settings.challenger
            else {CHAMPION: 1.0}
        )

        def variant_property(variant: str, weight: float | None = None):
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant,
                model_name=self.models[variant].attr_model_name,
                initial_instance_count=settings.instance_count,
                instance_type=settings.instance_type,
                initial_variant_weight=weight if weight is not None else 1.0,
            )

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[variant_property(v, weights[v]) for v in self.variants],
            shadow_production_variants=[variant_property(SHADOW)] if SHADOW in self.models else None,
            kms_key_id=volume_key.key_arn,
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=settings.data_capture_percent > 0,
                initial_sampling_percentage=max(settings.data_capture_percent, 1),
                destination_s3_uri=capture_bucket.s3_url_for_object(DATA_CAPTURE_PREFIX),
                kms_key_id=volume_key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=["text/csv"], json_content_types=["application/json"]
                ),
            ),
        )

        self.rollback_alarm_names = rollback_alarm_names(name, settings)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # Autoscaled instance counts survive an update; weights and data capture come from the
            # template every time: a new challenger starts at the profile's share, never at the share
            # the promotion gave the model it replaces, and a changed capture setting applies.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=kind)
                for kind in ("DesiredWeight", "DataCaptureConfig")
            ],
        )
        # Set raw: CloudFormation's own names, so the nested properties serialize as it expects.
        self.endpoint.add_property_override("DeploymentConfig", deployment_config(settings, self.rollback_alarm_names))
        self.endpoint_name = self.endpoint.attr_endpoint_name

        self._autoscaling()
        self.alarms = build_alarms(
            self,
            variant_alarm_specs(name=name, endpoint_name=self.endpoint_name, settings=settings, topic=alarm_topic),
        )
        self.dashboard = endpoint_dashboard(
            self,
            name=name,
            endpoint_name=self.endpoint_name,
            settings=settings,
            rollback_alarms=self.rollback_alarm_names,
        )

    def metric(
        self, metric_name: str, variant: str, statistic: str = "Sum", namespace: str = "AWS/SageMaker", minutes: int = 1
    ) -> cw.Metric:
        """A per-variant metric of this endpoint."""
        return variant_metric(self.endpoint_name, metric_name, variant, statistic, namespace, minutes)

    def _autoscaling(self) -> None:
        settings = self.settings
        if not settings.autoscaling:
            return
        for variant in self.variants:
            target = appscaling.ScalableTarget(
                self,
                f"{variant.capitalize()}Scaling",
                service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
                resource_id=f"endpoint/{self.endpoint_name}/variant/{variant}",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=settings.instance_count,
                max_capacity=settings.max_instance_count,
            )
            target.node.add_dependency(self.endpoint)
            target.scale_to_track_metric(
                "InvocationsPerInstance",
                target_value=settings.target_invocations_per_instance,
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                scale_out_cooldown=Duration.minutes(2),
                scale_in_cooldown=Duration.minutes(10),
            )
