"""The gate can fail: each pack flags a non-compliant bucket, and acknowledgments are checked."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from posture import PACK_NAMES
from posture.checks import acknowledge, register_packs
from posture.report import read_posture


def test_every_pack_flags_an_unencrypted_public_bucket(tmp_path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Canary", env=cdk.Environment(region="eu-west-1"))
    s3.Bucket(stack, "Plain", block_public_access=s3.BlockPublicAccess(block_public_acls=False))
    register_packs(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    posture = read_posture(tmp_path)
    flagged = {f.pack for f in posture.errors if f.path.startswith("Canary/Plain")}
    assert flagged >= set(PACK_NAMES)


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
