"""Teardown of a profile whose data may go (dev): nothing left that blocks the next deploy.

    make destroy PROFILE=dev                # asks for the profile name, or CONFIRM=dev

``before`` runs ahead of ``cdk destroy``: it stops running pipeline executions
(their jobs hold network interfaces in the VPC's subnets) and trails, turns off server
access logging and empties every bucket of the stacks, all versions and delete
markers (CloudFormation cannot delete a non-empty bucket), and deletes the
model packages of the registry (a group with packages cannot be deleted).
``after`` runs once the stacks are gone and deletes what a stack retained
under a fixed name (a model package group kept by an earlier deploy makes the
next CreateModelPackageGroup fail with "already exists").

Profiles that retain data (prod) are refused: their data outlives the stacks.
``PLAN`` says, for every kind of resource with a fixed name or a retain policy,
how it is handled; a test holds it against the synthesized dev templates.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import Profile, get_profile
from config.profiles import KEPT_ON_TEARDOWN
from ops.assembly import Assembly, Resource
from ops.report import explain

CLIENTS = ("cloudformation", "s3", "sagemaker", "logs", "cloudtrail")

# Where each resource type keeps its physical name, when a template sets one.
PHYSICAL_NAME: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupName",),
    "AWS::SageMaker::Pipeline": ("PipelineName",),
    "AWS::SageMaker::Endpoint": ("EndpointName",),
    "AWS::SageMaker::EndpointConfig": ("EndpointConfigName",),
    "AWS::SageMaker::Model": ("ModelName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Logs::LogStream": ("LogStreamName",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::ApplicationAutoScaling::ScalingPolicy": ("PolicyName",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Glue::Table": ("TableInput", "Name"),
    "AWS::Glue::Connection": ("ConnectionInput", "Name"),
    "AWS::Glue::SecurityConfiguration": ("Name",),
    "AWS::Glue::DataQualityRuleset": ("Name",),
    "AWS::Glue::Workflow": ("Name",),
    "AWS::Glue::Trigger": ("Name",),
    "AWS::Glue::Job": ("Name",),
    "AWS::Glue::Crawler": ("Name",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::DynamoDB::GlobalTable": ("TableName",),
    "AWS::Kinesis::Stream": ("Name",),
    "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::CloudTrail::Trail": ("TrailName",),
    "AWS::SageMaker::MonitoringSchedule": ("MonitoringScheduleName",),
    "AWS::SageMaker::DataQualityJobDefinition": ("JobDefinitionName",),
    "AWS::SageMaker::ModelQualityJobDefinition": ("JobDefinitionName",),
}


@dataclass(frozen=True)
class Handling:
    how: str  # "empty", "delete-packages", "stop-executions", "delete-after", "with-parent", "stack"
    why: str


# How teardown deals with each kind of resource that has a fixed name or is retained.
PLAN: dict[str, Handling] = {
    "AWS::S3::Bucket": Handling(
        "empty", "CloudFormation cannot delete a non-empty bucket: every version and delete marker goes first"
    ),
    "AWS::SageMaker::ModelPackageGroup": Handling(
        "delete-packages",
        "fixed name: its packages go before destroy so CloudFormation can delete the group; a group an older "
        "deploy retained is deleted after, or the next CreateModelPackageGroup fails with 'already exists'",
    ),
    "AWS::SageMaker::Pipeline": Handling(
        "stop-executions", "running executions' jobs hold network interfaces in the subnets the VPC must delete"
    ),
    "AWS::CloudTrail::Trail": Handling(
        "stop-logging", "a trail keeps writing into its bucket while teardown empties it; it stops first"
    ),
    "AWS::Logs::LogGroup": Handling("delete-after", "a retained log group with a fixed name blocks its re-creation"),
    "AWS::Logs::LogStream": Handling("with-parent", "goes with its log group, which the stack deletes"),
    "AWS::Athena::WorkGroup": Handling("stack", "RecursiveDeleteOption deletes it with its saved queries"),
    **{
        cfn_type: Handling("stack", "deleted with its stack; the name is free again for the next deploy")
        for cfn_type in (
            "AWS::KMS::Alias",
            "AWS::CloudWatch::Alarm",
            "AWS::CloudWatch::Dashboard",
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "AWS::Glue::Database",  # with the tables the crawler made
            "AWS::Glue::Table",
            "AWS::Glue::Connection",
            "AWS::Glue::SecurityConfiguration",
            "AWS::Glue::DataQualityRuleset",
            "AWS::Glue::Workflow",
            "AWS::Glue::Trigger",
            "AWS::Glue::Job",
            "AWS::Glue::Crawler",
            "AWS::SageMaker::Endpoint",
            "AWS::SageMaker::EndpointConfig",
            "AWS::SageMaker::Model",
            "AWS::SageMaker::MonitoringSchedule",
            "AWS::SageMaker::DataQualityJobDefinition",
            "AWS::SageMaker::ModelQualityJobDefinition",
            "AWS::SNS::Topic",
            "AWS::SQS::Queue",
            "AWS::Events::Rule",
            "AWS::Lambda::Function",
            "AWS::IAM::Role",
            "AWS::IAM::ManagedPolicy",
            "AWS::DynamoDB::Table",
            "AWS::DynamoDB::GlobalTable",
            "AWS::Kinesis::Stream",
            "AWS::KinesisFirehose::DeliveryStream",
        )
    },
}
# Left alone on purpose: CloudFormation deregisters Lake Formation locations and revokes grants with the
# stack; the administrators it appended stay (re-appending them is a no-op, and removing an account's
# lake administrators is not a teardown's decision).
LEFT_ALONE = {
    "AWS::LakeFormation::DataLakeSettings": "appended administrators stay; the next deploy appends them again",
    "AWS::LakeFormation::Resource": "deregistered with the stack; buckets have generated names",
}


def physical_name(resource: Resource) -> str | None:
    """The literal physical name a template gives the resource, if any."""
    value: object = resource.properties
    for key in PHYSICAL_NAME.get(resource.type, ()):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and resource.type in PHYSICAL_NAME else None


def kept(resource: Resource) -> str | None:
    """Why teardown leaves ``resource`` in place, or None."""
    return resource.metadata.get(KEPT_ON_TEARDOWN)


def needs_handling(assembly: Assembly) -> list[Resource]:
    """Every resource with a fixed physical name or a retain/snapshot deletion policy."""
    return [r for r in assembly.resources() if r.retained or physical_name(r)]


class TeardownError(RuntimeError):
    """Teardown cannot go on; the message says why and what to do."""


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def stack_resources(cfn, stack: str) -> list[dict]:
    """The stack's resources, or none when the stack does not exist."""
    try:
        pages = list(cfn.get_paginator("list_stack_resources").paginate(StackName=stack))
    except ClientError as error:
        if _code(error) == "ValidationError" and "does not exist" in str(error):
            return []
        raise
    return [s for page in pages for s in page["StackResourceSummaries"]]


