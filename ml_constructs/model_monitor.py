"""SageMaker Model Monitor on the endpoint: the option for accounts that still have it."""

from __future__ import annotations

from aws_cdk import Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config import MonitoringSettings
from ml_constructs.monitoring import (
    BASELINE_PREFIX,
    GROUND_TRUTH_PREFIX,
    PROCESSING,
    REPORTS_PREFIX,
    model_monitor_image,
    monitoring_job_role,
)

# The analyzer publishes its CloudWatch metrics only when asked (the SDK's enable_cloudwatch_metrics=True
# sets this): https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-cw.html
METRICS = {"publish_cloudwatch_metrics": "Enabled"}


class ModelMonitorSchedules(Construct):
    """SageMaker Model Monitor on the endpoint: data-quality and model-quality job definitions and schedules.

    Uses the pipeline's baselines (copied to ``monitoring/baselines/current/``), network
    isolation, inter-container encryption, KMS for volumes and outputs, and the VPC.
    Model Monitor works per endpoint, not per variant.

    Attributes: ``role``, ``data_quality_schedule_name``, ``model_quality_schedule_name``,
    ``features`` (the data-quality baseline's feature names, for the alarms).

    :param name: resource name prefix, ``mlops-<profile>``.
    :param settings: the profile's monitoring settings.
    :param endpoint_name: the monitored endpoint.
    :param bucket: artifact bucket (capture, ground truth, baselines, reports).
    :param key: the bucket's key, also used for volumes and outputs.
    :param data_policy: read ``monitoring/``, write ``monitoring/reports/`` (the data lake's).
    :param subnets: subnet ids the jobs run in.
    :param security_group: the jobs' security group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        settings: MonitoringSettings,
        endpoint_name: str,
        bucket: s3.IBucket,
        key: kms.IKey,
        data_policy: iam.IManagedPolicy,
        subnets: list[str],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        image = model_monitor_image(Stack.of(self).region)
        self.role = monitoring_job_role(self, "JobRole", key=key, data_policy=data_policy, extra=[])
        dq, mq = sagemaker.CfnDataQualityJobDefinition, sagemaker.CfnModelQualityJobDefinition
        local = f"{PROCESSING}/input/endpoint"

        def common(cls) -> dict:
            """Network, resources, stopping condition and output: the same for both kinds of job."""
            return {
                "network_config": cls.NetworkConfigProperty(
                    enable_network_isolation=True,
                    enable_inter_container_traffic_encryption=True,
                    vpc_config=cls.VpcConfigProperty(security_group_ids=[security_group.security_group_id], subnets=subnets),
                ),
                "job_resources": cls.MonitoringResourcesProperty(
                    cluster_config=cls.ClusterConfigProperty(
                        instance_count=1, instance_type=settings.instance_type, volume_size_in_gb=30,
                        volume_kms_key_id=key.key_arn,
                    )
                ),
                "stopping_condition": cls.StoppingConditionProperty(
                    max_runtime_in_seconds=min(settings.max_runtime_minutes * 60, 3600)
                ),
            }  # fmt: skip

        def output(cls, kind: str):
            return cls.MonitoringOutputConfigProperty(
                kms_key_id=key.key_arn,
                monitoring_outputs=[
                    cls.MonitoringOutputProperty(
                        s3_output=cls.S3OutputProperty(
                            local_path=f"{PROCESSING}/output", s3_upload_mode="EndOfJob",
                            s3_uri=bucket.s3_url_for_object(f"{REPORTS_PREFIX}model-monitor/{kind}"),
                        )
                    )
                ],
            )  # fmt: skip

        def baseline(name: str) -> str:
            return bucket.s3_url_for_object(f"{BASELINE_PREFIX}{name}")

        data_quality = dq(
            self,
            "DataQuality",
            role_arn=self.role.iam_role.role_arn,
            data_quality_app_specification=dq.DataQualityAppSpecificationProperty(image_uri=image, environment=METRICS),
            data_quality_baseline_config=dq.DataQualityBaselineConfigProperty(
                constraints_resource=dq.ConstraintsResourceProperty(
                    s3_uri=baseline("model-monitor/data-quality/constraints.json")
                ),
                statistics_resource=dq.StatisticsResourceProperty(s3_uri=baseline("model-monitor/data-quality/statistics.json")),
            ),
            data_quality_job_input=dq.DataQualityJobInputProperty(
                endpoint_input=dq.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path=local, s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                )
            ),
            data_quality_job_output_config=output(dq, "data-quality"),
            **common(dq),
        )  # fmt: skip
        model_quality = mq(
            self,
            "ModelQuality",
            role_arn=self.role.iam_role.role_arn,
            model_quality_app_specification=mq.ModelQualityAppSpecificationProperty(
                image_uri=image, problem_type="BinaryClassification", environment=METRICS
            ),
            model_quality_baseline_config=mq.ModelQualityBaselineConfigProperty(
                constraints_resource=mq.ConstraintsResourceProperty(s3_uri=baseline("model-quality/constraints.json"))
            ),
            model_quality_job_input=mq.ModelQualityJobInputProperty(
                endpoint_input=mq.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path=local, s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                    # The endpoint answers a probability per row (CSV); 0.5 makes it a label.
                    probability_attribute="0", probability_threshold_attribute=0.5,
                    start_time_offset=f"-PT{settings.label_delay_hours + settings.window_hours}H",
                    end_time_offset=f"-PT{settings.label_delay_hours}H",
                ),
                ground_truth_s3_input=mq.MonitoringGroundTruthS3InputProperty(
                    s3_uri=bucket.s3_url_for_object(f"{GROUND_TRUTH_PREFIX}{endpoint_name}/")
                ),
            ),
            model_quality_job_output_config=output(mq, "model-quality"),
            **common(mq),
        )  # fmt: skip
        self.data_quality_schedule_name = f"{name}-data-quality"
        self.model_quality_schedule_name = f"{name}-model-quality"
        ms = sagemaker.CfnMonitoringSchedule
        # Model Monitor takes hourly or daily cron expressions only; data quality runs hourly, model quality daily.
        for construct_id, schedule_name, definition, kind, cron in (
            ("DataQualitySchedule", self.data_quality_schedule_name, data_quality, "DataQuality", "cron(0 * ? * * *)"),
            ("ModelQualitySchedule", self.model_quality_schedule_name, model_quality, "ModelQuality", "cron(0 0 ? * * *)"),
        ):  # fmt: skip
            schedule = ms(
                self,
                construct_id,
                monitoring_schedule_name=schedule_name,
                endpoint_name=endpoint_name,
                monitoring_schedule_config=ms.MonitoringScheduleConfigProperty(
                    # CloudFormation names the (immutable) definition; its name is the ARN's last part.
                    monitoring_job_definition_name=Fn.select(1, Fn.split("/", definition.attr_job_definition_arn)),
                    monitoring_type=kind,
                    schedule_config=ms.ScheduleConfigProperty(schedule_expression=cron),
                ),
            )
            schedule.add_dependency(definition)
        self.job_definitions = (data_quality, model_quality)
