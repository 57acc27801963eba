"""A real-time SageMaker endpoint with champion and challenger variants.

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
from pathlib import Path

from aws_cdk import CfnCondition, Duration, Fn, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import ServingSettings
from config.profiles import INSTANCE_VCPUS
from ml_constructs.training_pipeline import xgboost_image
from posture.checks import acknowledge

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP_MODEL = ROOT / "pipelines" / "serving" / "bootstrap" / "model.tar.gz"
VARIANTS = ("champion", "challenger")
SHADOW = "shadow"
DATA_CAPTURE_PREFIX = "monitoring/data-capture/"


class AbEndpoint(Construct):
    """Champion/challenger endpoint with guardrails, autoscaling, alarms and a dashboard.

    Attributes: ``endpoint`` (``CfnEndpoint``), ``endpoint_name`` (token),
    ``models`` (variant -> ``CfnModel``), ``bootstrap_conditions`` (variant ->
    ``CfnCondition``, true while the variant serves the bootstrap model),
    ``rollback_alarm_names``, ``alarms``, ``dashboard``.

    :param name: prefix of the alarm and dashboard names (``mlops-dev-churn``).
    :param settings: capacity, guardrails, alarms (from the profile).
    :param packages: variant -> the model package ARN it serves, a token of a stack
        parameter ("" = the bootstrap model); a shadow variant exists when given one.
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
        self.bootstrap = assets.Asset(self, "BootstrapModel", path=str(BOOTSTRAP_MODEL))
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

        weights = {"champion": 1.0 - settings.challenger_weight, "challenger": settings.challenger_weight}

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
            production_variants=[variant_property(v, weights[v]) for v in VARIANTS],
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

        self.rollback_alarm_names = [f"{name}-{v}-{kind}" for v in VARIANTS for kind in ("5xx-rate", "p99-latency")]
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
        self.alarms = self._alarms(name, alarm_topic)
        self.dashboard = self._dashboard(name)

    def metric(
        self, metric_name: str, variant: str, statistic: str = "Sum", namespace: str = "AWS/SageMaker", minutes: int = 1
    ) -> cw.Metric:
        """A per-variant metric of this endpoint."""
        return cw.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": variant},
            statistic=statistic,
            period=Duration.minutes(minutes),
        )

    def _autoscaling(self) -> None:
        settings = self.settings
        if not settings.autoscaling:
            return
        for variant in VARIANTS:
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

    def _alarms(self, name: str, topic: sns.ITopic) -> list[cw.Alarm]:
        settings = self.settings
        alarms = []
        instance = "/aws/sagemaker/Endpoints"
        vcpus = INSTANCE_VCPUS[settings.instance_type]

        def rate(errors: str, variant: str) -> cw.MathExpression:
            return cw.MathExpression(
                expression="IF(invocations > 0, errors / invocations, 0)",
                using_metrics={
                    "errors": self.metric(errors, variant),
                    "invocations": self.metric("Invocations", variant),
                },
                period=Duration.minutes(1),
            )

        for variant in VARIANTS:
            specs: list[tuple[str, str, cw.IMetric, float, int, cw.ComparisonOperator, cw.TreatMissingData]] = [
                ("5xx-rate", "Server errors above 1% of requests", rate("Invocation5XXErrors", variant), 0.01, 2,
                 cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.TreatMissingData.NOT_BREACHING),
                ("4xx-rate", "Client errors above 5% of requests", rate("Invocation4XXErrors", variant), 0.05, 5,
                 cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.TreatMissingData.NOT_BREACHING),
                ("p99-latency", "p99 model latency above the profile's limit", self.metric("ModelLatency", variant, "p99"),
                 settings.p99_latency_alarm_ms * 1000, 3, cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                 cw.TreatMissingData.NOT_BREACHING),
                ("overhead-latency", "p99 overhead latency above 100 ms", self.metric("OverheadLatency", variant, "p99"),
                 100_000, 3, cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.TreatMissingData.NOT_BREACHING),
                # CPUUtilization is summed over the instance's cores (0-100% each); memory is not.
                ("cpu", f"CPU above {settings.cpu_alarm_percent}% of its {vcpus} vCPUs (scaling is not keeping up)",
                 self.metric("CPUUtilization", variant, "Average", instance), settings.cpu_alarm_percent * vcpus, 5,
                 cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.TreatMissingData.NOT_BREACHING),
                ("memory", "Memory above 80%", self.metric("MemoryUtilization", variant, "Average", instance),
                 80, 5, cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.TreatMissingData.NOT_BREACHING),
            ]  # fmt: skip
            if settings.idle_alarm:
                # SageMaker publishes no Invocations datapoint without requests: missing data is the signal.
                specs.append(
                    ("no-invocations", "No requests for an hour (clients cannot reach the endpoint?)",
                     self.metric("Invocations", variant, minutes=60),
                     1, 1, cw.ComparisonOperator.LESS_THAN_THRESHOLD, cw.TreatMissingData.BREACHING)
                )  # fmt: skip
            for kind, description, metric, threshold, periods, comparison, missing in specs:
                alarm_name = f"{name}-{variant}-{kind}"
                alarm = cw.Alarm(
                    self,
                    f"{variant.capitalize()}{kind.title().replace('-', '')}Alarm",
                    alarm_name=alarm_name,
                    alarm_description=f"{variant}: {description}",
                    metric=metric,
                    threshold=threshold,
                    evaluation_periods=periods,
                    comparison_operator=comparison,
                    treat_missing_data=missing,
                )
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
                alarms.append(alarm)
        return alarms

    def _dashboard(self, name: str) -> cw.Dashboard:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{name}-endpoint")
        instance = "/aws/sagemaker/Endpoints"
        dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# {name} endpoint\nChampion and challenger side by side; rollback alarms: "
                + ", ".join(self.rollback_alarm_names),
                width=24,
                height=2,
            )
        )
        for title, metric_name, statistic, namespace in (
            ("Invocations", "Invocations", "Sum", "AWS/SageMaker"),
            ("5XX errors", "Invocation5XXErrors", "Sum", "AWS/SageMaker"),
            ("4XX errors", "Invocation4XXErrors", "Sum", "AWS/SageMaker"),
            ("Model latency p99 (µs)", "ModelLatency", "p99", "AWS/SageMaker"),
            ("Overhead latency p99 (µs)", "OverheadLatency", "p99", "AWS/SageMaker"),
            ("CPU %", "CPUUtilization", "Average", instance),
            ("Memory %", "MemoryUtilization", "Average", instance),
        ):
            dashboard.add_widgets(
                cw.GraphWidget(
                    title=title,
                    width=12,
                    left=[self.metric(metric_name, v, statistic, namespace).with_(label=v) for v in VARIANTS],
                )
            )
        return dashboard


def deployment_config(settings: ServingSettings, rollback_alarms: list[str]) -> dict:
    """The endpoint's blue/green update policy: the routing the variants' instance counts allow."""
    bake = settings.bake_minutes * 60
    if settings.canary_instances:
        # A canary sized in instances: at most half of each variant (the profile checks it).
        routing = {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": settings.canary_instances},
            "WaitIntervalInSeconds": bake,
        }
    else:
        # One instance cannot host a canary: shift everything at once, then bake under the alarms.
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": bake,
            "MaximumExecutionTimeoutInSeconds": 3600 + 2 * bake,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in rollback_alarms]},
    }
