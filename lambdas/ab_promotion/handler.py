"""Lambda entry point of the A/B promotion: thin; the rule lives in ``logic.py``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import EndpointBusy, PromotionError, Rule, apply, decide, gather, parse_event

logger = Logger()
metrics = Metrics()
_sagemaker = boto3.client("sagemaker")
_cloudwatch = boto3.client("cloudwatch")
_business = os.environ.get("BUSINESS_METRIC")  # "Namespace|MetricName"
RULE = Rule(
    min_challenger_invocations=int(os.environ["MIN_CHALLENGER_INVOCATIONS"]),
    max_error_rate_increase=float(os.environ["MAX_ERROR_RATE_INCREASE"]),
    max_latency_ratio=float(os.environ["MAX_LATENCY_RATIO"]),
    step=float(os.environ["PROMOTION_STEP"]),
    window=timedelta(minutes=int(os.environ.get("WINDOW_MINUTES", "60"))),
    business_metric=tuple(_business.split("|", 1)) if _business else None,
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    endpoint = os.environ["ENDPOINT_NAME"]
    try:
        options = parse_event(event)
        dry_run = options["dry_run"] if options["dry_run"] is not None else os.environ.get("DRY_RUN") == "true"
        decision = decide(gather(_sagemaker, _cloudwatch, endpoint, RULE, datetime.now(UTC)), RULE)
        decision = apply(_sagemaker, endpoint, decision, dry_run)
    except EndpointBusy as error:  # a deployment is under way: wait for the next run, no error
        logger.info("promotion waits", extra={"reason": str(error)})
        metrics.add_dimension(name="action", value="HOLD")
        metrics.add_metric(name="PromotionDecisions", unit=MetricUnit.Count, value=1)
        return {"action": "HOLD", "reason": str(error), "applied": False}
    except PromotionError as error:
        logger.error("promotion refused", extra={"error": str(error)})
        metrics.add_metric(name="PromotionErrors", unit=MetricUnit.Count, value=1)
        return {"action": "ERROR", "reason": str(error), "applied": False}
    logger.info("promotion decision", extra={"decision": decision.record(), "dry_run": dry_run})
    metrics.add_dimension(name="action", value=decision.action)
    metrics.add_metric(name="PromotionDecisions", unit=MetricUnit.Count, value=1)
    return {"action": decision.action, "reason": decision.reason, "applied": decision.applied,
            "weights": decision.weights_after}  # fmt: skip
