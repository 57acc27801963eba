"""Suppress a template scanner's finding on one resource, in that scanner's own metadata, with a reason.

The scanners `make audit` runs read their suppressions from the resource's template
metadata: checkov ``Metadata.checkov.skip`` (id and comment), cfn-lint
``Metadata.cfn-lint.config.ignore_checks``, cfn-guard ``Metadata.guard.SuppressedRules``,
and parliament (no metadata of its own) ``Metadata.parliament.ignore``. Only checkov keeps a
comment, so every reason is also written under ``Metadata["mlops:audit-reasons"]``
("tool:rule" -> reason): the audit fails on a suppression without a reason.
cdk-nag findings are acknowledged with ``posture.checks.acknowledge`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

from posture import AUDIT_REASONS as REASONS

TOOLS = ("checkov", "cfn-lint", "cfn-guard", "parliament")
MIN_REASON_LENGTH = 40


def _cfn(scope: IConstruct) -> CfnResource:
    if isinstance(scope, CfnResource):
        return scope
    child = scope.node.default_child
    if not isinstance(child, CfnResource):
        raise ValueError(f"{scope.node.path} has no CloudFormation resource to carry a suppression")
    return child


def _merge(resource: CfnResource, key: str, update: dict) -> None:
    current = resource.get_metadata(key) or {}
    resource.add_metadata(key, _deep_merge(current, update))


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        else:
            out[k] = v
    return out


def suppress(scope: IConstruct, tool: str, rule: str, reason: str) -> None:
    """Suppress ``rule`` of ``tool`` on the CloudFormation resource of ``scope``.

    ``rule`` is the scanner's id: ``CKV_AWS_117``, ``W3005``, ``CT.LAMBDA.PR.3`` (or the guard
    rule's name), parliament's issue key (``RESOURCE_MISMATCH``).
    """
    if tool not in TOOLS:
        raise ValueError(f"tool {tool!r} is not one of {TOOLS}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"reason for {tool}:{rule} on {scope.node.path} is too short to review: {reason!r}")
    resource = _cfn(scope)
    native = {
        "checkov": ("checkov", {"skip": [{"id": rule, "comment": reason}]}),
        "cfn-lint": ("cfn-lint", {"config": {"ignore_checks": [rule]}}),
        "cfn-guard": ("guard", {"SuppressedRules": [rule]}),
        "parliament": ("parliament", {"ignore": [rule]}),
    }[tool]
    key, value = native
    _merge(resource, key, value)  # type: ignore[arg-type]
    _merge(resource, REASONS, {f"{tool}:{rule}": reason})


@dataclass(frozen=True)
class Suppression:
    """One triage decision for every resource of ``types`` (narrowed by ``where``), with its reason."""

    tool: str
    rule: str
    types: tuple[str, ...]
    reason: str
    # Narrows the decision to the resources it is true for (the L1 construct is passed).
    where: Callable[[CfnResource], bool] | None = None


@jsii.implements(IAspect)
class ApplySuppressions:
    """Writes each registry decision into the matching resources' metadata at synth."""

    def __init__(self, registry: tuple[Suppression, ...]) -> None:
        self._registry = registry

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        for s in self._registry:
            if node.cfn_resource_type in s.types and (s.where is None or s.where(node)):
                suppress(node, s.tool, s.rule, s.reason)
