"""Record the AWS calls real code makes, and say what IAM each call needs.

``recording()`` installs botocore event hooks on boto3's default session, so every
client the code creates (even at import time) reports ``(service, operation, params)``;
a scenario may answer operations with canned responses (anything unanswered goes on,
to moto or to the network stub of the test). ``needs()`` maps a call to the IAM
requests AWS evaluates for it: action, resource ARN and the condition keys the
request carries (``s3:prefix`` only on ListBucket, ``iam:PassedToService`` on a
PassRole, ``cloudwatch:namespace`` on PutMetricData...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import boto3
from botocore.awsrequest import AWSResponse

from posture.contracts.iam import Request
from posture.contracts.model import STACK_ID_SUFFIX


@dataclass(frozen=True)
class Call:
    service: str  # botocore service name: dynamodb, sagemaker, cloudwatch, s3...
    endpoint_prefix: str  # the VPC endpoint service: dynamodb, api.sagemaker, monitoring...
    operation: str
    params: Mapping


@dataclass
class Recorder:
    responses: dict[str, object] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def _record(self, params, model, **_) -> None:
        self.calls.append(
            Call(model.service_model.service_name, model.service_model.endpoint_prefix, model.name, dict(params))
        )

    def _answer(self, model, **_):
        answer = self.responses.get(f"{model.service_model.service_name}.{model.name}")
        if answer is None:
            return None
        body = answer(self.calls[-1].params) if callable(answer) else answer
        return AWSResponse("https://stub.invalid", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}, **body}

    def operations(self) -> list[str]:
        return [f"{c.service}.{c.operation}" for c in self.calls]


@contextlib.contextmanager
def recording(responses: Mapping[str, object] | None = None) -> Iterator[Recorder]:
    """A fresh boto3 default session whose clients report every call (create clients inside)."""
    recorder = Recorder(dict(responses or {}))
    previous = boto3.DEFAULT_SESSION
    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION._session.get_component("event_emitter")
    events.register("provide-client-params", recorder._record, unique_id="contracts-record")
    events.register("before-call", recorder._answer, unique_id="contracts-answer")
    try:
        yield recorder
    finally:
        boto3.DEFAULT_SESSION = previous


# ---- what each call needs ---------------------------------------------------------------------
@dataclass(frozen=True)
class Env:
    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )

    def base_context(self) -> dict[str, str]:
        return {"aws:SecureTransport": "true", "aws:RequestedRegion": self.region, "aws:PrincipalAccount": self.account}


def _name(value: str, kind: str) -> str:
    """A name from a name-or-ARN parameter."""
    return value.rsplit(f":{kind}/", 1)[-1] if value.startswith("arn:") else value


Rule = Callable[[Mapping, Env], list[tuple[str, str, dict]]]


def _table(action: str) -> Rule:
    return lambda p, e: [(action, e.arn("dynamodb", f"table/{p['TableName']}"), {})]


def _sm(action: str, kind: str, param: str, lower: bool = True) -> Rule:
    def rule(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
        name = _name(p[param], kind)
        return [(action, e.arn("sagemaker", f"{kind}/{name.lower() if lower else name}"), {})]

    return rule


def _model_package(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    arn = p["ModelPackageName"]
    return [
        (
            "sagemaker:DescribeModelPackage",
            arn if arn.startswith("arn:") else e.arn("sagemaker", f"model-package/{arn}"),
            {},
        )
    ]


def _create_model(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    needs: list[tuple[str, str, dict]] = [
        ("sagemaker:CreateModel", e.arn("sagemaker", f"model/{p['ModelName'].lower()}"), {})
    ]
    needs.append(("iam:PassRole", p["ExecutionRoleArn"], {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    for container in [p.get("PrimaryContainer"), *(p.get("Containers") or [])]:
        if container and container.get("ModelPackageName"):
            needs.append(("sagemaker:DescribeModelPackage", container["ModelPackageName"], {}))
    return needs


def _create_processing_job(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    needs: list[tuple[str, str, dict]] = [
        ("sagemaker:CreateProcessingJob", e.arn("sagemaker", f"processing-job/{p['ProcessingJobName'].lower()}"), {})
    ]
    needs.append(("iam:PassRole", p["RoleArn"], {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    if p.get("Tags"):
        needs.append(("sagemaker:AddTags", needs[0][1], {}))
    return needs


def _create_endpoint_config(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    needs: list[tuple[str, str, dict]] = [
        ("sagemaker:CreateEndpointConfig", e.arn("sagemaker", f"endpoint-config/{p['EndpointConfigName'].lower()}"), {})
    ]
    if p.get("KmsKeyId"):  # SageMaker creates grants on the key with the caller's credentials
        needs += [
            (a, p["KmsKeyId"], {"kms:GrantIsForAWSResource": "true"}) for a in ("kms:CreateGrant", "kms:DescribeKey")
        ]
    return needs


def _update_endpoint(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    needs: list[tuple[str, str, dict]] = [
        ("sagemaker:UpdateEndpoint", e.arn("sagemaker", f"endpoint/{p['EndpointName'].lower()}"), {}),
        ("sagemaker:UpdateEndpoint", e.arn("sagemaker", f"endpoint-config/{p['EndpointConfigName'].lower()}"), {}),
    ]
    alarms = ((p.get("DeploymentConfig") or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    needs += [("cloudwatch:DescribeAlarms", e.arn("cloudwatch", f"alarm:{a['AlarmName']}"), {}) for a in alarms]
    return needs


def _stack(action: str) -> Rule:
    def rule(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
        name = p.get("StackName", "*")
        arn = name if name.startswith("arn:") else e.arn("cloudformation", f"stack/{name}/{STACK_ID_SUFFIX}")
        # CloudFormation puts the service role the request names in cloudformation:RoleArn.
        needs = [(action, arn, {"cloudformation:RoleArn": p["RoleARN"]} if p.get("RoleARN") else {})]
        if p.get("RoleARN"):
            needs.append(("iam:PassRole", p["RoleARN"], {"iam:PassedToService": "cloudformation.amazonaws.com"}))
        return needs

    return rule


def _s3_object(action: str) -> Rule:
    return lambda p, e: [(action, f"arn:{e.partition}:s3:::{p['Bucket']}/{p['Key']}", {})]


def copy_source(params: Mapping) -> tuple[str, str]:
    """(bucket, key) of a CopyObject's ``CopySource`` (a dict, or ``bucket/key[?versionId=...]``)."""
    source = params["CopySource"]
    if isinstance(source, str):
        bucket, _, key = source.lstrip("/").partition("/")
        return bucket, key.split("?versionId=")[0]
    return source["Bucket"], source["Key"]


