"""Start the scheduled drift job with only the inputs that hold data.

SageMaker does not start a processing job on an S3Prefix input under which no object
exists ("No S3 objects found under S3 URL"): on a new deployment the baselines
(copied at the first model approval), the ground truth (days behind) and the data
capture (the endpoint's first traffic) are all missing, and a job asked to read
them would fail every day. Each data input is listed (one key is enough) and an
empty one is left out; the job reports what it could not judge ("no-baseline",
"no-data", "no-ground-truth"). The code input is always kept: without it there is
no job.
"""

from __future__ import annotations

from collections.abc import Callable

CODE_INPUT = "code"


class BadEvent(ValueError):
    """The event carries no processing-job request; it is logged and dropped."""


def request_of(event: dict) -> dict:
    request = event.get("request") if isinstance(event, dict) else None
    if not isinstance(request, dict) or not request.get("ProcessingJobName"):
        raise BadEvent("event has no CreateProcessingJob request")
    inputs = request.get("ProcessingInputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "S3Input" in i for i in inputs):
        raise BadEvent("request has no S3 processing inputs")
    return request


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BadEvent(f"not an S3 URI: {uri}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix


def has_objects(s3) -> Callable[[str], bool]:
    """Whether any object exists under an ``s3://bucket/prefix`` (ListObjectsV2, one key)."""

    def check(uri: str) -> bool:
        bucket, prefix = split_uri(uri)
        return s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0) > 0

    return check


def with_data(request: dict, exists: Callable[[str], bool]) -> tuple[dict, list[str]]:
    """The request without its empty data inputs, and the names of those left out."""
    kept, dropped = [], []
    for item in request["ProcessingInputs"]:
        if item.get("InputName") == CODE_INPUT or exists(item["S3Input"]["S3Uri"]):
            kept.append(item)
        else:
            dropped.append(item.get("InputName", "?"))
    return {**request, "ProcessingInputs": kept}, dropped


def start(sagemaker, request: dict) -> str:
    """CreateProcessingJob; a job of that name already running (a retried invocation) is not an error."""
    try:
        sagemaker.create_processing_job(**request)
    except sagemaker.exceptions.ResourceInUse:
        return "already-started"
    return "started"
