"""What a synthesized cloud assembly (``cdk.out``) asks of an account.

Every number the pre-flight, smoke and teardown steps use comes from here, read
from the templates the CDK wrote, so they stay true when profiles or stacks change.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

# Lambda keeps this much concurrency unreserved in every account; reservations may not eat into it.
LAMBDA_UNRESERVED_MINIMUM = 100
_DELETE_KEEPS = ("Retain", "RetainExceptOnCreate", "Snapshot")


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict
    deletion_policy: str
    metadata: dict = field(default_factory=dict)

    @property
    def retained(self) -> bool:
        return self.deletion_policy in _DELETE_KEEPS


@dataclass(frozen=True)
class InstanceDemand:
    """How many instances of one type one use needs at once, and why."""

    usage: str  # "endpoint", "processing job", "training job", "spot training job"
    instance_type: str
    count: int
    why: str

    @property
    def quota_name(self) -> str:
        """The Service Quotas name, e.g. ``ml.m5.large for endpoint usage``."""
        return f"{self.instance_type} for {self.usage} usage"


class Assembly:
    """The stacks of one profile in a cloud assembly directory."""

    def __init__(self, outdir: Path | str, profile: str) -> None:
        self.outdir = Path(outdir)
        self.profile = profile
        manifest = self.outdir / "manifest.json"
        if not manifest.exists():
            raise FileNotFoundError(f"{manifest} not found: synthesize first (make synth PROFILE={profile})")
        artifacts = json.loads(manifest.read_text())["artifacts"]
        self.stacks = {
            name: artifact
            for name, artifact in artifacts.items()
            if artifact["type"] == "aws:cloudformation:stack" and name.startswith(f"mlops-{profile}-")
        }
        if not self.stacks:
            raise ValueError(
                f"{self.outdir} holds no stack of profile {profile!r}: synthesize with -c profile={profile}"
            )

    @property
    def stack_names(self) -> list[str]:
        """In deployment order (the manifest lists dependencies first)."""
        return [a["properties"].get("stackName") or name for name, a in self.stacks.items()]

    @cached_property
    def templates(self) -> dict[str, dict]:
        return {
            name: json.loads((self.outdir / a["properties"]["templateFile"]).read_text())
            for name, a in self.stacks.items()
        }

    def resources(self, cfn_type: str | None = None) -> list[Resource]:
        return [
            Resource(
                stack, lid, r["Type"], r.get("Properties", {}), r.get("DeletionPolicy", "Delete"), r.get("Metadata", {})
            )
            for stack, template in self.templates.items()
            for lid, r in template.get("Resources", {}).items()
            if cfn_type is None or r["Type"] == cfn_type
        ]

    # -- bootstrap -----------------------------------------------------------------------------

    @property
    def required_bootstrap_version(self) -> int:
        return max(int(a["properties"].get("requiresBootstrapStackVersion", 0)) for a in self.stacks.values())

    @property
    def bootstrap_version_parameter(self) -> str:
        names = {a["properties"].get("bootstrapStackVersionSsmParameter") for a in self.stacks.values()}
        names.discard(None)
        return names.pop() if len(names) == 1 else "/cdk-bootstrap/hnb659fds/version"

    @property
    def qualifier(self) -> str:
        match = re.fullmatch(r"/cdk-bootstrap/([^/]+)/version", self.bootstrap_version_parameter)
        return match.group(1) if match else "hnb659fds"

    # -- Lambda --------------------------------------------------------------------------------

    @property
    def lambda_reservations(self) -> list[tuple[str, int]]:
        """(stack/logical id, reserved concurrency) of every function that reserves some."""
        return [
            (f"{r.stack}/{r.logical_id}", int(r.properties["ReservedConcurrentExecutions"]))
            for r in self.resources("AWS::Lambda::Function")
            if r.properties.get("ReservedConcurrentExecutions") is not None
        ]

    @property
    def lambda_concurrency_needed(self) -> int:
        """The account concurrency this assembly needs: its reservations plus Lambda's unreserved floor."""
        return sum(n for _, n in self.lambda_reservations) + LAMBDA_UNRESERVED_MINIMUM

    # -- SageMaker -----------------------------------------------------------------------------

    @cached_property
    def pipeline_definitions(self) -> list[dict]:
        """Each pipeline's definition, deployment tokens replaced by a placeholder string."""
        out = []
        for r in self.resources("AWS::SageMaker::Pipeline"):
            body = r.properties["PipelineDefinition"]["PipelineDefinitionBody"]
            if isinstance(body, dict) and "Fn::Join" in body:
                body = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1])
            definition = json.loads(body)
            definition["_parallelism"] = (r.properties.get("ParallelismConfiguration") or {}).get(
                "MaxParallelExecutionSteps"
            )
            out.append(definition)
        return out

    def instance_demands(self) -> list[InstanceDemand]:
        """Instances per (usage, type) that deploying and running this assembly needs at once."""
        demands = self._endpoint_demands()
        for definition in self.pipeline_definitions:
            demands += _pipeline_demands(definition)
        merged: Counter[tuple[str, str]] = Counter()
        why: dict[tuple[str, str], list[str]] = {}
        for d in demands:
            merged[(d.usage, d.instance_type)] += d.count
            why.setdefault((d.usage, d.instance_type), []).append(d.why)
        return [InstanceDemand(u, t, n, "; ".join(why[(u, t)])) for (u, t), n in sorted(merged.items())]

    def _endpoint_demands(self) -> list[InstanceDemand]:
        out = []
        for config in self.resources("AWS::SageMaker::EndpointConfig"):
            for variant in (
                *config.properties.get("ProductionVariants", []),
                *config.properties.get("ShadowProductionVariants", []),
            ):
                count = int(variant.get("InitialInstanceCount", 1))
                out.append(
                    InstanceDemand(
                        "endpoint",
                        variant["InstanceType"],
                        2 * count,
                        f"variant {variant['VariantName']}: {count} x 2 (blue/green keeps the old fleet during an update)",
                    )
                )
        return out

    def autoscaling_max(self) -> dict[str, int]:
        """Per endpoint instance type: the most instances autoscaling may run (sum of variant maxima)."""
        types = {
            v["VariantName"]: v["InstanceType"]
            for c in self.resources("AWS::SageMaker::EndpointConfig")
            for v in c.properties.get("ProductionVariants", [])
        }
        out: Counter[str] = Counter()
        for target in self.resources("AWS::ApplicationAutoScaling::ScalableTarget"):
            if target.properties.get("ServiceNamespace") != "sagemaker":
                continue
            variant = json.dumps(target.properties["ResourceId"]).rsplit("/variant/", 1)[-1].split('"')[0]
            if variant in types:
                out[types[variant]] += int(target.properties["MaxCapacity"])
        return dict(out)

    def max_parallel_tuning_jobs(self) -> int:
        values = [_default(d, r["MaxParallelTrainingJobs"]) for d, r in _tuning_limits(self.pipeline_definitions)]
        return max(values, default=0)

    # -- service-linked roles --------------------------------------------------------------------

    def service_linked_roles(self) -> dict[str, str]:
        """Service-linked roles the deployment needs: role name -> why."""
        needed = {}
        if any(
            t.properties.get("ServiceNamespace") == "sagemaker"
            for t in self.resources("AWS::ApplicationAutoScaling::ScalableTarget")
        ):
            needed["AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"] = (
                "Application Auto Scaling scales the endpoint variants with it (created on the first "
                "RegisterScalableTarget if the deploy role may call iam:CreateServiceLinkedRole)"
            )
        if any(r.properties.get("UseServiceLinkedRole") for r in self.resources("AWS::LakeFormation::Resource")):
            needed["AWSServiceRoleForLakeFormationDataAccess"] = "a location is registered with Lake Formation's role"
        return needed


