"""The synthesized templates as the scanners read them, and the IAM documents in them.

No scanner resolves ``Fn::GetStackOutput`` (CDK's cross-stack reference): each reports
the property as "not a string" or "not an ARN". CloudFormation replaces it with the
producer's output before it creates the resource, so the audit does the same: it writes
scan copies of the templates where each such reference is the producer's output rendered
as ``posture.contracts.model.Assembly`` resolves it (the ARN or name of the producer's
resource). Nothing else changes; the Markdown report says so. Parliament reads the IAM
documents with every intrinsic resolved the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from posture.contracts.model import Assembly


@dataclass(frozen=True)
class Template:
    profile: str
    stack: str
    path: Path
    body: dict

    @property
    def resources(self) -> dict[str, dict]:
        return self.body.get("Resources", {})


def load_assembly(outdir: Path, profile: str) -> list[Template]:
    """Every stack template of a synthesized assembly, by stack name."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    out = []
    for name, art in sorted(manifest.get("artifacts", {}).items()):
        if art.get("type") == "aws:cloudformation:stack":
            path = outdir / art["properties"]["templateFile"]
            out.append(Template(profile, name, path, json.loads(path.read_text())))
    return out


# EC2 ids have a shape scanners check (vpc-0123...): a referenced VPC, subnet or group gets one.
_EC2_ID_PREFIX = {"AWS::EC2::VPC": "vpc", "AWS::EC2::Subnet": "subnet", "AWS::EC2::SecurityGroup": "sg",
                  "AWS::EC2::RouteTable": "rtb"}  # fmt: skip


def _ec2_id(asm: Assembly, stack: str, output: str) -> str | None:
    value = asm.templates[stack].get("Outputs", {}).get(output, {}).get("Value")
    ref = value.get("Ref") if isinstance(value, dict) else None
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        ref = value["Fn::GetAtt"][0] if value["Fn::GetAtt"][1] == "GroupId" else None
    prefix = _EC2_ID_PREFIX.get(asm.templates[stack]["Resources"].get(ref, {}).get("Type", "")) if ref else None
    return f"{prefix}-{hashlib.sha256(f'{stack}/{ref}'.encode()).hexdigest()[:17]}" if prefix else None


def _resolve_stack_outputs(asm: Assembly, value: object) -> object:
    """``value`` with each cross-stack reference replaced; every other intrinsic stays for the scanner."""
    if isinstance(value, list):
        return [_resolve_stack_outputs(asm, v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::GetStackOutput"}:
            arg = value["Fn::GetStackOutput"]
            return _ec2_id(asm, arg["StackName"], arg["OutputName"]) or asm.output(arg["StackName"], arg["OutputName"])
        return {k: _resolve_stack_outputs(asm, v) for k, v in value.items()}
    return value


def write_scan_copies(templates: list[Template], asm: Assembly, dest: Path) -> list[Template]:
    """Scan copies of ``templates`` in ``dest`` (cross-stack references resolved)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for t in templates:
        body: dict = _resolve_stack_outputs(asm, t.body)  # type: ignore[assignment]
        path = dest / t.path.name
        path.write_text(json.dumps(body, indent=1))
        out.append(Template(t.profile, t.stack, path, body))
    return out


# IAM documents: (resource type, property path, kind). Trust policies are left to cdk-nag and
# IAM Access Analyzer (parliament reads them as identity policies and misjudges the principal).
_DOCUMENTS = (
    ("AWS::IAM::Policy", ("PolicyDocument",), "identity"),
    ("AWS::IAM::ManagedPolicy", ("PolicyDocument",), "identity"),
    ("AWS::S3::BucketPolicy", ("PolicyDocument",), "resource"),
    ("AWS::KMS::Key", ("KeyPolicy",), "resource"),
    ("AWS::SNS::TopicPolicy", ("PolicyDocument",), "resource"),
    ("AWS::SQS::QueuePolicy", ("PolicyDocument",), "resource"),
    ("AWS::Logs::ResourcePolicy", ("PolicyDocument",), "resource"),
)


@dataclass(frozen=True)
class IamDocument:
    profile: str
    stack: str
    resource: str
    kind: str
    document: dict


def iam_documents(templates: list[Template], asm: Assembly) -> list[IamDocument]:
    """Every identity and resource policy of ``templates``, rendered to plain strings."""
    docs = []
    for t in templates:
        for logical, res in t.resources.items():
            props = res.get("Properties", {})
            for rtype, path, kind in _DOCUMENTS:
                if res.get("Type") == rtype and path[0] in props:
                    doc = props[path[0]]
                    doc = json.loads(doc) if isinstance(doc, str) else doc
                    docs.append(IamDocument(t.profile, t.stack, logical, kind, asm.resolve(t.stack, doc)))
            if res.get("Type") == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    docs.append(
                        IamDocument(
                            t.profile, t.stack, logical, "identity", asm.resolve(t.stack, policy["PolicyDocument"])
                        )
                    )
    return docs
