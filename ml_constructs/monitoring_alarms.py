"""The monitoring alarms: drift, prediction drift and model quality into retraining, and the
ones that say monitoring itself is not working (no report, missing labels, failed jobs, dead letters).

The alarms are created in the given scope (the monitoring stack), not in a construct of their
own: they carry fixed names, and a moved alarm (a new logical id) would be created under its
name and then deleted with the old logical id when CloudFormation cleans up.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from config import MonitoringSettings
from lambdas.monitoring_publisher.logic import NAMESPACE
from ml_constructs.etl_metrics import REJECT_RATIO_ALARM, reject_ratio

# SageMaker Model Monitor's namespaces (dimensions Endpoint and MonitoringSchedule): posture/metrics_catalog.py.
MODEL_MONITOR_DATA = "aws/sagemaker/Endpoints/data-metrics"
MODEL_MONITOR_MODEL = "aws/sagemaker/Endpoints/model-metrics"
_ALARM_METRICS_PER_EXPRESSION = 10  # a metric-math alarm takes at most 10 metrics
GE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
HOUR, DAY = Duration.hours(1), Duration.days(1)


class MonitoringAlarms:
    """Builds the alarms in ``scope``; each notifies ``topic``.

    Attributes: ``alarms`` (name -> alarm).

    :param name: resource name prefix, ``mlops-<profile>``.
    :param settings: the profile's monitoring settings (thresholds).
    :param endpoint_name: the monitored endpoint.
    :param retrain_prefix: alarms named with it start retraining.
    """

    def __init__(self, scope: Construct, *, name: str, topic: sns.ITopic, settings: MonitoringSettings,
                 endpoint_name: str, retrain_prefix: str) -> None:  # fmt: skip
        self.scope, self.name, self.topic, self.settings = scope, name, topic, settings
        self.endpoint_name, self.retrain_prefix = endpoint_name, retrain_prefix
        self.alarms: dict[str, cw.Alarm] = {}

    def add(
        self,
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
            self.scope,
            construct_id or alarm_name.removeprefix(f"{self.name}-").title().replace("-", ""),
            alarm_name=alarm_name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms[alarm_name] = alarm
        return alarm

    def _own(self, metric_name: str, statistic: str, period: Duration = HOUR) -> cw.Metric:
        return cw.Metric(namespace=NAMESPACE, metric_name=metric_name, dimensions_map={"Endpoint": self.endpoint_name},
                         statistic=statistic, period=period)  # fmt: skip

    def portable(self, schedule_dead_letters: sqs.IQueue) -> None:
        """The drift job's: the publisher's per-endpoint metrics, and the schedule's dead letters."""
        retrain, name, settings = self.retrain_prefix, self.name, self.settings
        self.add(f"{retrain}data-drift", "At least one feature drifted from the training baseline",
                 self._own("DriftedFeatures", "Maximum"), threshold=1, comparison=GE)  # fmt: skip
        self.add(f"{retrain}prediction-drift", "The score distribution drifted from the baseline",
                 self._own("PredictionDriftDetected", "Maximum"), threshold=1, comparison=GE)  # fmt: skip
        self.add(f"{retrain}model-quality", f"AUC of a variant fell below {settings.auc_floor}",
                 self._own("MinAuc", "Minimum"), threshold=settings.auc_floor,
                 comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)  # fmt: skip
        self.add(f"{name}-monitoring-missing-ground-truth",
                 f"Fewer than {settings.min_samples} labels joined for a variant with traffic: quality unjudged",
                 self._own("MissingGroundTruth", "Maximum"), threshold=1, comparison=GE)  # fmt: skip
        # A first run without baselines or traffic still publishes its report: silence means the job is not running.
        self.add(f"{name}-monitoring-no-report", "No drift report was published for a day",
                 self._own("ReportPublished", "Sum", DAY), threshold=1,
                 comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                 missing=cw.TreatMissingData.BREACHING)  # fmt: skip
        self.add(f"{name}-monitoring-schedule-dead-letters", "The scheduler could not start the drift job",
                 schedule_dead_letters.metric_approximate_number_of_messages_visible(
                     statistic="Maximum", period=Duration.minutes(5)),
                 threshold=1, comparison=GE)  # fmt: skip

    def model_monitor(self, *, data_quality_schedule: str, model_quality_schedule: str, features: list[str]) -> None:
        """Model Monitor's: per-feature baseline drift (in groups of ten) and AUC, on its own namespaces.

        The analyzer names headerless CSV columns ``_c0``, ``_c1``... (and the baseline follows,
        ``pipelines.training.baseline.positional``): feature i's metric is ``feature_baseline_drift__c<i>``."""
        retrain, name, settings = self.retrain_prefix, self.name, self.settings
        schedule = {"Endpoint": self.endpoint_name, "MonitoringSchedule": data_quality_schedule}
        for n, start in enumerate(range(0, len(features), _ALARM_METRICS_PER_EXPRESSION)):
            chunk = features[start : start + _ALARM_METRICS_PER_EXPRESSION]
            expression = cw.MathExpression(
                expression=f"MAX([{', '.join(f'm{i}' for i in range(len(chunk)))}])",
                using_metrics={
                    f"m{i}": cw.Metric(namespace=MODEL_MONITOR_DATA,
                                       metric_name=f"feature_baseline_drift__c{start + i}", label=f,
                                       dimensions_map=schedule, statistic="Maximum", period=HOUR)
                    for i, f in enumerate(chunk)
                },
                period=HOUR,
                label=f"Largest baseline drift of features {chunk[0]}..{chunk[-1]}",
            )  # fmt: skip
            self.add(f"{retrain}data-drift-{n + 1}",
                     f"Model Monitor: a feature among {chunk[0]}..{chunk[-1]} drifted from the baseline",
                     expression, threshold=settings.js_threshold,
                     comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, construct_id=f"DataDrift{n + 1}")  # fmt: skip
        quality = {"Endpoint": self.endpoint_name, "MonitoringSchedule": model_quality_schedule}
        auc = cw.Metric(namespace=MODEL_MONITOR_MODEL, metric_name="auc", dimensions_map=quality, statistic="Minimum",
                        period=DAY)  # fmt: skip
        self.add(f"{retrain}model-quality", f"Model Monitor: AUC fell below {settings.auc_floor}", auc,
                 threshold=settings.auc_floor, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)  # fmt: skip
        self.add(f"{name}-monitoring-missing-ground-truth",
                 "Model Monitor published no AUC for a day (no ground truth merged)", auc, threshold=0,
                 comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD, missing=cw.TreatMissingData.BREACHING,
                 construct_id="MissingGroundTruth")  # fmt: skip

    def common(self, publisher_dead_letters: sqs.IQueue) -> None:
        """Both engines: failed monitoring jobs, undelivered monitoring events, ETL rejects."""
        name = self.name
        self.add(f"{name}-monitoring-job-failed", "A monitoring job failed or was stopped (not a first run)",
                 self._own("JobFailed", "Sum"), threshold=1, comparison=GE)  # fmt: skip
        self.add(f"{name}-monitoring-publisher-dead-letters", "Monitoring events could not be delivered",
                 publisher_dead_letters.metric_approximate_number_of_messages_visible(
                     statistic="Maximum", period=Duration.minutes(5)),
                 threshold=1, comparison=GE)  # fmt: skip
        self.add(f"{name}-etl-reject-ratio", f"The ETL rejected more than {REJECT_RATIO_ALARM:.0%} of the rows it read",
                 reject_ratio(), threshold=REJECT_RATIO_ALARM,
                 comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, construct_id="EtlRejectRatio")  # fmt: skip
