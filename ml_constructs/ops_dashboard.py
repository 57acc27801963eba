"""The ML operations dashboard: endpoint per variant, A/B promotion, pipeline, ingest, ETL, drift and quality."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from lambdas.monitoring_publisher.logic import NAMESPACE
from ml_constructs.etl_metrics import etl_metric, reject_ratio

FIVE, HOUR = Duration.minutes(5), Duration.hours(1)
WIDTH = 8


def _metric(namespace: str, metric_name: str, dimensions: dict, statistic: str = "Sum", period: Duration = HOUR,
            label: str | None = None) -> cw.Metric:  # fmt: skip
    return cw.Metric(namespace=namespace, metric_name=metric_name, statistic=statistic, period=period,
                     dimensions_map=dimensions, label=label or metric_name)  # fmt: skip


def ops_dashboard(scope: Construct, *, name: str, title: str, endpoint_name: str, variants: tuple[str, ...],
                  promotion: bool, pipeline_name: str, stream: kinesis.IStream, etl_job_name: str,
                  alarms: list[cw.Alarm]) -> cw.Dashboard:  # fmt: skip
    """The dashboard ``<name>-ml-operations`` in ``scope`` (construct id "Dashboard": it keeps its logical id,
    and so its name, where the stack had it).

    :param variants: the endpoint's production variants (one line each in the per-variant widgets).
    :param promotion: whether the serving stack runs the A/B promotion (its decisions widget).
    """

    def variant(metric_name: str, v: str, statistic: str = "Sum") -> cw.Metric:
        return _metric("AWS/SageMaker", metric_name, {"EndpointName": endpoint_name, "VariantName": v}, statistic,
                       FIVE, f"{v} {metric_name}")  # fmt: skip

    def monitoring(metric_name: str, v: str, statistic: str = "Maximum") -> cw.Metric:
        return _metric(NAMESPACE, metric_name, {"Endpoint": endpoint_name, "Variant": v}, statistic, HOUR,
                       f"{v} {metric_name}")  # fmt: skip

    def endpoint(metric_name: str) -> cw.Metric:
        return _metric(NAMESPACE, metric_name, {"Endpoint": endpoint_name}, "Maximum")

    def serving(metric_name: str) -> cw.Metric:
        return _metric("MlPlatform/Serving", metric_name, {"service": "ab_promotion"})

    def pipeline(metric_name: str) -> cw.Metric:
        return _metric("AWS/Sagemaker/ModelBuildingPipeline", metric_name, {"PipelineName": pipeline_name})

    def ingest(metric_name: str) -> cw.Metric:
        return _metric("MlPlatform/Ingest", metric_name, {"service": "firehose_transform"},
                       period=Duration.minutes(15))  # fmt: skip

    dashboard = cw.Dashboard(scope, "Dashboard", dashboard_name=f"{name}-ml-operations")
    dashboard.add_widgets(cw.TextWidget(markdown=title, width=24, height=2))
    dashboard.add_widgets(
        cw.GraphWidget(title="Invocations per variant", width=WIDTH,
                       left=[variant("Invocations", v) for v in variants]),
        cw.GraphWidget(title="5XX errors per variant", width=WIDTH,
                       left=[variant("Invocation5XXErrors", v) for v in variants]),
        cw.GraphWidget(title="Model latency p99 per variant (us)", width=WIDTH,
                       left=[variant("ModelLatency", v, "p99") for v in variants]),
    )  # fmt: skip
    promotion_widgets = [
        cw.GraphWidget(title="A/B promotion decisions and errors", width=WIDTH,
                       left=[serving("PromotionDecisions"), serving("PromotionErrors")]),
    ] if promotion else []  # fmt: skip
    dashboard.add_widgets(
        *promotion_widgets,
        cw.GraphWidget(title="Training pipeline executions", width=WIDTH,
                       left=[pipeline(m) for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")]),
        cw.GraphWidget(
            title="Ingest lag (ms) and failed-record ratio", width=WIDTH,
            left=[stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=FIVE)],
            right=[cw.MathExpression(expression="IF((ok + failed) > 0, failed / (ok + failed), 0)",
                                     using_metrics={"ok": ingest("RecordsOk"), "failed": ingest("RecordsFailed")},
                                     period=Duration.minutes(15), label="failed-record ratio")],
        ),
    )  # fmt: skip
    dashboard.add_widgets(
        cw.GraphWidget(title="ETL rows curated and rejected, reject ratio", width=WIDTH,
                       left=[etl_metric("CuratedRows"), etl_metric("RejectedRows")], right=[reject_ratio()]),
        cw.GraphWidget(title="Drifted features and prediction drift per variant", width=WIDTH,
                       left=[monitoring("DriftedFeatures", v) for v in variants],
                       right=[monitoring("PredictionDrift", v) for v in variants]),
        cw.GraphWidget(title="AUC and data-quality violations per variant", width=WIDTH,
                       left=[monitoring("Auc", v, "Minimum") for v in variants],
                       right=[monitoring("QualityViolations", v) for v in variants]),
    )  # fmt: skip
    dashboard.add_widgets(
        cw.GraphWidget(title="What monitoring could not judge (1 = yes)", width=WIDTH,
                       left=[endpoint(m) for m in ("BaselineMissing", "NoCapturedData", "MissingGroundTruth")]),
        cw.GraphWidget(title="ETL job failed tasks", width=WIDTH,
                       left=[_metric("Glue", "glue.driver.aggregate.numFailedTasks",
                                     {"JobName": etl_job_name, "JobRunId": "ALL", "Type": "count"})]),
        cw.AlarmStatusWidget(title="Monitoring alarms", width=WIDTH, alarms=alarms),
    )  # fmt: skip
    return dashboard
