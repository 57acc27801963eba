"""Every job of the training pipeline encrypts its volumes and outputs with KMS and its inter-container traffic.

The jobs live in the pipeline definition (pipelines/training/definition.json, the CfnPipeline's body):
Processing, Training, Tuning and Transform steps each name a volume key, an output key and turn on
inter-container traffic encryption (Security Hub's encryption-in-transit controls ask the same of
monitoring jobs; distributed training and tuning move data between instances).
"""

from __future__ import annotations

import json

from posture.contracts.model import Assembly, Resource
from posture.contracts.services import all_steps
from posture.ml_pack import Rule, Settings


def _on(value: object) -> bool:
    return value in (True, "true", "True")


def job_problems(kind: str, args: dict) -> list[str]:
    """What a SageMaker job request (``kind`` Processing, Training or Transform) lacks in encryption."""
    problems = []
    if kind == "Processing":
        if not args.get("ProcessingResources", {}).get("ClusterConfig", {}).get("VolumeKmsKeyId"):
            problems.append("no VolumeKmsKeyId")
        output = args.get("ProcessingOutputConfig")
        if output and output.get("Outputs") and not output.get("KmsKeyId"):
            problems.append("outputs without KmsKeyId")
        if not _on(args.get("NetworkConfig", {}).get("EnableInterContainerTrafficEncryption")):
            problems.append("inter-container traffic encryption is off")
    elif kind == "Training":
        if not args.get("ResourceConfig", {}).get("VolumeKmsKeyId"):
            problems.append("no VolumeKmsKeyId")
        if not args.get("OutputDataConfig", {}).get("KmsKeyId"):
            problems.append("output without KmsKeyId")
        if not _on(args.get("EnableInterContainerTrafficEncryption")):
            problems.append("inter-container traffic encryption is off")
    elif kind == "Transform":
        if not args.get("TransformResources", {}).get("VolumeKmsKeyId"):
            problems.append("no VolumeKmsKeyId")
        if not args.get("TransformOutput", {}).get("KmsKeyId"):
            problems.append("output without KmsKeyId")
    return problems


def steps_problems(body: dict) -> list[str]:
    problems = []
    for step in all_steps(body.get("Steps", [])):
        kind, args = step["Type"], step.get("Arguments", {})
        if kind == "Tuning":
            kind, args = "Training", args.get("TrainingJobDefinition", {})
        problems += [f"step {step['Name']}: {p}" for p in job_problems(kind, args)]
    return problems


def check(asm: Assembly, pipeline: Resource, settings: Settings) -> list[str]:
    definition = asm.props(pipeline).get("PipelineDefinition", {})
    body = definition.get("PipelineDefinitionBody")
    if body is None:
        return ["the definition is in S3 (PipelineDefinitionS3Location): the pack cannot read it at synth"]
    return steps_problems(json.loads(body) if isinstance(body, str) else body)


RULE = Rule(
    "PipelineJobEncryption",
    "Pipeline jobs must name a KMS key for their volumes and outputs and encrypt inter-container traffic.",
    ("AWS::SageMaker::Pipeline",),
    check,
)
