"""The portable drift job (``pipelines/monitoring``) as a scheduled SageMaker Processing job."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import MonitoringSettings
from ml_constructs.drift_request import drift_job_request
from ml_constructs.events import MAX_EVENT_AGE, RETRIES, DeadLetterQueue
from ml_constructs.iam import ManagedRole, account_service
from ml_constructs.lambdas import AsyncInvocation, PythonFunction
from ml_constructs.monitoring import (
    MONITORING_PREFIX,
    REPORTS_PREFIX,
    monitoring_job_role,
)
from ml_constructs.training_pipeline import CODE_BUNDLE


class PortableDriftJob(Construct):
    """The project's drift job (``pipelines/monitoring``) as a SageMaker Processing job on a schedule.

    EventBridge Scheduler (retries, a dead-letter queue) hands the job's CreateProcessingJob
    request, with the window's end (the scheduled time) as an argument, to a small starter
    function (``lambdas/monitoring_starter``): SageMaker starts no job on an S3 prefix holding
    no object, and before the first approval, the first labels or the first traffic the
    baselines, ground truth or capture are missing, so the starter leaves empty inputs out
    and the job reports what it could not judge. The job runs on the built-in XGBoost image
    (Python 3.10 with numpy, scipy and pandas), network-isolated in the VPC, and writes
    ``report.json`` and ``report.html`` under ``monitoring/reports/<endpoint>/<run>/``.

    Attributes: ``role`` (the job's), ``starter`` (a ``PythonFunction``), ``scheduler_role``,
    ``schedule``, ``dead_letters``, ``job_name_prefix``, ``reports_prefix``.

    :param name: resource name prefix, ``mlops-<profile>``.
    :param settings: the profile's monitoring settings.
    :param endpoint_name: the monitored endpoint.
    :param bucket: artifact bucket (capture, ground truth, baselines, reports).
    :param key: the bucket's key, also used for volumes and outputs.
    :param data_policy: read ``monitoring/``, write ``monitoring/reports/`` (the data lake's).
    :param subnets: subnet ids the job runs in.
    :param security_group: the job's security group.
    :param function: ``PythonFunction`` keyword arguments for the starter (``vpc``, ``subnets``,
        ``logs_key``, ``api_cidr`` and the profile's function settings).
    :param alarm_topic: notified when the starter's invocations fail.
    :param dataset: the data set the job reads its features from (its ``DATASET``).
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
        function: dict,
        alarm_topic: sns.ITopic,
        dataset: str,
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
        self.starter = PythonFunction(
            self,
            "Starter",
            package="monitoring_starter",
            description="Starts the drift job with the inputs that hold data (lists monitoring/, passes the job role)",
            **function,
            gateway_egress=True,
            async_invocation=AsyncInvocation(alarm_topic=alarm_topic),
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
                    sid="ListInputs",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{MONITORING_PREFIX}*"]}},
                ),
            ],
        )
        self.starter.role.acknowledge_wildcards(
            [job_arn],
            "Each run's processing job gets a new name (the schedule's execution id after a fixed prefix); "
            "the function may start only jobs with that prefix.",
        )
        self.scheduler_role = ManagedRole(
            self,
            "SchedulerRole",
            assumed_by=account_service(self, "scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the drift job's starter, dead-letter failures",
            statements=[
                iam.PolicyStatement(
                    sid="Invoke", actions=["lambda:InvokeFunction"], resources=[self.starter.function.function_arn]
                ),
                iam.PolicyStatement(
                    sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.dead_letters.queue.queue_arn]
                ),
            ],
        )

        request = drift_job_request(
            job_name_prefix=self.job_name_prefix, role_arn=self.role.iam_role.role_arn, region=stack.region, code=code,
            settings=settings, endpoint_name=endpoint_name, bucket=bucket, key=key, reports_prefix=self.reports_prefix,
            security_group_id=security_group.security_group_id, subnets=subnets, dataset=dataset,
        )  # fmt: skip
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=f"Drift and model-quality job for {name}",
            schedule_expression=settings.schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.starter.function.function_arn,
                role_arn=self.scheduler_role.iam_role.role_arn,
                input=stack.to_json_string({"request": request}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=RETRIES, maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds())
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.dead_letters.queue.queue_arn
                ),
            ),
        )
