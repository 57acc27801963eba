"""Lambda entry point: thin; the logic lives in ``logic.py``."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import fail_all, transform_event
from .timestamps import Window

logger = Logger()
metrics = Metrics()
# The plausible window of event times, from the profile (ingest.event_max_age_days / event_max_ahead_minutes).
MAX_AGE_DAYS = int(os.environ["EVENT_MAX_AGE_DAYS"])
MAX_AHEAD_MINUTES = int(os.environ["EVENT_MAX_AHEAD_MINUTES"])


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    window = Window.around(datetime.now(UTC), max_age_days=MAX_AGE_DAYS, max_ahead_minutes=MAX_AHEAD_MINUTES)
    try:
        outcome = transform_event(event, window=window)
    except Exception:  # never fail the batch: Firehose would retry it whole, then fail it all
        logger.exception("unexpected error; every record of the batch is marked failed")
        outcome = fail_all(event)
    if not isinstance(event, dict) or not isinstance(event.get("records"), list):
        logger.error("event is not a Firehose transformation event", extra={"event_type": type(event).__name__})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
    for record_id, reason in outcome.failures:
        logger.warning("record failed validation", extra={"record_id": record_id, "reason": reason})
    if outcome.unwrapped:
        logger.error("failed records returned without their envelope to fit the response limit",
                     extra={"count": outcome.unwrapped})  # fmt: skip
    if outcome.unanswerable:
        logger.error("records without a recordId cannot be answered", extra={"count": outcome.unanswerable})
        metrics.add_metric(name="RecordsWithoutId", unit=MetricUnit.Count, value=outcome.unanswerable)
    metrics.add_metric(name="RecordsOk", unit=MetricUnit.Count, value=outcome.ok)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=outcome.failed)
    return outcome.response()
