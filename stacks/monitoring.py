"""Monitoring stack: drift and model quality of the endpoint, alarms into retraining, the ML ops dashboard."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.monitoring_publisher.logic import BUSINESS_METRIC, NAMESPACE
from ml_constructs.drift_job import PortableDriftJob
from ml_constructs.endpoint_watch import variants
from ml_constructs.events import MAX_EVENT_AGE, DeadLetterQueue, object_created
from ml_constructs.lambdas import PythonFunction
from ml_constructs.model_monitor import ModelMonitorSchedules
from ml_constructs.monitoring import BASELINE_PREFIX, REPORTS_PREFIX
from ml_constructs.monitoring_alarms import MonitoringAlarms
from ml_constructs.ops_dashboard import ops_dashboard
from pipelines.training.features import FEATURES
from stacks.base import PlatformStack


class MonitoringStack(PlatformStack):
    """Drift and model-quality monitoring of the A/B endpoint, per the profile's ``monitoring`` engine.

    Attributes: ``engine`` (``PortableDriftJob`` or ``ModelMonitorSchedules``), ``publisher``
    (turns reports and job failures into CloudWatch metrics), ``alarms`` (name -> alarm),
    ``retrain_alarm_names`` (those the training stack's retraining rule picks up),
    ``business_metric`` ("Namespace|MetricName" of the per-variant AUC for the A/B promotion; None
    when the profile has no challenger, so no promotion),
    ``dashboard``.

    :param vpc: the platform VPC; ``workload_subnets`` selects where jobs and the function run.
    :param artifact_bucket: holds data capture, ground truth, baselines and reports.
    :param data_key: the artifact bucket's key (jobs' volumes and outputs too).
    :param monitoring_job_policy: the data lake's policy for monitoring jobs (``monitoring/`` in, reports out).
    :param monitoring_reports_policy: the data lake's policy to read reports (the publisher).
    :param logs_key: key for the function's log group.
    :param alarm_topic: every alarm notifies it.
    :param endpoint_name: the monitored endpoint.
    :param retrain_alarm_prefix: alarms named with it start retraining (``mlops-<profile>-retrain-``).
    :param pipeline_name: the training pipeline (dashboard).
    :param ingest_stream: the ingest Kinesis stream (dashboard).
    :param etl_job_name: the Glue ETL job (dashboard).
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
        monitoring_job_policy: iam.IManagedPolicy,
        monitoring_reports_policy: iam.IManagedPolicy,
        logs_key: kms.IKey,
        alarm_topic: sns.ITopic,
        endpoint_name: str,
        retrain_alarm_prefix: str,
        pipeline_name: str,
        ingest_stream: kinesis.IStream,
        etl_job_name: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = self.profile.monitoring
        name = f"mlops-{self.profile.name}"
        self.endpoint_name = endpoint_name
        self.security_group = ec2.SecurityGroup(
            self, "JobSecurityGroup", vpc=vpc, description="Monitoring jobs: no ingress", allow_all_outbound=False
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")
        subnets = vpc.select_subnets(subnet_group_name=workload_subnets.subnet_group_name).subnet_ids
        engine_args = {
            "name": name,
            "settings": settings,
            "endpoint_name": endpoint_name,
            "bucket": artifact_bucket,
            "key": data_key,
            "data_policy": monitoring_job_policy,
            "subnets": subnets,
            "security_group": self.security_group,
        }
        if settings.engine == "portable":
            starter = {"vpc": vpc, "subnets": workload_subnets, "logs_key": logs_key,
                       "api_cidr": self.profile.vpc_cidr, **self.function_settings}  # fmt: skip
            self.engine: PortableDriftJob | ModelMonitorSchedules = PortableDriftJob(
                self, "DriftJob", **engine_args, function=starter, alarm_topic=alarm_topic, dataset=self.profile.dataset
            )
        else:
            self.engine = ModelMonitorSchedules(self, "ModelMonitor", **engine_args)
        promotion = self.profile.serving.challenger
        self.business_metric = f"{NAMESPACE}|{BUSINESS_METRIC}" if promotion else None

        environment, baselines = {"ENDPOINT_NAME": endpoint_name}, []
        if isinstance(self.engine, ModelMonitorSchedules):
            # A failed execution before any baseline was published is a first run, not a failure.
            environment["BASELINES_URI"] = artifact_bucket.s3_url_for_object(BASELINE_PREFIX)
            baselines.append(
                iam.PolicyStatement(
                    sid="ListBaselines",
                    actions=["s3:ListBucket"],
                    resources=[artifact_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{BASELINE_PREFIX}*"]}},
                )
            )
        self.dead_letters = DeadLetterQueue(self, "EventDeadLetters", purpose="the monitoring publisher's rules")
        self.publisher = PythonFunction(
            self,
            "Publisher",
            package="monitoring_publisher",
            description="Publishes drift reports and monitoring job failures as CloudWatch metrics",
            vpc=vpc,
            subnets=workload_subnets,
            logs_key=logs_key,
            environment=environment,
            **self.function_settings,
            api_cidr=self.profile.vpc_cidr,
            # It reads the drift reports from S3 through the gateway endpoint.
            gateway_egress=True,
            statements=[
                iam.PolicyStatement(
                    sid="Metrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
                ),
                *baselines,
            ],
        )
        self.publisher.role.iam_role.add_managed_policy(monitoring_reports_policy)
        self.publisher.role.acknowledge_wildcards(
            ["*"],
            "cloudwatch:PutMetricData supports no resource-level permissions; its cloudwatch:namespace "
            f"condition limits the function to the {NAMESPACE} namespace.",
        )
        target = targets.LambdaFunction(
            self.publisher.function,
            dead_letter_queue=self.dead_letters.queue,
            retry_attempts=8,
            max_event_age=MAX_EVENT_AGE,
        )
        events.Rule(
            self,
            "JobFailed",
            description="A monitoring job failed or was stopped",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={"ProcessingJobStatus": ["Failed", "Stopped"], "RoleArn": [self.engine.role.iam_role.role_arn]},
            ),
            targets=[target],
        )
        if isinstance(self.engine, PortableDriftJob):
            events.Rule(
                self,
                "ReportArrived",
                description="A drift report landed in the artifact bucket",
                event_pattern=object_created(artifact_bucket, {"wildcard": f"{REPORTS_PREFIX}*/report.json"}),
                targets=[target],
            )

        alarms = MonitoringAlarms(self, name=name, topic=alarm_topic, settings=settings, endpoint_name=endpoint_name,
                                  retrain_prefix=retrain_alarm_prefix)  # fmt: skip
        if isinstance(self.engine, PortableDriftJob):
            alarms.portable(self.engine.dead_letters.queue)
        else:
            alarms.model_monitor(data_quality_schedule=self.engine.data_quality_schedule_name,
                                 model_quality_schedule=self.engine.model_quality_schedule_name,
                                 features=list(FEATURES))  # fmt: skip
        alarms.common(self.dead_letters.queue)
        self.alarms = alarms.alarms
        self.retrain_alarm_prefix = retrain_alarm_prefix
        self.retrain_alarm_names = sorted(n for n in self.alarms if n.startswith(retrain_alarm_prefix))
        self.dashboard = ops_dashboard(
            self, name=name, endpoint_name=endpoint_name, variants=variants(self.profile.serving), promotion=promotion,
            pipeline_name=pipeline_name, stream=ingest_stream, etl_job_name=etl_job_name,
            alarms=list(self.alarms.values()),
            title=f"# ML operations ({self.profile.name})\nEndpoint, {'promotion, ' if promotion else ''}pipeline, "
            f"ingest, ETL and monitoring ({settings.engine} engine).",
        )  # fmt: skip
        CfnOutput(self, "MonitoringEngine", value=settings.engine)
        if self.business_metric:
            CfnOutput(self, "BusinessMetric", value=self.business_metric)
