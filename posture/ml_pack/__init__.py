"""The project's ML rule pack: what the standard cdk-nag packs do not check, as a CDK validation plugin.

Registered next to the cdk-nag packs (``posture.checks.register_packs``), it reads the synthesized
templates of every stack at once (rules follow references across stacks through
``posture.contracts.model.Assembly``), and reports violations by logical id; CDK maps them to
construct paths and applies acknowledgments (``acknowledge(scope, "MLOps-<Rule>", reason)``)
exactly as for the cdk-nag packs. One rule per module in this package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)

from posture import ML_PACK
from posture.contracts.model import Assembly, Resource, Unresolvable


@dataclass(frozen=True)
class Settings:
    """What a rule may need to know of the profile."""

    # Profiles marked production (they retain their data) need redundant serving.
    production: bool = False


@dataclass(frozen=True)
class Rule:
    id: str
    explanation: str
    types: tuple[str, ...]
    # Problems of one resource; [] when compliant.
    check: Callable[[Assembly, Resource, Settings], list[str]]

    @property
    def rule_name(self) -> str:
        return f"{ML_PACK}-{self.id}"


def evaluate(
    asm: Assembly, settings: Settings, rules: list[Rule] | None = None
) -> dict[str, list[tuple[Resource, str]]]:
    """Per rule name, every (resource, problem) of ``asm``: the pack's logic without the CDK around it."""
    out: dict[str, list[tuple[Resource, str]]] = {}
    for rule in rules if rules is not None else all_rules():
        for cfn_type in rule.types:
            for resource in asm.resources(cfn_type):
                try:
                    problems = rule.check(asm, resource, settings)
                except (Unresolvable, KeyError, TypeError, ValueError) as error:
                    problems = [f"cannot evaluate the resource ({type(error).__name__}: {error})"]
                out.setdefault(rule.rule_name, []).extend((resource, p) for p in problems)
    return out


def all_rules() -> list[Rule]:
    from posture.ml_pack import (
        alarm_action,
        endpoint_config_encryption,
        glue_security_configuration,
        lake_formation_registration,
        model_vpc_isolation,
        monitoring_job_encryption,
        pipeline_job_encryption,
        stream_encryption,
        variant_redundancy,
        vpc_reachability,
    )

    modules = (model_vpc_isolation, endpoint_config_encryption, variant_redundancy, pipeline_job_encryption,
               monitoring_job_encryption, stream_encryption, glue_security_configuration,
               lake_formation_registration, alarm_action, vpc_reachability)  # fmt: skip
    return [m.RULE for m in modules]


@jsii.implements(IPolicyValidationPlugin)
class MLOpsChecks:
    """The ML pack as a validation plugin: ``Validations.of(app).add_plugins(MLOpsChecks(region=..., ...))``."""

    def __init__(self, *, region: str, settings: Settings) -> None:
        self._region = region
        self._settings = settings

    @property
    def name(self) -> str:
        return ML_PACK

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule_name for r in all_rules()]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        paths = {Path(p).name.removesuffix(".template.json"): p for p in context.template_paths}
        templates = {name: json.loads(Path(p).read_text()) for name, p in paths.items()}
        asm = Assembly.of_templates(templates, self._region)
        explanations = {r.rule_name: r.explanation for r in all_rules()}
        violations = []
        for rule_name, found in evaluate(asm, self._settings).items():
            if not found:
                continue
            resources = [
                PolicyViolatingResource(
                    resource_logical_id=res.logical_id, template_path=paths[res.stack], locations=[problem]
                )
                for res, problem in found
            ]
            detail = "; ".join(sorted({f"{res.logical_id}: {problem}" for res, problem in found}))[:2000]
            violations.append(
                PolicyViolation(
                    rule_name=rule_name,
                    description=f"{explanations[rule_name]} {detail}",
                    violating_resources=resources,
                    severity="error",
                )
            )
        return PolicyValidationPluginReport(success=not violations, violations=violations)
