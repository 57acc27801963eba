"""A model of a synthesized cloud assembly that resolves CloudFormation intrinsics.

Every template of an assembly is read once. Values resolve the way CloudFormation
would resolve them in one account and region: ``Ref``/``Fn::GetAtt`` of the
resource types the platform uses become their names and ARNs, pseudo parameters
become the model's account/region/partition, ``Fn::GetStackOutput`` (CDK's weak
cross-stack reference) follows the producing stack's output. What cannot be known
before deployment (a generated physical name, a key id) becomes a stable opaque
placeholder: the same resource always resolves to the same string, and the string
holds no ``*`` or ``?``, so a policy naming it matches only that resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ACCOUNT = "123456789012"
# The unique part of a stack id, unknown before deployment: one opaque value for every stack.
STACK_ID_SUFFIX = "00000000-0000-0000-0000-stackid00000"
PARTITION = "aws"


@dataclass(frozen=True)
class Kind:
    """How a resource type answers Ref and GetAtt: ``name_prop`` holds its physical name if set."""

    name_prop: str | None
    ref: str  # "name", "arn" or a format string over {name} {arn} {region} {account} {partition}
    arn: str | None  # format string of the ARN
    attrs: dict[str, str] = field(default_factory=dict)


_R = "arn:{partition}:{service}:{region}:{account}:"
KINDS: dict[str, Kind] = {
    "AWS::DynamoDB::Table": Kind("TableName", "name", "arn:{partition}:dynamodb:{region}:{account}:table/{name}"),
    "AWS::DynamoDB::GlobalTable": Kind("TableName", "name", "arn:{partition}:dynamodb:{region}:{account}:table/{name}"),
    "AWS::S3::Bucket": Kind("BucketName", "name", "arn:{partition}:s3:::{name}"),
    "AWS::KMS::Key": Kind(None, "name", "arn:{partition}:kms:{region}:{account}:key/{name}", {"KeyId": "{name}"}),
    "AWS::KMS::Alias": Kind("AliasName", "name", "arn:{partition}:kms:{region}:{account}:{name}"),
    "AWS::SNS::Topic": Kind(
        "TopicName",
        "arn",
        "arn:{partition}:sns:{region}:{account}:{name}",
        {"TopicArn": "{arn}", "TopicName": "{name}"},
    ),
    "AWS::SQS::Queue": Kind(
        "QueueName",
        "https://sqs.{region}.amazonaws.com/{account}/{name}",
        "arn:{partition}:sqs:{region}:{account}:{name}",
        {"QueueName": "{name}", "QueueUrl": "https://sqs.{region}.amazonaws.com/{account}/{name}"},
    ),
    "AWS::Lambda::Function": Kind("FunctionName", "name", "arn:{partition}:lambda:{region}:{account}:function:{name}"),
    "AWS::IAM::Role": Kind("RoleName", "name", "arn:{partition}:iam::{account}:role/{name}", {"RoleId": "{name}-id"}),
    "AWS::IAM::ManagedPolicy": Kind("ManagedPolicyName", "arn", "arn:{partition}:iam::{account}:policy/{name}"),
    "AWS::Logs::LogGroup": Kind("LogGroupName", "name", "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"),
    "AWS::CloudWatch::Alarm": Kind("AlarmName", "name", "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"),
    "AWS::Kinesis::Stream": Kind("Name", "name", "arn:{partition}:kinesis:{region}:{account}:stream/{name}"),
    "AWS::KinesisFirehose::DeliveryStream": Kind(
        "DeliveryStreamName", "name", "arn:{partition}:firehose:{region}:{account}:deliverystream/{name}"
    ),
    "AWS::Events::Rule": Kind("Name", "name", "arn:{partition}:events:{region}:{account}:rule/{name}"),
    "AWS::SageMaker::Endpoint": Kind(
        "EndpointName",
        "arn",
        "arn:{partition}:sagemaker:{region}:{account}:endpoint/{lname}",
        {"EndpointName": "{name}"},
    ),
    "AWS::SageMaker::EndpointConfig": Kind(
        "EndpointConfigName",
        "arn",
        "arn:{partition}:sagemaker:{region}:{account}:endpoint-config/{lname}",
        {"EndpointConfigName": "{name}"},
    ),
    "AWS::SageMaker::Model": Kind(
        "ModelName", "arn", "arn:{partition}:sagemaker:{region}:{account}:model/{lname}", {"ModelName": "{name}"}
    ),
    "AWS::SageMaker::Pipeline": Kind(
        "PipelineName", "name", "arn:{partition}:sagemaker:{region}:{account}:pipeline/{lname}"
    ),
    "AWS::SageMaker::ModelPackageGroup": Kind(
        "ModelPackageGroupName",
        "arn",
        "arn:{partition}:sagemaker:{region}:{account}:model-package-group/{lname}",
        {"ModelPackageGroupArn": "{arn}"},
    ),
    "AWS::EC2::SecurityGroup": Kind(None, "name", None, {"GroupId": "{name}"}),
    "AWS::Glue::Job": Kind("Name", "name", "arn:{partition}:glue:{region}:{account}:job/{name}"),
    "AWS::Glue::Crawler": Kind("Name", "name", "arn:{partition}:glue:{region}:{account}:crawler/{name}"),
    "AWS::Glue::Database": Kind(None, "name", "arn:{partition}:glue:{region}:{account}:database/{name}"),
    "AWS::Glue::Workflow": Kind("Name", "name", "arn:{partition}:glue:{region}:{account}:workflow/{name}"),
}


class Unresolvable(ValueError):
    """An intrinsic the model cannot evaluate (say which, so the model can learn it)."""


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict
    raw: dict

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)


class Assembly:
    """Every stack template of one synthesized profile, with an intrinsic resolver.

    :param outdir: the cloud assembly directory (holds ``manifest.json``).
    :param account: the account id pseudo parameters and ARNs resolve to.
    """

    def __init__(self, outdir: Path, *, account: str = ACCOUNT) -> None:
        self.outdir = Path(outdir)
        self.account = account
        self._props: dict[tuple[str, str], dict] = {}
        self._memo: dict[object, object] = {}
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        self.templates: dict[str, dict] = {}
        self.regions: dict[str, str] = {}
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            props = artifact.get("properties", {})
            name = props.get("stackName", artifact_id)
            self.templates[name] = json.loads((self.outdir / props["templateFile"]).read_text())
            self.regions[name] = artifact.get("environment", "aws://unknown/unknown").rsplit("/", 1)[-1]

    @classmethod
    def of_templates(cls, templates: dict[str, dict], region: str, *, account: str = ACCOUNT) -> Assembly:
        """The assembly of bare templates by stack name (a validation plugin sees templates, no manifest yet)."""
        asm = cls.__new__(cls)
        asm.outdir, asm.account, asm._props, asm._memo = Path(), account, {}, {}
        asm.templates = dict(templates)
        asm.regions = dict.fromkeys(templates, region)
        return asm

    # ---- resources -------------------------------------------------------------------------
    def resources(self, cfn_type: str | None = None, stack: str | None = None) -> Iterator[Resource]:
        for name, template in self.templates.items():
            if stack is not None and name != stack:
                continue
            for logical_id, raw in template.get("Resources", {}).items():
                if cfn_type is None or raw["Type"] == cfn_type:
                    yield Resource(name, logical_id, raw["Type"], raw.get("Properties", {}), raw)

    def resource(self, stack: str, logical_id: str) -> Resource:
        raw = self.templates[stack]["Resources"][logical_id]
        return Resource(stack, logical_id, raw["Type"], raw.get("Properties", {}), raw)

    @property
    def profile(self) -> str | None:
        """The profile the stacks were synthesized for (they are named ``mlops-<profile>-<stack>``)."""
        return next(iter(self.templates)).split("-")[1] if self.templates else None

    def stack(self, suffix: str) -> str:
        """The full stack name ending in ``-suffix``."""
        (name,) = [n for n in self.templates if n.endswith(f"-{suffix}")]
        return name

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        """``compute()`` once per assembly and ``key`` (derived facts, like a role's statements)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    def props(self, resource: Resource) -> dict:
        """The resource's properties, every intrinsic resolved (computed once per resource)."""
        if resource.key not in self._props:
            self._props[resource.key] = self.resolve(resource.stack, resource.properties)
        return self._props[resource.key]

    # ---- identity of resolved values -------------------------------------------------------
    @cached_property
    def by_value(self) -> dict[str, Resource]:
        """Resource by any of its resolved Ref, Arn or name strings (to follow a resolved reference back)."""
        out: dict[str, Resource] = {}
        for res in self.resources():
            kind = KINDS.get(res.type)
            for value in (self._ref(res), self._arn(res) if kind and kind.arn else None, self._context(res)["name"]):
                if isinstance(value, str):
                    out.setdefault(value, res)
        return out

    def find(self, value: object) -> Resource | None:
        return self.by_value.get(value) if isinstance(value, str) else None

    # ---- resolution ------------------------------------------------------------------------
    def _context(self, res: Resource) -> dict[str, str]:
        kind = KINDS.get(res.type)
        name = None
        if kind and kind.name_prop and kind.name_prop in res.properties:
            name = self.resolve(res.stack, res.properties[kind.name_prop])
        if not isinstance(name, str):
            # The physical name CloudFormation would generate: opaque but stable.
            name = f"{res.stack}-{res.logical_id}"
        region = self.regions[res.stack]
        ctx = {"name": name, "lname": name.lower(), "region": region, "account": self.account, "partition": PARTITION}
        ctx["arn"] = kind.arn.format(**ctx) if kind and kind.arn else f"{name}.Arn"
        return ctx

    def _ref(self, res: Resource) -> str:
        kind = KINDS.get(res.type)
        ctx = self._context(res)
        if kind is None or kind.ref == "name":
            return ctx["name"]
        if kind.ref == "arn":
            return ctx["arn"]
        return kind.ref.format(**ctx)

    def _arn(self, res: Resource) -> str:
        return self._context(res)["arn"]

    def get_att(self, stack: str, logical_id: str, attr: str) -> str:
        res = self.resource(stack, logical_id)
        kind = KINDS.get(res.type)
        ctx = self._context(res)
        if attr == "Arn" or (kind and attr in kind.attrs):
            return ctx["arn"] if attr == "Arn" else kind.attrs[attr].format(**ctx)  # type: ignore[union-attr]
        return f"{stack}-{logical_id}.{attr}"

    def pseudo(self, stack: str, name: str) -> object:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.regions[stack],
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self.regions[stack]}:{self.account}:stack/{stack}/{STACK_ID_SUFFIX}",
            "AWS::NoValue": _NO_VALUE,
        }
        if name not in values:
            return f"{stack}-{name.replace('::', '-')}"
        return values[name]

    def output(self, stack: str, name: str) -> object:
        try:
            value = self.templates[stack]["Outputs"][name]["Value"]
        except KeyError as error:
            raise Unresolvable(f"{stack} has no output {name}") from error
        return self.resolve(stack, value)

    def condition(self, stack: str, name: str) -> bool:
        return bool(self.resolve(stack, self.templates[stack].get("Conditions", {})[name]))

    def resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(stack, v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                if arg.startswith("AWS::"):
                    return self.pseudo(stack, arg)
                if arg in self.templates[stack].get("Parameters", {}):
                    return self.templates[stack]["Parameters"][arg].get("Default", f"{stack}-{arg}")
                return self._ref(self.resource(stack, arg))
            if fn == "Fn::GetAtt":
                logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(stack, logical, self.resolve(stack, attr))
            if fn == "Fn::Join":
                sep, parts = arg
                return self.resolve(stack, sep).join(str(p) for p in self.resolve(stack, parts))
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(stack, items)[int(self.resolve(stack, index))]
            if fn == "Fn::Split":
                sep, text = arg
                return self.resolve(stack, text).split(sep)
            if fn == "Fn::Sub":
                return self._sub(stack, arg)
            if fn == "Fn::If":
                name, yes, no = arg
                chosen = self.resolve(stack, yes if self.condition(stack, name) else no)
                return chosen
            if fn == "Fn::Equals":
                a, b = self.resolve(stack, arg)
                return a == b
            if fn == "Fn::Not":
                return not self.resolve(stack, arg)[0]
            if fn == "Fn::And":
                return all(self.resolve(stack, arg))
            if fn == "Fn::Or":
                return any(self.resolve(stack, arg))
            if fn == "Condition":
                return self.condition(stack, arg)
            if fn == "Fn::GetStackOutput":
                source = self.resolve(stack, arg)
                return self.output(source["StackName"], source["OutputName"])
            if fn == "Fn::ImportValue":
                return self._import(self.resolve(stack, arg))
            if fn == "Fn::GetAZs":
                region = self.resolve(stack, arg) or self.regions[stack]
                return [f"{region}{z}" for z in "abc"]
            if fn == "Fn::Base64":
                return self.resolve(stack, arg)
            if fn.startswith("Fn::"):
                raise Unresolvable(f"{fn} in {stack}")
        resolved = {k: self.resolve(stack, v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _import(self, export: str) -> object:
        for name, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                if self.resolve(name, output.get("Export", {}).get("Name")) == export:
                    return self.resolve(name, output["Value"])
        raise Unresolvable(f"no stack exports {export}")

    def _sub(self, stack: str, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(stack, arg[1]))

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if name.startswith("AWS::"):
                return str(self.pseudo(stack, name))
            if "." in name:
                logical, attr = name.split(".", 1)
                return self.get_att(stack, logical, attr)
            return str(self.resolve(stack, {"Ref": name}))

        return re.sub(r"\$\{([^}]+)\}", one, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()
