"""Approval -> endpoint: make a newly approved model package a variant's model, through CloudFormation.

CloudFormation owns the endpoint. On "SageMaker Model Package State Change" with
``ModelApprovalStatus: Approved`` for the platform's group (source
``aws.sagemaker``), the deployer checks with ``DescribeModelPackage`` that the
package is in that group and Approved, then updates the serving stack with its
previous template, every parameter at its previous value except the package
parameter the stack names (``PACKAGE_PARAMETER``: the challenger's, or the
champion's on an endpoint without a challenger), under the stack's narrow
deployment role. CloudFormation replaces that variant's model and the endpoint
config and updates the endpoint under the blue/green guardrails; a rolled-back
endpoint update rolls the stack (and the parameter) back and removes what it
created, so nothing is left behind.

Then the baselines the package names (its pipeline execution's
``baselines/`` prefix in the artifact bucket) are copied to the prefix the
monitoring job reads, relative paths kept: listed in full first, then copied
object by object (the bucket's default key encrypts the copies). A failure is
``BaselineCopyFailed``, retried as a whole: the retried event finds the stack
"already deployed" and copies again (copies overwrite, so a retry is safe).

Idempotent: the parameter already naming the package is "already deployed"; a
stack busy with another operation, throttling or no answer from AWS is
``StackBusy`` (retried, then the on-failure destination keeps the event). A bad
event or package, or an update CloudFormation refuses, is a ``DeployError``:
nothing was changed. The baselines are copied once the update is requested (or
already done), so a refused update leaves no baselines of a model that never
served.
"""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
_PACKAGE_ARN = re.compile(r"^arn:aws[\w-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([\w-]+)/(\d+)$")
# The serving template holds IAM resources; CloudFormation refuses an update without this.
CAPABILITIES = ["CAPABILITY_IAM"]
# Stack states from which CloudFormation accepts an update.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE"}  # fmt: skip


class DeployError(ValueError):
    """The event or the package is not deployable: nothing was changed, and retrying will not help."""


class StackBusy(RuntimeError):
    """The stack is being updated (or throttled): retry later."""


class BaselineCopyFailed(RuntimeError):
    """Listing or copying the package's baselines failed: retry (the whole set is copied again)."""


def approved_package(event: object, group: str) -> str:
    """The approved package ARN of ``group`` in the event, or a DeployError saying why not."""
    if not isinstance(event, dict) or event.get("source") != SOURCE:
        raise DeployError(f"not an event from {SOURCE}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise DeployError(f"not a {DETAIL_TYPE} event")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise DeployError("event has no detail")
    if detail.get("ModelPackageGroupName") != group:
        raise DeployError(f"package group {detail.get('ModelPackageGroupName')!r} is not {group!r}")
    if detail.get("ModelApprovalStatus") != "Approved":
        raise DeployError(f"package is {detail.get('ModelApprovalStatus')!r}, not Approved")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not _PACKAGE_ARN.match(arn):
        raise DeployError(f"ModelPackageArn {arn!r} is not a model package ARN")
    return arn


def check_package(sagemaker, package_arn: str, group: str) -> dict:
    """The package as SageMaker describes it; DeployError unless it is in ``group`` and Approved (events
    can be stale)."""
    try:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        code, message = error.response["Error"].get("Code"), error.response["Error"].get("Message")
        if code in ("ValidationException", "ResourceNotFound"):
            raise DeployError(f"{package_arn} does not exist: {message}") from error
        _raise_busy_if_transient(error)
        raise DeployError(f"describing {package_arn} failed ({code}: {message}); nothing deployed") from error
    except BotoCoreError as error:  # no answer: try again later
        raise StackBusy(f"describing {package_arn} failed: {error}") from error
    if package.get("ModelPackageArn", package_arn) != package_arn:
        raise DeployError(f"SageMaker describes {package.get('ModelPackageArn')!r}, not {package_arn}")
    if package.get("ModelPackageGroupName") != group:
        raise DeployError(f"{package_arn} is in group {package.get('ModelPackageGroupName')!r}, not {group!r}")
    if package.get("ModelApprovalStatus") != "Approved":
        raise DeployError(f"{package_arn} is {package.get('ModelApprovalStatus')}, not Approved")
    return package


def _s3_uris(node: object) -> list[str]:
    if isinstance(node, dict):
        return [uri for key, value in node.items() for uri in ([value] if key == "S3Uri" else _s3_uris(value))]
    if isinstance(node, list):
        return [uri for item in node for uri in _s3_uris(item)]
    return []


def baseline_prefix(package: dict, bucket: str) -> str | None:
    """The one ``pipelines/.../baselines/`` key prefix in ``bucket`` that the package's drift-check
    baselines and model metrics point into, or None (no baselines, another bucket, or several)."""
    pattern = re.compile(rf"^s3://{re.escape(bucket)}/(pipelines/.+/baselines/)[^/].*$")
    uris = _s3_uris([package.get("DriftCheckBaselines"), package.get("ModelMetrics")])
    prefixes = {match.group(1) for uri in uris if isinstance(uri, str) and (match := pattern.match(uri))}
    return prefixes.pop() if len(prefixes) == 1 else None


def copy_baselines(s3, *, bucket: str, source: str, destination: str) -> list[str]:
    """Copy every object under ``source`` to ``destination`` (same bucket, relative keys kept); the keys written.

    Nothing is copied unless the listing succeeded in full.
    """
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=source)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    except (ClientError, BotoCoreError) as error:
        raise BaselineCopyFailed(f"listing s3://{bucket}/{source} failed, nothing copied: {error}") from error
    written = []
    for key in keys:
        relative = key.removeprefix(source)
        if not relative or relative.endswith("/"):  # a folder marker, not a baseline
            continue
        try:
            s3.copy_object(Bucket=bucket, Key=destination + relative, CopySource={"Bucket": bucket, "Key": key})
        except (ClientError, BotoCoreError) as error:
            raise BaselineCopyFailed(
                f"copying s3://{bucket}/{key} failed after {len(written)} of {len(keys)} objects: {error}"
            ) from error
        written.append(destination + relative)
    return written