def _default(definition: dict, value: object) -> Any:
    """A literal, or the default of the pipeline parameter it names ({"Get": "Parameters.X"})."""
    if isinstance(value, dict) and str(value.get("Get", "")).startswith("Parameters."):
        name = value["Get"].split(".", 1)[1]
        for parameter in definition["Parameters"]:
            if parameter["Name"] == name:
                return parameter.get("DefaultValue")
        raise ValueError(f"pipeline parameter {name} not defined")
    return value


def _steps(steps: list[dict]) -> list[dict]:
    out = []
    for step in steps:
        out.append(step)
        if step["Type"] == "Condition":
            out += _steps(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return out


def _tuning_limits(definitions: list[dict]) -> list[tuple[dict, dict]]:
    return [
        (d, s["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"])
        for d in definitions
        for s in _steps(d["Steps"])
        if s["Type"] == "Tuning"
    ]


def _levels(definition: dict) -> dict[str, int]:
    """Each step's depth in the dependency graph: steps of one depth may run at once."""
    steps = {s["Name"]: s for s in _steps(definition["Steps"])}
    parents: dict[str, set[str]] = {name: set(s.get("DependsOn") or ()) for name, s in steps.items()}
    for name, step in steps.items():
        parents[name] |= set(re.findall(r"Steps\.(\w+)", json.dumps(step.get("Arguments", {})))) - {name}
        if step["Type"] == "Condition":
            for child in step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []):
                parents[child["Name"]].add(name)
    levels: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in levels:
            levels[name] = 1 + max((level(p) for p in parents[name] if p in steps), default=-1)
        return levels[name]

    for name in steps:
        level(name)
    return levels


def _pipeline_demands(definition: dict) -> list[InstanceDemand]:
    """Processing instances of the steps that may run at once, and the tuning job's parallel training."""
    out = []
    levels = _levels(definition)
    cap = definition.get("_parallelism")
    by_level: dict[tuple[int, str], list[int]] = {}
    for step in _steps(definition["Steps"]):
        if step["Type"] == "Processing":
            cluster = step["Arguments"]["ProcessingResources"]["ClusterConfig"]
            key = (levels[step["Name"]], str(_default(definition, cluster["InstanceType"])))
            by_level.setdefault(key, []).append(int(_default(definition, cluster["InstanceCount"])))
        elif step["Type"] == "Tuning":
            job = step["Arguments"]["TrainingJobDefinition"]
            limits = step["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
            parallel = int(_default(definition, limits["MaxParallelTrainingJobs"]))
            resources = job["ResourceConfig"]
            count = int(_default(definition, resources.get("InstanceCount", 1)))
            usage = "spot training job" if job.get("EnableManagedSpotTraining") else "training job"
            out.append(
                InstanceDemand(
                    usage,
                    str(_default(definition, resources["InstanceType"])),
                    parallel * count,
                    f"step {step['Name']}: {parallel} parallel training jobs x {count}",
                )
            )
    peak: dict[str, int] = {}
    for (_, instance_type), counts in by_level.items():
        counts = sorted(counts, reverse=True)[: cap or None]
        peak[instance_type] = max(peak.get(instance_type, 0), sum(counts))
    out += [
        InstanceDemand("processing job", t, n, "processing steps that may run at once (one execution at a time)")
        for t, n in peak.items()
    ]
    return out