def empty_bucket(s3, bucket: str, log: Callable[[str], None] = print) -> int:
    """Delete every object version and delete marker; returns how many went."""
    try:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    except ClientError as error:
        if _code(error) == "NoSuchBucket":
            return 0
        raise
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if result.get("Errors"):
                first = result["Errors"][0]
                raise TeardownError(
                    f"s3://{bucket}: {len(result['Errors'])} objects not deleted, e.g. {first['Key']}: "
                    f"{first.get('Code')} {first.get('Message', '')}"
                )
            deleted += len(batch)
    log(f"emptied s3://{bucket} ({deleted} versions and delete markers)")
    return deleted


def delete_model_packages(sagemaker, group: str, log: Callable[[str], None] = print) -> int:
    """Delete every model package version in the group; returns how many went."""
    arns: list[str] = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            arns += [p["ModelPackageArn"] for p in page["ModelPackageSummaryList"]]
    except ClientError as error:
        if _code(error) in ("ValidationException", "ResourceNotFound"):
            return 0
        raise
    for arn in arns:
        sagemaker.delete_model_package(ModelPackageName=arn)
    log(f"deleted {len(arns)} model packages of {group}")
    return len(arns)


def delete_model_package_group(sagemaker, group: str, log: Callable[[str], None] = print) -> bool:
    """Delete the group (and its packages) if it still exists."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if _code(error) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    delete_model_packages(sagemaker, group, log)
    sagemaker.delete_model_package_group(ModelPackageGroupName=group)
    log(f"deleted model package group {group} (retained by an earlier deploy)")
    return True


def stop_executions(
    sagemaker,
    pipeline: str,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 1800,
) -> int:
    """Stop the pipeline's running executions and wait until they have stopped."""
    try:
        pages = list(sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=pipeline))
    except ClientError as error:
        if _code(error) in ("ValidationException", "ResourceNotFound"):
            return 0
        raise
    running = [
        e["PipelineExecutionArn"]
        for page in pages
        for e in page["PipelineExecutionSummaries"]
        if e["PipelineExecutionStatus"] == "Executing"
    ]
    for arn in running:
        sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))
        log(f"stopping {arn}")
    waited = 0.0
    pending = list(running)
    while pending:
        pending = [
            arn
            for arn in pending
            if sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
            in ("Executing", "Stopping")
        ]
        if pending:
            if waited >= timeout_s:
                raise TeardownError(f"executions still stopping after {timeout_s:.0f} s: {', '.join(pending)}")
            sleep(30)
            waited += 30
    return len(running)


def stop_trail(cloudtrail, trail: str, log: Callable[[str], None] = print) -> bool:
    """Stop a trail's delivery into its bucket (the stack deletes the trail itself)."""
    try:
        cloudtrail.stop_logging(Name=trail)
    except ClientError as error:
        if _code(error) == "TrailNotFoundException":
            return False
        raise
    log(f"stopped logging of trail {trail}")
    return True