def client_token(package_arn: str, stack: dict) -> str:
    """One UpdateStack request per package and stack state: CloudFormation refuses a repeated token.

    Duplicate events of one approval share it; after the stack changed (a rolled-back attempt
    included) the same package may be requested again.
    """
    group, version = _PACKAGE_ARN.match(package_arn).groups()
    changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
    return f"approve-{group}-{version}-{int(changed.timestamp())}"[:128]


def deploy_package(cloudformation, *, stack: str, parameter: str, package_arn: str, role_arn: str) -> dict:
    """Set the stack's ``parameter`` to ``package_arn`` with a stack update; returns what happened.

    CloudFormation refusing the update (a bad parameter, a missing stack...) is a DeployError: a refused
    update creates nothing. A busy or throttled stack is StackBusy (retry later).
    """
    try:
        (current,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        _raise_busy_if_transient(error)
        raise DeployError(f"reading stack {stack} failed: {_message(error)}; nothing deployed") from error
    except BotoCoreError as error:
        raise StackBusy(f"reading stack {stack} failed: {error}") from error
    values = {p["ParameterKey"]: p.get("ParameterValue") for p in current.get("Parameters", [])}
    result = {"stack": stack, "parameter": parameter, "package": package_arn, "previous": values.get(parameter)}
    if parameter not in values:
        raise DeployError(f"stack {stack} has no parameter {parameter}")
    if values[parameter] == package_arn:
        return {**result, "started": False, "reason": "already deployed"}
    status = current["StackStatus"]
    if status not in UPDATABLE:
        # IN_PROGRESS settles on its own; a failed state needs an operator, and the event must not be lost.
        raise StackBusy(f"stack {stack} is {status}; {parameter} not changed")
    parameters = [
        {"ParameterKey": key, "ParameterValue": package_arn} if key == parameter
        else {"ParameterKey": key, "UsePreviousValue": True}
        for key in values
    ]  # fmt: skip
    try:
        response = cloudformation.update_stack(
            StackName=stack,
            UsePreviousTemplate=True,
            Parameters=parameters,
            Capabilities=CAPABILITIES,
            RoleARN=role_arn,
            ClientRequestToken=client_token(package_arn, current),
        )
    except ClientError as error:
        code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
        if code == "TokenAlreadyExistsException" or "No updates are to be performed" in message:
            return {**result, "started": False, "reason": "already requested"}
        _raise_busy_if_transient(error)
        raise DeployError(
            f"CloudFormation refused the update of {stack}: {_message(error)}; nothing changed"
        ) from error
    except BotoCoreError as error:  # the request may or may not have arrived: the token makes a retry safe
        raise StackBusy(f"updating stack {stack} failed: {error}") from error
    return {**result, "started": True, "stack_id": response.get("StackId")}


def _message(error: ClientError) -> str:
    return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"[:500]


def _raise_busy_if_transient(error: ClientError) -> None:
    code, message = error.response["Error"].get("Code", ""), error.response["Error"].get("Message", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded") or "_IN_PROGRESS state" in message:
        raise StackBusy(f"{code}: {message}") from error
    if status >= 500:
        raise StackBusy(f"{code} (HTTP {status}): {message}") from error
