"""Monitoring jobs encrypt volumes, outputs and inter-container traffic, and run network-isolated.

Either engine: the portable drift job (a Processing job an EventBridge Scheduler schedule starts with
sagemaker:CreateProcessingJob) or SageMaker Model Monitor (job definitions and schedules; Security
Hub SageMaker.9/.11/.13/.14/.22/.25).
"""

from __future__ import annotations

import json

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings
from posture.ml_pack.pipeline_job_encryption import _on, job_problems

CREATE_PROCESSING_JOB = "aws-sdk:sagemaker:createProcessingJob"
_OUTPUTS = ("DataQualityJobOutputConfig", "ModelQualityJobOutputConfig", "ModelBiasJobOutputConfig",
            "ModelExplainabilityJobOutputConfig", "MonitoringOutputConfig")  # fmt: skip


def _model_monitor_problems(job: dict) -> list[str]:
    problems = []
    resources = job.get("JobResources") or job.get("MonitoringResources") or {}
    if not resources.get("ClusterConfig", {}).get("VolumeKmsKeyId"):
        problems.append("no VolumeKmsKeyId")
    output: dict = next((job[k] for k in _OUTPUTS if k in job), {})
    if not output.get("KmsKeyId"):
        problems.append("outputs without KmsKeyId")
    network = job.get("NetworkConfig", {})
    if not _on(network.get("EnableInterContainerTrafficEncryption")):
        problems.append("inter-container traffic encryption is off")
    if not _on(network.get("EnableNetworkIsolation")):
        problems.append("network isolation is off")
    return problems


def check(asm: Assembly, resource: Resource, settings: Settings) -> list[str]:
    props = asm.props(resource)
    if resource.type == "AWS::Scheduler::Schedule":
        target = props.get("Target", {})
        if not str(target.get("Arn", "")).endswith(CREATE_PROCESSING_JOB):
            return []
        return job_problems("Processing", json.loads(target["Input"]))
    if resource.type == "AWS::SageMaker::MonitoringSchedule":
        job = props.get("MonitoringScheduleConfig", {}).get("MonitoringJobDefinition")
        return _model_monitor_problems(job) if job else []  # a named job definition is checked on its own
    return _model_monitor_problems(props)


RULE = Rule(
    "MonitoringJobEncryption",
    "Monitoring jobs must name KMS keys for volumes and outputs, encrypt inter-container traffic and (Model "
    "Monitor) run network-isolated.",
    (
        "AWS::Scheduler::Schedule",
        "AWS::SageMaker::MonitoringSchedule",
        "AWS::SageMaker::DataQualityJobDefinition",
        "AWS::SageMaker::ModelQualityJobDefinition",
        "AWS::SageMaker::ModelBiasJobDefinition",
        "AWS::SageMaker::ModelExplainabilityJobDefinition",
    ),
    check,
)
