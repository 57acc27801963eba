"""Ingest stack: Kinesis stream -> Firehose (validating Lambda) -> raw zone, with alarms."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnResource, Duration, Size
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_constructs.alarms import AlarmSpec, build_alarms
from ml_constructs.cfn import l1
from ml_constructs.iam import ManagedRole, logs_write
from ml_constructs.lambdas import PythonFunction
from posture.checks import acknowledge
from stacks.base import PlatformStack

_DATE = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
METRICS_NAMESPACE = "MlPlatform/Ingest"


class IngestStack(PlatformStack):
    """Producers write churn events to the stream; Firehose validates them and lands them in raw.

    Valid records are normalized to JSON lines under ``<raw_events_prefix>year=/month=/day=/``
    (gzip). Records that fail validation, and any delivery failure, land under
    ``<raw_errors_prefix><error type>/...`` with the reason; the data lake stack owns both
    prefixes (app.py passes them). Alarms notify the alarm topic.

    Attributes: ``stream``, ``delivery_stream``, ``transform`` (the Lambda),
    ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        workload_subnets: ec2.SubnetSelection,
        raw_bucket: s3.IBucket,
        raw_ingest_policy: iam.IManagedPolicy,
        raw_events_prefix: str,
        raw_errors_prefix: str,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        alarm_topic: sns.ITopic,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, stateful=True, **kwargs)
        settings = self.profile.ingest

        self.stream = kinesis.Stream(
            self,
            "EventStream",
            # On demand, or the profile's shards (throttled writes then raise the WriteThrottles alarm).
            stream_mode=kinesis.StreamMode.ON_DEMAND
            if settings.stream_shards is None
            else kinesis.StreamMode.PROVISIONED,
            shard_count=settings.stream_shards,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=data_key,
            retention_period=Duration.hours(settings.stream_retention_hours),
            removal_policy=self.data_removal_policy,
        )

        self.transform = PythonFunction(
            self,
            "Transform",
            package="firehose_transform",
            description=f"Validates and normalizes {self.profile.dataset} events for Firehose; marks bad records failed",
            vpc=vpc,
            subnets=workload_subnets,
            logs_key=logs_key,
            environment={
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "DATASET": self.profile.dataset,
                "EVENT_MAX_AGE_DAYS": str(settings.event_max_age_days),
                "EVENT_MAX_AHEAD_MINUTES": str(settings.event_max_ahead_minutes),
            },
            **self.function_settings,
        )

        delivery_logs = logs.LogGroup(
            self, "DeliveryLogs", encryption_key=logs_key, retention=self.log_retention,
            removal_policy=self.data_removal_policy,
        )  # fmt: skip
        role = ManagedRole(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": self.account}}
            ),
            description="Firehose: read the event stream, run the transform, write the raw zone",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetShardIterator",
                        "kinesis:GetRecords",
                        "kinesis:ListShards",
                    ],
                    resources=[self.stream.stream_arn],
                ),
                # The stream is encrypted with the data key.
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[data_key.key_arn]),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                    resources=[self.transform.function.function_arn],
                ),
                logs_write(delivery_logs),
            ],
        )
        role.iam_role.add_managed_policy(raw_ingest_policy)
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            source=firehose.KinesisStreamSource(self.stream),
            role=role.role,
            destination=firehose.S3Bucket(
                raw_bucket,
                role=role.role,
                data_output_prefix=f"{raw_events_prefix}{_DATE}",
                error_output_prefix=f"{raw_errors_prefix}!{{firehose:error-output-type}}/{_DATE}",
                buffering_interval=Duration.seconds(settings.buffer_seconds),
                buffering_size=Size.mebibytes(settings.buffer_mb),
                compression=firehose.Compression.GZIP,
                encryption_key=data_key,
                logging_config=firehose.EnableLogging(delivery_logs),
                processors=[
                    firehose.LambdaFunctionProcessor(
                        self.transform.function,
                        buffer_interval=Duration.seconds(60),  # the processor's minimum
                        buffer_size=Size.mebibytes(settings.transform_buffer_mb),
                        retries=3,
                    )
                ],
            ),
        )

        grants = (
            "CDK's Firehose construct grants its role what delivery needs, with CDK's action families: "
            "read and write of the raw zone bucket (bucket.grantReadWrite), encrypt and decrypt with the "
            "data key, and invoke of the transform function (any version). Each names one resource."
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*", "s3:Abort*", "s3:DeleteObject*",
                       "s3:GetBucket*", "s3:GetObject*", "s3:List*"):  # fmt: skip
            role.acknowledge(f"AwsSolutions-IAM5[Action::{action}]", grants)
        role.acknowledge_wildcards(
            [raw_bucket.arn_for_objects("*"), f"{self.transform.function.function_arn}:*"], grants
        )
        acknowledge(
            l1(self.delivery_stream, CfnResource),
            "AwsSolutions-KDF1",
            "Firehose server-side encryption applies to Direct PUT sources only; this stream reads from "
            "a Kinesis stream encrypted with the customer data key and writes SSE-KMS objects with it.",
        )
        acknowledge(
            l1(self.stream, CfnResource),
            "AwsSolutions-KDS3",
            "The stream uses the customer-managed data key instead of aws/kinesis on purpose: its "
            "policy, rotation and audit trail are ours, and the same key protects the raw zone.",
        )

        self.alarms = self._alarms(alarm_topic, raw_errors_prefix)
        CfnOutput(self, "StreamName", value=self.stream.stream_name)

    def _alarms(self, topic: sns.ITopic, errors_prefix: str) -> list[cw.Alarm]:
        settings = self.profile.ingest
        five_minutes = Duration.minutes(5)

        def firehose_metric(name: str, statistic: str) -> cw.Metric:
            return self.delivery_stream.metric(name, statistic=statistic, period=five_minutes)

        def emf(name: str) -> cw.Metric:
            return cw.Metric(
                namespace=METRICS_NAMESPACE, metric_name=name, dimensions_map={"service": "firehose_transform"},
                statistic="Sum", period=Duration.minutes(15),
            )  # fmt: skip

        failed_ratio = cw.MathExpression(
            expression="IF((ok + failed) > 0, failed / (ok + failed), 0)",
            using_metrics={"ok": emf("RecordsOk"), "failed": emf("RecordsFailed")},
            period=Duration.minutes(15),
            label="Share of records failing validation",
        )

        def spec(name: str, description: str, metric: cw.IMetric, threshold: float, periods: int) -> AlarmSpec:
            return AlarmSpec(
                construct_id=f"{name}Alarm", description=description, metric=metric, threshold=threshold,
                periods=periods, topic=topic,
            )  # fmt: skip

        return build_alarms(self, [
            spec("IteratorAge", "Events wait in the stream longer than the profile allows",
                 self.stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=five_minutes),
                 settings.iterator_age_alarm_seconds * 1000, 2),
            spec("WriteThrottles", "Producers are throttled writing to the stream",
                 self.stream.metric_write_provisioned_throughput_exceeded(statistic="Sum", period=five_minutes), 0, 3),
            spec("DeliveryFreshness", "The oldest record waiting in Firehose is older than the buffer allows",
                 firehose_metric("DeliveryToS3.DataFreshness", "Maximum"), settings.buffer_seconds + 900, 2),
            spec("DeliveryFailures", "Firehose failed to deliver to the raw zone",
                 cw.MathExpression(expression="1 - s", using_metrics={"s": firehose_metric("DeliveryToS3.Success", "Average")}, period=five_minutes), 0, 1),
            spec("TransformInvocationFailures", "Firehose could not run the transform Lambda",
                 cw.MathExpression(expression="1 - s", using_metrics={"s": firehose_metric("ExecuteProcessing.Success", "Average")}, period=five_minutes), 0, 1),
            spec("TransformErrors", "The transform Lambda raised errors",
                 self.transform.function.metric_errors(statistic="Sum", period=five_minutes), 0, 1),
            spec("TransformThrottles", "The transform Lambda is throttled",
                 self.transform.function.metric_throttles(statistic="Sum", period=five_minutes), 0, 2),
            spec("FailedRecordRatio", f"Too many records fail validation (see the {errors_prefix} prefix)",
                 failed_ratio, settings.failed_record_ratio_alarm, 1),
        ])  # fmt: skip
