"""Approval -> challenger: deploy a newly approved model package under the guardrails.

On "SageMaker Model Package State Change" with ``ModelApprovalStatus: Approved``
for the platform's group, the deployer creates a model from the package (same
role and VPC as the current challenger, network isolation on), a new endpoint
config that differs from the current one only in the challenger's model, and
updates the endpoint blue/green with canary traffic shifting and automatic
rollback on the endpoint's alarms, keeping autoscaled instance counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHALLENGER = "challenger"
_PACKAGE_ARN = re.compile(r"^arn:aws[\w-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w-]+/\d+$")


class DeployError(ValueError):
    """The event or the endpoint is not what the deployer expects: nothing is changed."""


@dataclass(frozen=True)
class Guardrails:
    canary_percent: int
    wait_seconds: int
    rollback_alarms: tuple[str, ...]

    def deployment_config(self) -> dict:
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": self.canary_percent},
                    "WaitIntervalInSeconds": self.wait_seconds,
                },
                "TerminationWaitInSeconds": self.wait_seconds,
                "MaximumExecutionTimeoutInSeconds": 3600 + 2 * self.wait_seconds,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in self.rollback_alarms]},
        }


def approved_package(event: object, group: str) -> str:
    """The approved package ARN of ``group`` in the event, or a DeployError saying why not."""
    if not isinstance(event, dict) or event.get("detail-type") != "SageMaker Model Package State Change":
        raise DeployError("not a SageMaker Model Package State Change event")
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


def deploy_challenger(sagemaker, *, endpoint: str, package_arn: str, guardrails: Guardrails, suffix: str) -> dict:
    """Make ``package_arn`` the challenger through a new endpoint config; returns what changed."""
    status = sagemaker.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]
    if status != "Approved":
        raise DeployError(f"{package_arn} is {status}, not Approved")
    current = sagemaker.describe_endpoint(EndpointName=endpoint)
    if current.get("EndpointStatus") not in ("InService", None):
        raise DeployError(f"endpoint {endpoint} is {current['EndpointStatus']}; retry when InService")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
    variants = config["ProductionVariants"]
    challenger = next((v for v in variants if v["VariantName"] == CHALLENGER), None)
    if challenger is None:
        raise DeployError(f"endpoint {endpoint} has no {CHALLENGER!r} variant")
    template = sagemaker.describe_model(ModelName=challenger["ModelName"])

    model_name = f"{endpoint}-challenger-{suffix}"[:63]
    model = {
        "ModelName": model_name,
        "ExecutionRoleArn": template["ExecutionRoleArn"],
        "Containers": [{"ModelPackageName": package_arn}],
        # The platform's rule, not a copy of the old model's setting.
        "EnableNetworkIsolation": True,
    }
    if template.get("VpcConfig"):
        model["VpcConfig"] = template["VpcConfig"]
    sagemaker.create_model(**model)

    new_variants = [{**v, "ModelName": model_name} if v["VariantName"] == CHALLENGER else v for v in variants]
    config_name = f"{endpoint}-{suffix}"[:63]
    new_config = {"EndpointConfigName": config_name, "ProductionVariants": new_variants}
    for key in ("KmsKeyId", "DataCaptureConfig", "ShadowProductionVariants"):
        if config.get(key):
            new_config[key] = config[key]
    sagemaker.create_endpoint_config(**new_config)
    sagemaker.update_endpoint(
        EndpointName=endpoint,
        EndpointConfigName=config_name,
        RetainAllVariantProperties=True,
        DeploymentConfig=guardrails.deployment_config(),
    )
    return {"endpoint": endpoint, "endpoint_config": config_name, "challenger_model": model_name, "package": package_arn,
            "previous_challenger_model": challenger["ModelName"]}  # fmt: skip
