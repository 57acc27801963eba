"""The ETL's run summary as CloudWatch metrics: rejected and curated rows per run, from the job's output log.

The job prints one JSON line per run on stdout (``{"event": "curate_run_summary", ...,
"curated_rows": N, "rejected_rows": M}``). On Glue 5.0 a job's stdout goes to the
``/aws-glue/jobs/output`` log group, or to ``<prefix>/output`` with the job argument
``--custom-logGroup-prefix`` (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html).
A metric filter needs its log group to exist when it is created, and Glue would create
the default one itself at the first run (unencrypted by us, kept forever): so this
construct creates ``<prefix>/output`` (KMS, retention) and points the job at the prefix.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

ETL_NAMESPACE = "MlPlatform/Etl"
# The run-summary line's "event" (pipelines/glue: SUMMARY_EVENT) and the keys the filters read.
SUMMARY_EVENT = "curate_run_summary"
COUNTS = {"RejectedRows": "rejected_rows", "CuratedRows": "curated_rows"}
# Above this share of rejected rows in a run, the raw data (or its producer) needs a look.
REJECT_RATIO_ALARM = 0.05


def etl_metric(metric_name: str, period: Duration = Duration.hours(1)) -> cw.Metric:  # noqa: B008 - immutable
    """A count the filters publish (no dimensions: one ETL job per profile)."""
    return cw.Metric(namespace=ETL_NAMESPACE, metric_name=metric_name, statistic="Sum", period=period)


def reject_ratio(period: Duration = Duration.hours(1)) -> cw.MathExpression:  # noqa: B008 - immutable
    """Rejected rows over all rows the ETL read in the period (0 without runs)."""
    return cw.MathExpression(
        expression="IF((curated + rejected) > 0, rejected / (curated + rejected), 0)",
        using_metrics={"curated": etl_metric("CuratedRows", period), "rejected": etl_metric("RejectedRows", period)},
        period=period,
        label="ETL reject ratio",
    )


class EtlRunMetrics(Construct):
    """Metric filters on the ETL job's output log: ``RejectedRows`` and ``CuratedRows`` per run.

    Attributes: ``log_group`` (``<log_group_prefix>/output``), ``filters`` (metric name -> filter).

    :param job: the Glue job; its ``--custom-logGroup-prefix`` is set to ``log_group_prefix``.
    :param log_group_prefix: under ``/aws-glue/`` (the job role may write there).
    :param logs_key: the log group's key (the one the job's security configuration uses).
    :param retention: how long the log is kept.
    :param removal_policy: for the log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: glue.CfnJob,
        log_group_prefix: str,
        logs_key: kms.IKey,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "OutputLogs",
            log_group_name=f"{log_group_prefix}/output",
            encryption_key=logs_key,
            retention=retention,
            removal_policy=removal_policy,
        )
        job.add_property_override("DefaultArguments.--custom-logGroup-prefix", log_group_prefix)
        job.node.add_dependency(self.log_group)
        self.filters = {
            metric_name: logs.MetricFilter(
                self,
                metric_name,
                log_group=self.log_group,
                filter_pattern=logs.FilterPattern.string_value("$.event", "=", SUMMARY_EVENT),
                metric_namespace=ETL_NAMESPACE,
                metric_name=metric_name,
                metric_value=f"$.{key}",
                unit=cw.Unit.COUNT,
            )
            for metric_name, key in COUNTS.items()
        }