def _refuse_retained(profile: Profile) -> None:
    if profile.retain_data:
        raise TeardownError(
            f"profile {profile.name!r} retains its data (removal_policy 'retain'): teardown refuses; "
            "`cdk destroy` leaves its buckets, keys, registry and logs in place"
        )


def before_destroy(
    clients: dict, assembly: Assembly, profile: Profile, log: Callable[[str], None] = print, **kw
) -> dict:
    """Everything that must go before ``cdk destroy`` can delete the stacks. Returns counts."""
    _refuse_retained(profile)
    names = {(r.stack, r.logical_id): physical_name(r) for r in assembly.resources()}
    keep = {(r.stack, r.logical_id): kept(r) for r in assembly.resources() if kept(r)}
    counts = {"buckets": 0, "objects": 0, "packages": 0, "executions": 0}
    for stack in assembly.stack_names:
        summaries = stack_resources(clients["cloudformation"], stack)
        # Trails first, so that they stop writing into the buckets about to be emptied.
        summaries.sort(key=lambda s: s["ResourceType"] != "AWS::CloudTrail::Trail")
        emptied = any(
            s["ResourceType"] == "AWS::S3::Bucket" and (stack, s["LogicalResourceId"]) not in keep for s in summaries
        )
        for summary in summaries:
            kind, physical = summary["ResourceType"], summary.get("PhysicalResourceId")
            if not physical or summary.get("ResourceStatus") == "DELETE_COMPLETE":
                continue
            if (stack, summary["LogicalResourceId"]) in keep:
                log(f"kept {physical}: {keep[(stack, summary['LogicalResourceId'])]}")
                continue
            name = names.get((stack, summary["LogicalResourceId"])) or physical.rsplit("/", 1)[-1]
            if kind == "AWS::CloudTrail::Trail" and not emptied:
                continue
            if kind == "AWS::S3::Bucket":
                counts["objects"] += empty_bucket(clients["s3"], physical, log)
                counts["buckets"] += 1
            elif kind == "AWS::SageMaker::ModelPackageGroup":
                counts["packages"] += delete_model_packages(clients["sagemaker"], name, log)
            elif kind == "AWS::CloudTrail::Trail":
                stop_trail(clients["cloudtrail"], physical, log)
            elif kind == "AWS::SageMaker::Pipeline":
                counts["executions"] += stop_executions(clients["sagemaker"], name, log, **kw)
    return counts


def after_destroy(clients: dict, assembly: Assembly, profile: Profile, log: Callable[[str], None] = print) -> list[str]:
    """Delete what the stacks retained under a fixed name. Returns what was deleted."""
    _refuse_retained(profile)
    deleted = []
    for resource in needs_handling(assembly):
        name = physical_name(resource)
        if resource.type == "AWS::SageMaker::ModelPackageGroup" and name:
            if delete_model_package_group(clients["sagemaker"], name, log):
                deleted.append(name)
        elif resource.type == "AWS::Logs::LogGroup" and name and resource.retained:
            try:
                clients["logs"].delete_log_group(logGroupName=name)
            except ClientError as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
                continue
            log(f"deleted log group {name}")
            deleted.append(name)
    return deleted


def _confirmed(profile: Profile, confirm: str | None, stdin: Iterable[str] | None = None) -> bool:
    if confirm:
        return confirm == profile.name
    if not sys.stdin.isatty() and stdin is None:
        return False
    print(f"This empties every bucket of the {profile.name} stacks and deletes their model packages.")
    print(f"Type the profile name ({profile.name}) to go on: ", end="", flush=True)
    answer = next(iter(stdin), "") if stdin is not None else sys.stdin.readline()
    return answer.strip() == profile.name


def main(argv: list[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("before", "after"))
    parser.add_argument("--profile", default="dev")
    parser.add_argument("--assembly", default="cdk.out")
    parser.add_argument("--confirm", default="", help="the profile's name: confirms without a prompt")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if profile.retain_data:
        print(f"teardown: refused: {profile.name} retains its data (removal_policy 'retain')", file=sys.stderr)
        return 2
    if not _confirmed(profile, args.confirm):
        print(f"teardown: not confirmed: pass CONFIRM={profile.name} (or type it at the prompt)", file=sys.stderr)
        return 2
    try:
        assembly = Assembly(args.assembly, profile.name)
        session = session or boto3.Session(region_name=profile.region)
        if session.get_credentials() is None:
            raise TeardownError("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        clients = {name: session.client(name, region_name=profile.region) for name in CLIENTS}
        if args.phase == "before":
            counts = before_destroy(clients, assembly, profile)
            print(
                f"teardown: {counts['buckets']} buckets emptied ({counts['objects']} versions), "
                f"{counts['packages']} model packages deleted, {counts['executions']} executions stopped"
            )
        else:
            deleted = after_destroy(clients, assembly, profile)
            print(f"teardown: {len(deleted)} retained resources deleted")
    except (TeardownError, FileNotFoundError, ValueError) as error:
        print(f"teardown: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"teardown: {explain(error, getattr(error, 'operation_name', 'an AWS call'))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
