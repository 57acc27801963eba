"""Lambda entry point of the drift job's starter: thin; the logic lives in ``logic.py``."""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import BadEvent, has_objects, request_of, start, with_data

logger = Logger()
_s3 = boto3.client("s3")
_sagemaker = boto3.client("sagemaker")


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        request, dropped = with_data(request_of(event), has_objects(_s3))
    except BadEvent as error:
        logger.warning("event skipped", extra={"reason": str(error)})
        return {"skipped": str(error)}
    outcome = start(_sagemaker, request)
    job = request["ProcessingJobName"]
    logger.info("drift job", extra={"job": job, "outcome": outcome, "inputs_without_data": dropped})
    return {"job": job, "outcome": outcome, "inputs_without_data": dropped}
