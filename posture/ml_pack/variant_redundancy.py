"""In profiles marked production, every instance-backed production variant runs two instances or more.

Security Hub SageMaker.4: SageMaker spreads a variant's instances over Availability Zones, so one
instance is one zone. Development profiles may run one instance on purpose.
"""

from __future__ import annotations

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings

MIN_INSTANCES = 2


def check(asm: Assembly, config: Resource, settings: Settings) -> list[str]:
    if not settings.production:
        return []
    problems = []
    for variant in asm.props(config).get("ProductionVariants", []):
        if "ServerlessConfig" in variant:
            continue
        count = int(variant.get("InitialInstanceCount", 1))
        if count < MIN_INSTANCES:
            problems.append(
                f"variant {variant.get('VariantName')} starts with {count} instance(s), fewer than {MIN_INSTANCES}"
            )
    return problems


RULE = Rule(
    "ProductionVariantRedundancy",
    "In production profiles every production variant must start with at least two instances (two zones).",
    ("AWS::SageMaker::EndpointConfig",),
    check,
)
