"""The CloudWatch metrics AWS services (and the platform's own code) really emit.

A metric is its namespace, name and exact dimension set: an alarm on a dimension set the
service never publishes watches nothing and stays in INSUFFICIENT_DATA (or, with
``treat_missing_data``, in whatever state that picks) forever. Each row cites the page that
lists it; the platform's own rows cite the handler that emits them (a test runs the handlers
and checks their EMF output against these rows).
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
        "DriftedFeatures PredictionDriftDetected MissingGroundTruth ReportPublished MinAuc JobFailed",
        [["Endpoint"]],
        "lambdas/monitoring_publisher/logic.py",
    ),
)


def emitted(namespace: str, name: str, dimensions: set[str] | frozenset[str]) -> Metrics | None:
    """The catalog row that says ``name`` is published in ``namespace`` with exactly ``dimensions``."""
    for row in CATALOG:
        if row.namespace == namespace and name in row.names and frozenset(dimensions) in row.dimension_sets:
            return row
    return None
