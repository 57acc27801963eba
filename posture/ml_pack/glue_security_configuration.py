"""Glue jobs and crawlers run with a security configuration that encrypts S3 output, logs and bookmarks with KMS."""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings


def configuration_problems(config: dict) -> list[str]:
    encryption = config.get("EncryptionConfiguration", {})
    problems = []
    if not any(
        e.get("S3EncryptionMode") == "SSE-KMS" and e.get("KmsKeyArn") for e in encryption.get("S3Encryptions", [])
    ):
        problems.append("S3 encryption is not SSE-KMS")
    if encryption.get("CloudWatchEncryption", {}).get("CloudWatchEncryptionMode") != "SSE-KMS":
        problems.append("CloudWatch logs encryption is not SSE-KMS")
    if encryption.get("JobBookmarksEncryption", {}).get("JobBookmarksEncryptionMode") != "CSE-KMS":
        problems.append("job bookmarks encryption is not CSE-KMS")
    return problems


def check(asm: Assembly, resource: Resource, settings: Settings) -> list[str]:
    props = asm.props(resource)
    name = props.get("SecurityConfiguration") or props.get("CrawlerSecurityConfiguration")
    if not name:
        return ["no security configuration"]
    configs = [asm.props(c) for c in asm.resources("AWS::Glue::SecurityConfiguration")]
    config = next((c for c in configs if c.get("Name") == name), None)
    if config is None:
        return []  # defined outside this app: nothing to read
    return [f"security configuration {name}: {p}" for p in configuration_problems(config)]


RULE = Rule(
    "GlueSecurityConfiguration",
    "Glue jobs and crawlers must run with a security configuration encrypting S3, logs and bookmarks with KMS.",
    ("AWS::Glue::Job", "AWS::Glue::Crawler"),
    check,
)