def _s3_copy(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    """CopyObject reads the source and writes the destination, both as the caller."""
    bucket, key = copy_source(p)
    return [
        ("s3:GetObject", f"arn:{e.partition}:s3:::{bucket}/{key}", {}),
        ("s3:PutObject", f"arn:{e.partition}:s3:::{p['Bucket']}/{p['Key']}", {}),
    ]


def _s3_list(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    context = {"s3:prefix": p["Prefix"]} if "Prefix" in p else {}
    return [("s3:ListBucket", f"arn:{e.partition}:s3:::{p['Bucket']}", context)]


def _put_metric(p: Mapping, e: Env) -> list[tuple[str, str, dict]]:
    return [("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": p["Namespace"]})]


OPERATIONS: dict[str, Rule] = {
    "dynamodb.GetItem": _table("dynamodb:GetItem"),
    "dynamodb.PutItem": _table("dynamodb:PutItem"),
    "dynamodb.UpdateItem": _table("dynamodb:UpdateItem"),
    "dynamodb.DeleteItem": _table("dynamodb:DeleteItem"),
    "dynamodb.Query": _table("dynamodb:Query"),
    "sagemaker.ListPipelineExecutions": _sm("sagemaker:ListPipelineExecutions", "pipeline", "PipelineName"),
    "sagemaker.StartPipelineExecution": _sm("sagemaker:StartPipelineExecution", "pipeline", "PipelineName"),
    "sagemaker.DescribeEndpoint": _sm("sagemaker:DescribeEndpoint", "endpoint", "EndpointName"),
    "sagemaker.DescribeEndpointConfig": _sm(
        "sagemaker:DescribeEndpointConfig", "endpoint-config", "EndpointConfigName"
    ),
    "sagemaker.DescribeModel": _sm("sagemaker:DescribeModel", "model", "ModelName"),
    "sagemaker.UpdateEndpointWeightsAndCapacities": _sm(
        "sagemaker:UpdateEndpointWeightsAndCapacities", "endpoint", "EndpointName"
    ),
    "sagemaker.DescribeModelPackage": _model_package,
    "sagemaker.CreateModel": _create_model,
    "sagemaker.CreateEndpointConfig": _create_endpoint_config,
    "sagemaker.CreateProcessingJob": _create_processing_job,
    "sagemaker.UpdateEndpoint": _update_endpoint,
    "cloudformation.DescribeStacks": _stack("cloudformation:DescribeStacks"),
    "cloudformation.UpdateStack": _stack("cloudformation:UpdateStack"),
    "cloudwatch.GetMetricStatistics": lambda p, e: [("cloudwatch:GetMetricStatistics", "*", {})],
    "cloudwatch.GetMetricData": lambda p, e: [("cloudwatch:GetMetricData", "*", {})],
    "cloudwatch.DescribeAlarms": lambda p, e: [
        ("cloudwatch:DescribeAlarms", e.arn("cloudwatch", f"alarm:{n}"), {}) for n in p.get("AlarmNames") or ["*"]
    ],
    "cloudwatch.PutMetricData": _put_metric,
    "s3.GetObject": _s3_object("s3:GetObject"),
    "s3.PutObject": _s3_object("s3:PutObject"),
    "s3.HeadObject": _s3_object("s3:GetObject"),
    "s3.CopyObject": _s3_copy,
    "s3.ListObjectsV2": _s3_list,
    "sns.Publish": lambda p, e: [("sns:Publish", p.get("TopicArn") or p["TargetArn"], {})],
}


class UnknownOperation(KeyError):
    """A call the table does not map yet: add a row rather than skip the call."""


def needs(call: Call, env: Env) -> list[Request]:
    key = f"{call.service}.{call.operation}"
    if key not in OPERATIONS:
        raise UnknownOperation(f"{key}: add it to posture.contracts.calls.OPERATIONS")
    return [Request(a, r, {**env.base_context(), **c}) for a, r, c in OPERATIONS[key](call.params, env)]
