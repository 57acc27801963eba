"""Lambda entry point of the approval deployer: thin; the steps live in ``logic.py``."""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import DeployError, Guardrails, approved_package, deploy_challenger

logger = Logger()
metrics = Metrics()
_sagemaker = boto3.client("sagemaker")
GUARDRAILS = Guardrails(
    canary_percent=int(os.environ["CANARY_PERCENT"]),
    wait_seconds=int(os.environ["CANARY_WAIT_SECONDS"]),
    rollback_alarms=tuple(os.environ["ROLLBACK_ALARMS"].split(",")),
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        package = approved_package(event, os.environ["MODEL_PACKAGE_GROUP"])
        suffix = package.rsplit("/", 1)[-1] + "-" + context.aws_request_id[:8]
        change = deploy_challenger(
            _sagemaker, endpoint=os.environ["ENDPOINT_NAME"], package_arn=package, guardrails=GUARDRAILS, suffix=suffix
        )
    except DeployError as error:
        logger.warning("nothing deployed", extra={"reason": str(error)})
        metrics.add_metric(name="DeploymentsSkipped", unit=MetricUnit.Count, value=1)
        return {"deployed": False, "reason": str(error)}
    logger.info("challenger deployment started", extra=change)
    metrics.add_metric(name="DeploymentsStarted", unit=MetricUnit.Count, value=1)
    return {"deployed": True, **change}
