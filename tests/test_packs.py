"""The gate can fail: each pack flags a non-compliant bucket, and acknowledgments are checked."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from posture import PACK_NAMES
from posture.checks import acknowledge, register_packs
from posture.report import read_posture, summary


def test_every_pack_flags_an_unencrypted_public_bucket(tmp_path) -> None:
    # Path metadata on, as the CDK CLI runs every app: the report finds each finding's resource type by it.
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:enable-path-metadata": True})
    stack = cdk.Stack(app, "Canary", env=cdk.Environment(region="eu-west-1"))
    s3.Bucket(stack, "Plain", block_public_access=s3.BlockPublicAccess(block_public_acls=False))
    register_packs(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    posture = read_posture(tmp_path)
    flagged = {f.pack for f in posture.errors if f.path.startswith("Canary/Plain")}
    assert flagged >= set(PACK_NAMES)
    # The report sends whoever added the raw bucket to the compliant construct before any acknowledgment.
    report = summary(posture)
    fix = report.index("fix: build this AWS::S3::Bucket with ml_constructs/buckets.py SecureBucket")
    assert fix < report.index("posture.checks.acknowledge")


@pytest.mark.parametrize(
    ("rule", "reason", "message"),
    [
        ("S1", "A reason long enough to be read by a security reviewer.", "names no pack"),
        ("AwsSolutions-S1", "too short", "too short"),
    ],
)
def test_acknowledge_refuses_vague_acknowledgments(rule: str, reason: str, message: str) -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=message):
        acknowledge(stack, rule, reason)
