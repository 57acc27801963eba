"""Lambda entry point: thin; the logic lives in ``logic.py``."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import fail_all, transform_event

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        outcome = transform_event(event)
    except Exception:  # never fail the batch: Firehose would retry it whole, then fail it all
        logger.exception("unexpected error; every record of the batch is marked failed")
        outcome = fail_all(event)
    if not isinstance(event, dict) or not isinstance(event.get("records"), list):
        logger.error("event is not a Firehose transformation event", extra={"event_type": type(event).__name__})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
    for record_id, reason in outcome.failures:
        logger.warning("record failed validation", extra={"record_id": record_id, "reason": reason})
    if outcome.unanswerable:
        logger.error("records without a recordId cannot be answered", extra={"count": outcome.unanswerable})
        metrics.add_metric(name="RecordsWithoutId", unit=MetricUnit.Count, value=outcome.unanswerable)
    metrics.add_metric(name="RecordsOk", unit=MetricUnit.Count, value=outcome.ok)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=outcome.failed)
    return outcome.response()
