"""Monitoring stack: drift and model quality of the endpoint, alarms into retraining, the ML ops dashboard."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
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
from ml_constructs.ab_endpoint import VARIANTS
from ml_constructs.events import MAX_EVENT_AGE, DeadLetterQueue, object_created
from ml_constructs.lambdas import PythonFunction
from ml_constructs.monitoring import REPORTS_PREFIX, ModelMonitorSchedules, PortableDriftJob
from pipelines.training.features import FEATURES
from stacks.base import PlatformStack

MODEL_MONITOR_DATA = "aws/sagemaker/Endpoints/data-metrics"
MODEL_MONITOR_MODEL = "aws/sagemaker/Endpoints/model-metrics"
_ALARM_METRICS_PER_EXPRESSION = 10  # a metric-math alarm takes at most 10 metrics


class MonitoringStack(PlatformStack):
    """Drift and model-quality monitoring of the A/B endpoint, per the profile's ``monitoring`` engine.

    Attributes: ``engine`` (``PortableDriftJob`` or ``ModelMonitorSchedules``), ``publisher``
    (turns reports and job failures into CloudWatch metrics), ``alarms`` (name -> alarm),
    ``retrain_alarm_names`` (those the training stack's retraining rule picks up),
    ``business_metric`` ("Namespace|MetricName" of the per-variant AUC for the A/B promotion),
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
            self.engine: PortableDriftJob | ModelMonitorSchedules = PortableDriftJob(self, "DriftJob", **engine_args)
        else:
            self.engine = ModelMonitorSchedules(self, "ModelMonitor", **engine_args)
        self.business_metric = f"{NAMESPACE}|{BUSINESS_METRIC}"

        self.dead_letters = DeadLetterQueue(self, "EventDeadLetters", purpose="the monitoring publisher's rules")
        self.publisher = PythonFunction(
            self,
            "Publisher",
            package="monitoring_publisher",
            description="Publishes drift reports and monitoring job failures as CloudWatch metrics",
            vpc=vpc,
            subnets=workload_subnets,
            logs_key=logs_key,
            environment={"ENDPOINT_NAME": endpoint_name},
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
            ],
        )
        self.publisher.role.iam_role.add_managed_policy(monitoring_reports_policy)
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

        self.alarms: dict[str, cw.Alarm] = {}
        self.retrain_alarm_prefix = retrain_alarm_prefix
        self._alarms(name, settings, alarm_topic)
        self.retrain_alarm_names = sorted(n for n in self.alarms if n.startswith(retrain_alarm_prefix))
        self.dashboard = self._dashboard(name, endpoint_name, pipeline_name, ingest_stream, etl_job_name)
        CfnOutput(self, "MonitoringEngine", value=settings.engine)
        CfnOutput(self, "BusinessMetric", value=self.business_metric)

    def _alarm(
        self,
        topic: sns.ITopic,
        alarm_name: str,
        description: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        comparison: cw.ComparisonOperator,
        missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        construct_id: str | None = None,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id or alarm_name.removeprefix(f"mlops-{self.profile.name}-").title().replace("-", ""),
            alarm_name=alarm_name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self.alarms[alarm_name] = alarm
        return alarm

    def _alarms(self, name: str, settings, topic: sns.ITopic) -> None:
        ge = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        retrain = self.retrain_alarm_prefix
        hour, day = Duration.hours(1), Duration.days(1)
        if isinstance(self.engine, PortableDriftJob):
            endpoint = {"Endpoint": self.endpoint_name}

            def metric(metric_name: str, statistic: str, period: Duration = hour) -> cw.Metric:
                return cw.Metric(
                    namespace=NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map=endpoint,
                    statistic=statistic,
                    period=period,
                )

            self._alarm(
                topic,
                f"{retrain}data-drift",
                "At least one feature drifted from the training baseline",
                metric("DriftedFeatures", "Maximum"),
                threshold=1,
                comparison=ge,
            )
            self._alarm(
                topic,
                f"{retrain}prediction-drift",
                "The score distribution drifted from the baseline",
                metric("PredictionDriftDetected", "Maximum"),
                threshold=1,
                comparison=ge,
            )
            self._alarm(
                topic,
                f"{retrain}model-quality",
                f"AUC of a variant fell below {settings.auc_floor}",
                metric("MinAuc", "Minimum"),
                threshold=settings.auc_floor,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            )
            self._alarm(
                topic,
                f"{name}-monitoring-missing-ground-truth",
                f"Fewer than {settings.min_samples} labels joined for a variant with traffic: quality unjudged",
                metric("MissingGroundTruth", "Maximum"),
                threshold=1,
                comparison=ge,
            )
            self._alarm(
                topic,
                f"{name}-monitoring-no-report",
                "No drift report was published for a day",
                metric("ReportPublished", "Sum", day),
                threshold=1,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING,
            )
            dlq = self.engine.dead_letters.queue
            self._alarm(
                topic,
                f"{name}-monitoring-schedule-dead-letters",
                "The scheduler could not start the drift job",
                dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=Duration.minutes(5)),
                threshold=1,
                comparison=ge,
            )
        else:
            schedule = {"Endpoint": self.endpoint_name, "MonitoringSchedule": self.engine.data_quality_schedule_name}
            features = list(FEATURES)
            for n, start in enumerate(range(0, len(features), _ALARM_METRICS_PER_EXPRESSION)):
                chunk = features[start : start + _ALARM_METRICS_PER_EXPRESSION]
                expression = cw.MathExpression(
                    expression=f"MAX([{', '.join(f'm{i}' for i in range(len(chunk)))}])",
                    using_metrics={
                        f"m{i}": cw.Metric(
                            namespace=MODEL_MONITOR_DATA,
                            metric_name=f"feature_baseline_drift_{f}",
                            dimensions_map=schedule,
                            statistic="Maximum",
                            period=hour,
                        )
                        for i, f in enumerate(chunk)
                    },
                    period=hour,
                    label=f"Largest baseline drift of features {chunk[0]}..{chunk[-1]}",
                )
                self._alarm(
                    topic,
                    f"{retrain}data-drift-{n + 1}",
                    f"Model Monitor: a feature among {chunk[0]}..{chunk[-1]} drifted from the baseline",
                    expression,
                    threshold=settings.js_threshold,
                    comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    construct_id=f"DataDrift{n + 1}",
                )
            quality = {"Endpoint": self.endpoint_name, "MonitoringSchedule": self.engine.model_quality_schedule_name}
            auc = cw.Metric(
                namespace=MODEL_MONITOR_MODEL,
                metric_name="auc",
                dimensions_map=quality,
                statistic="Minimum",
                period=day,
            )
            self._alarm(
                topic,
                f"{retrain}model-quality",
                f"Model Monitor: AUC fell below {settings.auc_floor}",
                auc,
                threshold=settings.auc_floor,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            )
            self._alarm(
                topic,
                f"{name}-monitoring-missing-ground-truth",
                "Model Monitor published no AUC for a day (no ground truth merged)",
                auc,
                threshold=0,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING,
                construct_id="MissingGroundTruth",
            )
        self._alarm(
            topic,
            f"{name}-monitoring-job-failed",
            "A monitoring job failed or was stopped",
            cw.Metric(
                namespace=NAMESPACE,
                metric_name="JobFailed",
                dimensions_map={"Endpoint": self.endpoint_name},
                statistic="Sum",
                period=hour,
            ),
            threshold=1,
            comparison=ge,
        )
        self._alarm(
            topic,
            f"{name}-monitoring-publisher-dead-letters",
            "Monitoring events could not be delivered",
            self.dead_letters.queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=Duration.minutes(5)
            ),
            threshold=1,
            comparison=ge,
        )

    def _dashboard(
        self, name: str, endpoint_name: str, pipeline_name: str, stream: kinesis.IStream, etl_job_name: str
    ) -> cw.Dashboard:
        five = Duration.minutes(5)
        hour = Duration.hours(1)

        def variant_metric(metric_name: str, variant: str, statistic: str = "Sum") -> cw.Metric:
            return cw.Metric(
                namespace="AWS/SageMaker",
                metric_name=metric_name,
                statistic=statistic,
                period=five,
                dimensions_map={"EndpointName": endpoint_name, "VariantName": variant},
                label=f"{variant} {metric_name}",
            )

        def monitoring(metric_name: str, variant: str, statistic: str = "Maximum") -> cw.Metric:
            return cw.Metric(
                namespace=NAMESPACE,
                metric_name=metric_name,
                statistic=statistic,
                period=hour,
                dimensions_map={"Endpoint": endpoint_name, "Variant": variant},
                label=f"{variant} {metric_name}",
            )

        def serving(metric_name: str) -> cw.Metric:
            return cw.Metric(
                namespace="MlPlatform/Serving",
                metric_name=metric_name,
                statistic="Sum",
                period=hour,
                dimensions_map={"service": "ab_promotion"},
                label=metric_name,
            )

        def pipeline(metric_name: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Sagemaker/ModelBuildingPipeline",
                metric_name=metric_name,
                statistic="Sum",
                period=hour,
                dimensions_map={"PipelineName": pipeline_name},
                label=metric_name,
            )

        def ingest(metric_name: str) -> cw.Metric:
            return cw.Metric(
                namespace="MlPlatform/Ingest",
                metric_name=metric_name,
                statistic="Sum",
                period=Duration.minutes(15),
                dimensions_map={"service": "firehose_transform"},
            )

        width = 8
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{name}-ml-operations")
        dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# ML operations ({self.profile.name})\nEndpoint, promotion, pipeline, ingest, "
                f"ETL and monitoring ({self.profile.monitoring.engine} engine).",
                width=24,
                height=2,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Invocations per variant", width=width, left=[variant_metric("Invocations", v) for v in VARIANTS]
            ),
            cw.GraphWidget(
                title="5XX errors per variant",
                width=width,
                left=[variant_metric("Invocation5XXErrors", v) for v in VARIANTS],
            ),
            cw.GraphWidget(
                title="Model latency p99 per variant (us)",
                width=width,
                left=[variant_metric("ModelLatency", v, "p99") for v in VARIANTS],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="A/B promotion decisions and errors",
                width=width,
                left=[serving("PromotionDecisions"), serving("PromotionErrors")],
            ),
            cw.GraphWidget(
                title="Training pipeline executions",
                width=width,
                left=[pipeline(m) for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")],
            ),
            cw.GraphWidget(
                title="Ingest lag (ms) and failed-record ratio",
                width=width,
                left=[stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=five)],
                right=[
                    cw.MathExpression(
                        expression="IF((ok + failed) > 0, failed / (ok + failed), 0)",
                        using_metrics={"ok": ingest("RecordsOk"), "failed": ingest("RecordsFailed")},
                        period=Duration.minutes(15),
                        label="failed-record ratio",
                    )
                ],
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="ETL job failed tasks (the ETL publishes no rejects metric yet)",
                width=width,
                left=[
                    cw.Metric(
                        namespace="Glue",
                        metric_name="glue.driver.aggregate.numFailedTasks",
                        statistic="Sum",
                        period=hour,
                        dimensions_map={"JobName": etl_job_name, "JobRunId": "ALL", "Type": "count"},
                    )
                ],
            ),
            cw.GraphWidget(
                title="Drifted features and prediction drift per variant",
                width=width,
                left=[monitoring("DriftedFeatures", v) for v in VARIANTS],
                right=[monitoring("PredictionDrift", v) for v in VARIANTS],
            ),
            cw.GraphWidget(
                title="AUC and data-quality violations per variant",
                width=width,
                left=[monitoring("Auc", v, "Minimum") for v in VARIANTS],
                right=[monitoring("QualityViolations", v) for v in VARIANTS],
            ),
        )
        dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Monitoring alarms", width=24, alarms=list(self.alarms.values()))
        )
        return dashboard
