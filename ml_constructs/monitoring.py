"""Monitoring engines for the endpoint: the portable drift job, or SageMaker Model Monitor.

Both run network-isolated in the VPC's workload subnets, with KMS on volumes and
outputs and encrypted traffic between containers; both read the endpoint's data
capture and the ground truth under the artifact bucket's ``monitoring/`` prefix.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from config import MonitoringSettings
from ml_constructs.ab_endpoint import DATA_CAPTURE_PREFIX
from ml_constructs.access import acknowledge_wildcards
from ml_constructs.events import MAX_EVENT_AGE, RETRIES, DeadLetterQueue
from ml_constructs.iam import VPC_ATTACH_ACTIONS, ManagedRole, account_service, volume_key_grants
from ml_constructs.training_pipeline import CODE_BUNDLE, xgboost_image

MONITORING_PREFIX = "monitoring/"
GROUND_TRUTH_PREFIX = "monitoring/ground-truth/"
BASELINE_PREFIX = "monitoring/baselines/current/"
REPORTS_PREFIX = "monitoring/reports/"
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


class PortableDriftJob(Construct):
    """The project's drift job (``pipelines/monitoring``) as a SageMaker Processing job on a schedule.

    EventBridge Scheduler starts it (universal target ``createProcessingJob``, retries, a
    dead-letter queue) with the window's end (the scheduled time) as an argument. The job runs
    on the built-in XGBoost image (Python 3.10 with numpy, scipy and pandas), network-isolated
    in the VPC, and writes ``report.json`` and ``report.html`` under
    ``monitoring/reports/<endpoint>/<run>/``.

    Attributes: ``role`` (the job's), ``scheduler_role``, ``schedule``, ``dead_letters``,
    ``job_name_prefix``, ``reports_prefix``.

    :param name: resource name prefix, ``mlops-<profile>``.
    :param settings: the profile's monitoring settings.
    :param endpoint_name: the monitored endpoint.
    :param bucket: artifact bucket (capture, ground truth, baselines, reports).
    :param key: the bucket's key, also used for volumes and outputs.
    :param data_policy: read ``monitoring/``, write ``monitoring/reports/`` (the data lake's).
    :param subnets: subnet ids the job runs in.
    :param security_group: the job's security group.
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
        stack = Stack.of(self)
        if not (CODE_BUNDLE / ".built").exists():
            raise FileNotFoundError(f"{CODE_BUNDLE} is missing: run `make install` to build the pipeline code bundle")
        code = assets.Asset(self, "Code", path=str(CODE_BUNDLE), exclude=[".built"])
        self.job_name_prefix = f"{name}-drift"
        self.reports_prefix = f"{REPORTS_PREFIX}{endpoint_name}/"
        self.role = monitoring_job_role(
            self,
            "JobRole",
            key=key,
            data_policy=data_policy,
            extra=[
                iam.PolicyStatement(
                    sid="Code", actions=["s3:GetObject"], resources=[code.bucket.arn_for_objects(code.s3_object_key)]
                )
            ],
        )
        self.dead_letters = DeadLetterQueue(self, "DeadLetters", purpose="the drift job's schedule")
        job_arn = stack.format_arn(
            service="sagemaker", resource="processing-job", resource_name=f"{self.job_name_prefix}-*"
        )
        self.scheduler_role = ManagedRole(
            self,
            "SchedulerRole",
            assumed_by=account_service(self, "scheduler.amazonaws.com"),
            description="EventBridge Scheduler: start the drift job, pass its role, dead-letter failures",
            statements=[
                iam.PolicyStatement(
                    sid="Start", actions=["sagemaker:CreateProcessingJob", "sagemaker:AddTags"], resources=[job_arn]
                ),
                iam.PolicyStatement(
                    sid="PassJobRole",
                    actions=["iam:PassRole"],
                    resources=[self.role.iam_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.dead_letters.queue.queue_arn]
                ),
            ],
        )
        acknowledge_wildcards(
            self.scheduler_role.policy,
            [job_arn],
            "Each run's processing job gets a new name (the schedule's execution id after a fixed prefix); "
            "the role may start only jobs with that prefix.",
        )

        def s3_input(input_name: str, prefix: str, local: str, mode: str = "File") -> dict:
            return {
                "InputName": input_name,
                "S3Input": {
                    "S3Uri": bucket.s3_url_for_object(prefix),
                    "LocalPath": local,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": mode,
                    "S3DataDistributionType": "FullyReplicated",
                },
            }

        arguments = [
            "--endpoint",
            endpoint_name,
            "--end",
            scheduler.ContextAttribute.scheduled_time,
            "--window-hours",
            str(settings.window_hours),
            "--js",
            str(settings.js_threshold),
            "--psi",
            str(settings.psi_threshold),
            "--violation-rate",
            str(settings.violation_rate),
            "--auc-floor",
            str(settings.auc_floor),
            "--label-delay-hours",
            str(settings.label_delay_hours),
            "--min-samples",
            str(settings.min_samples),
        ]
        request = {
            "ProcessingJobName": f"{self.job_name_prefix}-{scheduler.ContextAttribute.execution_id}",
            "RoleArn": self.role.iam_role.role_arn,
            "AppSpecification": {
                "ImageUri": xgboost_image(stack.region),
                "ContainerEntrypoint": ["python3", "-m", "pipelines.monitoring.drift"],
                "ContainerArguments": arguments,
            },
            # The code ships as one zip; Python imports straight from it.
            "Environment": {"PYTHONPATH": f"{PROCESSING}/input/code/{code.s3_object_key}"},
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": code.s3_object_url,
                        "LocalPath": f"{PROCESSING}/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                },
                # FastFile streams on read: the job opens only its window's hour folders.
                s3_input(
                    "capture",
                    f"{DATA_CAPTURE_PREFIX}{endpoint_name}/",
                    f"{PROCESSING}/input/capture/{endpoint_name}",
                    "FastFile",
                ),
                s3_input(
                    "ground-truth",
                    f"{GROUND_TRUTH_PREFIX}{endpoint_name}/",
                    f"{PROCESSING}/input/ground-truth",
                    "FastFile",
                ),
                s3_input("baseline", BASELINE_PREFIX, f"{PROCESSING}/input/baseline"),
            ],
            "ProcessingOutputConfig": {
                "KmsKeyId": key.key_arn,
                "Outputs": [
                    {
                        "OutputName": "report",
                        "S3Output": {
                            "S3Uri": bucket.s3_url_for_object(
                                f"{self.reports_prefix}{scheduler.ContextAttribute.execution_id}"
                            ),
                            "LocalPath": f"{PROCESSING}/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ],
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": settings.instance_type,
                    "VolumeSizeInGB": 30,
                    "VolumeKmsKeyId": key.key_arn,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_minutes * 60},
            "NetworkConfig": {
                "EnableNetworkIsolation": True,
                "EnableInterContainerTrafficEncryption": True,
                "VpcConfig": {"SecurityGroupIds": [security_group.security_group_id], "Subnets": subnets},
            },
        }
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Drift and model-quality job for {name}",
            schedule_expression=settings.schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn="arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob",
                role_arn=self.scheduler_role.iam_role.role_arn,
                input=stack.to_json_string(request),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=RETRIES, maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds())
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.dead_letters.queue.queue_arn
                ),
            ),
        )


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
            data_quality_app_specification=dq.DataQualityAppSpecificationProperty(image_uri=image),
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
                image_uri=image, problem_type="BinaryClassification"
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
