"""The CloudWatch metrics AWS services (and the platform's own code) really emit.

A metric is its namespace, name and exact dimension set: an alarm on a dimension set the
service never publishes watches nothing and stays in INSUFFICIENT_DATA (or, with
``treat_missing_data``, in whatever state that picks) forever. Each row cites the page that
lists it; the platform's own rows cite the handler that emits them (a test runs the handlers
and checks their EMF output against these rows), or the construct whose log metric filters do.
A name ending in "*" stands for every name with that prefix (per-feature metrics).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metrics:
    namespace: str
    names: frozenset[str]
    dimension_sets: tuple[frozenset[str], ...]
    source: str


def _row(namespace: str, names: str, dimension_sets: list[list[str]], source: str) -> Metrics:
    return Metrics(namespace, frozenset(names.split()), tuple(frozenset(d) for d in dimension_sets), source)


ENDPOINT_VARIANT = [["EndpointName", "VariantName"]]

CATALOG: tuple[Metrics, ...] = (
    _row(
        "AWS/SageMaker",
        "Invocations Invocation4XXErrors Invocation5XXErrors InvocationModelErrors InvocationsPerInstance "
        "ModelLatency OverheadLatency ModelSetupTime",
        ENDPOINT_VARIANT,
        "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-endpoint-invocation",
    ),
    _row(
        "/aws/sagemaker/Endpoints",
        "CPUUtilization MemoryUtilization DiskUtilization GPUUtilization GPUMemoryUtilization",
        ENDPOINT_VARIANT,
        "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-jobs",
    ),
    _row(
        "AWS/Kinesis",
        "GetRecords.IteratorAgeMilliseconds WriteProvisionedThroughputExceeded ReadProvisionedThroughputExceeded "
        "IncomingRecords IncomingBytes PutRecord.Success PutRecords.Success PutRecords.ThrottledRecords "
        "GetRecords.Success",
        [["StreamName"]],
        "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html",
    ),
    _row(
        "AWS/Firehose",
        "DeliveryToS3.DataFreshness DeliveryToS3.Success DeliveryToS3.Records DeliveryToS3.Bytes "
        "ExecuteProcessing.Success ExecuteProcessing.Duration SucceedProcessing.Records SucceedProcessing.Bytes "
        "IncomingRecords IncomingBytes ThrottledRecords DataReadFromKinesisStream.Records "
        "DataReadFromKinesisStream.Bytes KinesisMillisBehindLatest",
        [["DeliveryStreamName"]],
        "https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html",
    ),
    _row(
        "AWS/Lambda",
        "Invocations Errors Throttles Duration ConcurrentExecutions DeadLetterErrors DestinationDeliveryFailures "
        "AsyncEventsReceived AsyncEventAge AsyncEventsDropped",
        [["FunctionName"], ["FunctionName", "Resource"]],
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html",
    ),
    _row(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible ApproximateAgeOfOldestMessage ApproximateNumberOfMessagesNotVisible "
        "NumberOfMessagesSent NumberOfMessagesReceived NumberOfMessagesDeleted",
        [["QueueName"]],
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
    ),
    _row(
        "Glue",  # not AWS/Glue: job metrics (with --enable-metrics) publish under "Glue"
        "glue.driver.aggregate.numFailedTasks glue.driver.aggregate.numCompletedTasks glue.driver.aggregate.elapsedTime "
        "glue.driver.aggregate.bytesRead glue.driver.aggregate.recordsRead glue.driver.s3.filesystem.read_bytes "
        "glue.driver.s3.filesystem.write_bytes glue.ALL.jvm.heap.usage glue.driver.jvm.heap.usage "
        "glue.driver.ExecutorAllocationManager.executors.numberAllExecutors",
        [["JobName", "JobRunId", "Type"]],
        "https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with-cloudwatch-metrics.html",
    ),
    _row(
        "AWS/Events",
        "Invocations FailedInvocations TriggeredRules MatchedEvents DeadLetterInvocations "
        "InvocationsFailedToBeSentToDlq ThrottledRules",
        [["RuleName"], ["EventBusName", "RuleName"]],
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html",
    ),
    # SageMaker Model Monitor (publish_cloudwatch_metrics=Enabled in the job's environment, emit_metrics in the
    # baseline constraints). Per-feature names end in the analyzer's column name ("*": any suffix); for a real-time
    # endpoint the dimensions are Endpoint and MonitoringSchedule (the interpreting page's "EndpointName and
    # ScheduleName" contradicts the BYOC page and the SDK's own dashboards, which use Endpoint and MonitoringSchedule:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html).
    _row(
        "aws/sagemaker/Endpoints/data-metrics",
        "feature_baseline_drift_* feature_non_null_* feature_data_*",
        [["Endpoint", "MonitoringSchedule"]],
        "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html",
    ),
    _row(
        "aws/sagemaker/Endpoints/model-metrics",
        "auc f1 f2 f0_5 precision recall accuracy true_positive_rate true_negative_rate false_positive_rate "
        "false_negative_rate",
        [["Endpoint", "MonitoringSchedule"]],
        "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html",
    ),
    # The ETL's run-summary line, counted by metric filters on the job's output log (no dimensions).
    _row("MlPlatform/Etl", "RejectedRows CuratedRows", [[]], "ml_constructs/etl_metrics.py"),
    # The platform's own Powertools metrics: Powertools adds the "service" dimension to every metric.
    _row(
        "MlPlatform/Ingest",
        "RecordsOk RecordsFailed MalformedEvents RecordsWithoutId",
        [["service"]],
        "lambdas/firehose_transform/handler.py",
    ),
    _row(
        "MlPlatform/Retraining",
        "RetrainingStarted RetrainingRefused",
        [["service", "trigger"]],
        "lambdas/retraining_guard/handler.py",
    ),
    _row("MlPlatform/Retraining", "RetrainingStartFailed", [["service"]], "lambdas/retraining_guard/handler.py"),
    _row("MlPlatform/Serving", "PromotionDecisions", [["service", "action"]], "lambdas/ab_promotion/handler.py"),
    _row("MlPlatform/Serving", "PromotionErrors", [["service"]], "lambdas/ab_promotion/handler.py"),
    _row(
        "MlPlatform/Serving",
        "DeploymentsStarted DeploymentsSkipped DeploymentsDeferred DeploymentsAlreadyDone "
        "BaselinesCopied BaselinesMissing BaselineCopyFailures",
        [["service"]],
        "lambdas/model_deployer/handler.py",
    ),
    # The monitoring stack's report publisher (put_metric_data, not EMF): per variant, per feature, per endpoint.
    _row(
        "MlPlatform/Monitoring",
        "DriftedFeatures QualityViolations MalformedRecords CapturedRows GroundTruthSamples PredictionDrift "
        "PredictionDriftDetected Auc Precision Recall F1",
        [["Endpoint", "Variant"]],
        "lambdas/monitoring_publisher/logic.py",
    ),
    _row(
        "MlPlatform/Monitoring",
        "FeatureDrift FeaturePsi",
        [["Endpoint", "Variant", "Feature"]],
        "lambdas/monitoring_publisher/logic.py",
    ),
    _row(
        "MlPlatform/Monitoring",
        "VariantAuc",
        [["EndpointName", "VariantName"]],
        "lambdas/monitoring_publisher/logic.py",
    ),
    _row(
        "MlPlatform/Monitoring",
        "DriftedFeatures PredictionDriftDetected MissingGroundTruth ReportPublished MinAuc JobFailed BaselineMissing "
        "NoCapturedData",
        [["Endpoint"]],
        "lambdas/monitoring_publisher/logic.py",
    ),
)


def emitted(namespace: str, name: str, dimensions: set[str] | frozenset[str]) -> Metrics | None:
    """The catalog row that says ``name`` is published in ``namespace`` with exactly ``dimensions``."""
    for row in CATALOG:
        named = name in row.names or any(n.endswith("*") and name.startswith(n[:-1]) for n in row.names)
        if row.namespace == namespace and named and frozenset(dimensions) in row.dimension_sets:
            return row
    return None
