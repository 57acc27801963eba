"""Lambda entry point of the retraining guard: thin; the logic lives in ``logic.py``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import GuardConfig, StartFailed, decide, parameters_from_env

logger = Logger()
metrics = Metrics()
_sagemaker = boto3.client("sagemaker")
_table = boto3.resource("dynamodb").Table(os.environ["DECISIONS_TABLE"])
_config = GuardConfig(
    pipeline_name=os.environ["PIPELINE_NAME"],
    table_name=os.environ["DECISIONS_TABLE"],
    cooldown=timedelta(minutes=int(os.environ["COOLDOWN_MINUTES"])),
    parameters=parameters_from_env(os.environ.get("PIPELINE_PARAMETERS")),
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        decision = decide(event, sagemaker=_sagemaker, table=_table, config=_config, now=datetime.now(UTC))
    except StartFailed as error:  # recorded; raised so Lambda retries, then the on-failure destination keeps it
        logger.error("pipeline start failed", extra={"reason": str(error)})
        metrics.add_metric(name="RetrainingStartFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "retraining decision",
        extra={"started": decision.started, "trigger": decision.trigger, "reason": decision.reason,
               "execution_arn": decision.execution_arn},
    )  # fmt: skip
    metrics.add_dimension(name="trigger", value=decision.trigger)
    metrics.add_metric(
        name="RetrainingStarted" if decision.started else "RetrainingRefused", unit=MetricUnit.Count, value=1
    )
    return {"started": decision.started, "trigger": decision.trigger, "reason": decision.reason,
            "execution_arn": decision.execution_arn}  # fmt: skip
