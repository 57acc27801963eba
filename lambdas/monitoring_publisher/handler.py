"""Lambda entry point of the monitoring publisher: thin; the logic lives in ``logic.py``."""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import BadEvent, job_failure_metrics, publish, read_report, report_location, report_metrics

logger = Logger()
_s3 = boto3.client("s3")
_cloudwatch = boto3.client("cloudwatch")
ENDPOINT = os.environ["ENDPOINT_NAME"]
# Set for the Model Monitor engine: where its baselines must be ("s3://bucket/prefix").
BASELINES = os.environ.get("BASELINES_URI")


def _baseline_published() -> bool:
    bucket, _, prefix = BASELINES.removeprefix("s3://").partition("/")
    return _s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0) > 0


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        if event.get("source") == "aws.sagemaker":
            data = job_failure_metrics(event, ENDPOINT, _baseline_published if BASELINES else None)
        else:
            bucket, key = report_location(event)
            data = report_metrics(read_report(_s3, bucket, key))
    except BadEvent as error:
        logger.warning("event skipped", extra={"reason": str(error), "event_id": event.get("id")})
        return {"published": 0, "skipped": str(error)}
    count = publish(_cloudwatch, data)
    logger.info("metrics published", extra={"count": count, "event_id": event.get("id")})
    return {"published": count}
