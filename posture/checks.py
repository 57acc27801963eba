"""The cdk-nag packs every synth runs, and the one way to acknowledge a finding.

cdk-nag 3.x runs as CDK validation plugins. With a plugin registered,
``app.synth()`` raises when a finding is not acknowledged, after it has written
the templates and ``validation-report.json``; ``posture.report`` reads those.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, App, Aspects, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

from config import get_profile
from posture import CFN_VALIDATE, ML_PACK, PACK_NAMES
from posture.ml_pack import MLOpsChecks, Settings
from posture.suppressions import ApplySuppressions
from posture.triage import REGISTRY

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
    # The project's ML pack; profiles that retain their data are the production ones.
    profile = get_profile(app.node.try_get_context("profile"))
    Validations.of(app).add_plugins(
        MLOpsChecks(region=profile.region, settings=Settings(production=profile.retain_data))
    )
    # The template scanners' triage (make audit), written into each resource's metadata with its reason.
    Aspects.of(app).add(ApplySuppressions(REGISTRY))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding on the narrowest construct that raises it.

    ``rule`` carries its pack prefix (``AwsSolutions-S1``,
    ``NIST.800.53.R5-S3BucketReplicationEnabled``, or
    ``CloudFormation-Validate::W3010`` for CDK's built-in template checks, ``MLOps-ModelVpcIsolation``
    for the project's ML pack);
    ``reason`` is what a security reviewer reads, so a short one is refused.
    """
    prefixes = [f"{pack}-" for pack in (*PACK_NAMES, ML_PACK)] + [f"{CFN_VALIDATE}::"]
    if not any(rule.startswith(p) for p in prefixes):
        raise ValueError(f"rule {rule!r} names no pack; prefix it with one of {prefixes}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"reason for {rule} on {scope.node.path} is too short to review: {reason!r}")
    # CDK matches a plugin's rule under the plugin's namespace; cdk-nag's packs match the bare id themselves.
    rule_id = f"{ML_PACK}::{rule}" if rule.startswith(f"{ML_PACK}-") else rule
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


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
