"""The cdk-nag packs every synth runs, and the one way to acknowledge a finding.

cdk-nag 3.x runs as CDK validation plugins. With a plugin registered,
``app.synth()`` raises when a finding is not acknowledged, after it has written
the templates and ``validation-report.json``; ``posture.report`` reads those.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

from posture import CFN_VALIDATE, PACK_NAMES

PACKS: dict[str, Callable[..., NagPack]] = dict(
    zip(PACK_NAMES, (AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks), strict=True)
)

MIN_REASON_LENGTH = 40


def register_packs(app: App) -> None:
    """Run every pack on every stack of ``app`` at synth.

    Acknowledgments are also written into each resource's template metadata,
    so that auditors reading only the templates see every reason.
    """
    for pack in PACKS.values():
        Validations.of(app).add_plugins(pack(app, write_suppressions_to_cloud_formation=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding on the narrowest construct that raises it.

    ``rule`` carries its pack prefix (``AwsSolutions-S1``,
    ``NIST.800.53.R5-S3BucketReplicationEnabled``, or
    ``CloudFormation-Validate::W3010`` for CDK's built-in template checks);
    ``reason`` is what a security reviewer reads, so a short one is refused.
    """
    prefixes = [f"{pack}-" for pack in PACK_NAMES] + [f"{CFN_VALIDATE}::"]
    if not any(rule.startswith(p) for p in prefixes):
        raise ValueError(f"rule {rule!r} names no pack; prefix it with one of {prefixes}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"reason for {rule} on {scope.node.path} is too short to review: {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge_all_packs(
    scope: IConstruct, check: str, reason: str, packs: tuple[str, ...] = COMPLIANCE_PACKS
) -> None:
    """Acknowledge the same check in the compliance packs that have it (default: all three).

    HIPAA, NIST and PCI share rule names (``S3BucketReplicationEnabled``);
    one decision, one reason.
    """
    for pack in packs:
        acknowledge(scope, f"{pack}-{check}", reason)
