"""Endpoint configurations encrypt their volumes and the data they capture with a KMS key.

Config rule sagemaker-endpoint-configuration-kms-key-configured; captured requests and responses
are production data, so the capture must be encrypted with a customer managed key too.
"""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings


def check(asm: Assembly, config: Resource, settings: Settings) -> list[str]:
    props = asm.props(config)
    problems = []
    if not props.get("KmsKeyId"):
        problems.append("no KmsKeyId for the instance storage volumes")
    capture = props.get("DataCaptureConfig")
    if capture and capture.get("EnableCapture", True) not in (False, "false") and not capture.get("KmsKeyId"):
        problems.append("data capture is on without a KmsKeyId")
    return problems


RULE = Rule(
    "EndpointConfigEncryption",
    "Endpoint configurations must name a KMS key for their volumes and for captured data.",
    ("AWS::SageMaker::EndpointConfig",),
    check,
)
