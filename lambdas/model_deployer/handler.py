"""Lambda entry point of the approval deployer: thin; the steps live in ``logic.py``."""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logic import (
    BaselineCopyFailed,
    DeployError,
    StackBusy,
    approved_package,
    baseline_prefix,
    check_package,
    copy_baselines,
    deploy_package,
)

logger = Logger()
metrics = Metrics()
_sagemaker = boto3.client("sagemaker")
_cloudformation = boto3.client("cloudformation")
_s3 = boto3.client("s3")


def publish_baselines(package_arn: str, package: dict) -> None:
    """Make the package's baselines the ones the monitoring job reads; a package without any still deploys."""
    bucket, destination = os.environ["ARTIFACT_BUCKET"], os.environ["BASELINE_PREFIX"]
    source = baseline_prefix(package, bucket)
    copied = copy_baselines(_s3, bucket=bucket, source=source, destination=destination) if source else []
    if not copied:
        logger.warning(
            "the package names no baselines in the artifact bucket; monitoring keeps its current ones",
            extra={"package": package_arn, "source": source},
        )
        metrics.add_metric(name="BaselinesMissing", unit=MetricUnit.Count, value=1)
        return
    logger.info("baselines copied", extra={"package": package_arn, "source": source, "objects": copied})
    metrics.add_metric(name="BaselinesCopied", unit=MetricUnit.Count, value=len(copied))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    group = os.environ["MODEL_PACKAGE_GROUP"]
    try:
        package = approved_package(event, group)
        described = check_package(_sagemaker, package, group)
        change = deploy_package(
            _cloudformation,
            stack=os.environ["STACK_NAME"],
            parameter=os.environ["PACKAGE_PARAMETER"],
            package_arn=package,
            role_arn=os.environ["DEPLOY_ROLE_ARN"],
        )
        # After the update is requested (or found done): a refused update leaves no baselines behind.
        publish_baselines(package, described)
    except DeployError as error:
        logger.warning("nothing deployed", extra={"reason": str(error)})
        metrics.add_metric(name="DeploymentsSkipped", unit=MetricUnit.Count, value=1)
        return {"deployed": False, "reason": str(error)}
    except BaselineCopyFailed as error:
        # The retried event finds the stack already deployed and copies the whole set again.
        logger.error("baselines not copied; the event will be retried", extra={"reason": str(error)})
        metrics.add_metric(name="BaselineCopyFailures", unit=MetricUnit.Count, value=1)
        raise
    except StackBusy as error:
        # Raised on purpose: Lambda retries the asynchronous event, then hands it to the on-failure destination.
        logger.warning("stack busy; the event will be retried", extra={"reason": str(error)})
        metrics.add_metric(name="DeploymentsDeferred", unit=MetricUnit.Count, value=1)
        raise
    if change["started"]:
        logger.info("stack update started", extra=change)
        metrics.add_metric(name="DeploymentsStarted", unit=MetricUnit.Count, value=1)
    else:
        logger.info("nothing to do", extra=change)
        metrics.add_metric(name="DeploymentsAlreadyDone", unit=MetricUnit.Count, value=1)
    return {"deployed": change["started"], **change}
