"""Kinesis streams and Firehose delivery streams encrypt with KMS.

A stream encrypts its records with a KMS key; a delivery stream fed directly (DirectPut) encrypts
what it buffers, and every delivery stream writes its S3 objects with a KMS key (a stream-fed one
reads records that its source stream already encrypts).
"""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings


def _stream(props: dict) -> list[str]:
    encryption = props.get("StreamEncryption") or {}
    if encryption.get("EncryptionType") != "KMS" or not encryption.get("KeyId"):
        return ["no StreamEncryption with EncryptionType KMS and a KeyId"]
    return []


def _delivery_stream(props: dict) -> list[str]:
    problems = []
    if props.get("DeliveryStreamType", "DirectPut") == "DirectPut":
        sse = props.get("DeliveryStreamEncryptionConfigurationInput") or {}
        if sse.get("KeyType") != "CUSTOMER_MANAGED_CMK" or not sse.get("KeyARN"):
            problems.append("DirectPut without server-side encryption by a customer managed key")
    for key in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration"):
        destination = props.get(key)
        if destination is not None:
            kms = (destination.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}
            if not kms.get("AWSKMSKeyARN"):
                problems.append(f"{key} writes S3 objects without a KMS key")
    return problems


def check(asm: Assembly, resource: Resource, settings: Settings) -> list[str]:
    props = asm.props(resource)
    return _stream(props) if resource.type == "AWS::Kinesis::Stream" else _delivery_stream(props)


RULE = Rule(
    "StreamEncryption",
    "Kinesis streams and Firehose delivery streams (buffer and S3 objects) must encrypt with a KMS key.",
    ("AWS::Kinesis::Stream", "AWS::KinesisFirehose::DeliveryStream"),
    check,
)
