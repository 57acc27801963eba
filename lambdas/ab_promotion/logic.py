"""A/B promotion: compare champion and challenger, then shift traffic (or not).

The rule, in order:

1. Not enough evidence (challenger invocations below the minimum, or a metric
   missing) -> HOLD.
2. Challenger error rate above the champion's plus the allowed increase, or
   challenger p99 latency above the champion's times the allowed ratio ->
   ROLLBACK: all traffic to the champion.
3. A business metric is configured and the challenger does not beat the
   champion on it -> HOLD.
4. Otherwise -> PROMOTE: move ``step`` of the traffic to the challenger
   (until it has all of it).

Dry-run decides and reports without touching the endpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta


class PromotionError(ValueError):
    """Bad input: the decision is not made and the endpoint is not changed."""


@dataclass(frozen=True)
class Rule:
    champion: str = "champion"
    challenger: str = "challenger"
    min_challenger_invocations: int = 100
    max_error_rate_increase: float = 0.01
    max_latency_ratio: float = 1.5
    step: float = 0.2
    window: timedelta = timedelta(hours=1)
    # Optional: (namespace, metric name), a per-variant business metric where higher is better.
    business_metric: tuple[str, str] | None = None


@dataclass(frozen=True)
class VariantStats:
    invocations: float
    errors: float
    p99_latency_us: float | None
    weight: float
    business: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0


@dataclass
class Decision:
    action: str  # PROMOTE | HOLD | ROLLBACK
    reason: str
    weights_before: dict[str, float]
    weights_after: dict[str, float]
    applied: bool = False
    stats: dict[str, dict] = field(default_factory=dict)

    def record(self) -> dict:
        return asdict(self)


def parse_event(event: object) -> dict:
    """A scheduled EventBridge event, ``{}`` or ``{"dry_run": bool}``; anything else is refused clearly."""
    if not isinstance(event, dict):
        raise PromotionError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("source") == "aws.events":
        return {"dry_run": None}
    unknown = set(event) - {"dry_run"}
    if unknown:
        raise PromotionError(f'unexpected fields {sorted(unknown)}; send {{}} or {{"dry_run": true}}')
    dry_run = event.get("dry_run")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise PromotionError(f"dry_run must be true or false, got {dry_run!r}")
    return {"dry_run": dry_run}


def _metric_sum(cloudwatch, endpoint: str, variant: str, name: str, start: datetime, end: datetime,
                namespace: str = "AWS/SageMaker", statistic: str = "Sum") -> float | None:  # fmt: skip
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        StartTime=start,
        EndTime=end,
        Period=int((end - start).total_seconds()),
        **({"ExtendedStatistics": [statistic]} if statistic.startswith("p") else {"Statistics": [statistic]}),
    )
    points = response.get("Datapoints", [])
    if not points:
        return None
    point = points[0]
    return float(point["ExtendedStatistics"][statistic] if statistic.startswith("p") else point[statistic])


def gather(sagemaker, cloudwatch, endpoint: str, rule: Rule, now: datetime) -> dict[str, VariantStats]:
    description = sagemaker.describe_endpoint(EndpointName=endpoint)
    weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in description.get("ProductionVariants", [])}
    for name in (rule.champion, rule.challenger):
        if name not in weights:
            raise PromotionError(f"variant {name!r} is not on endpoint {endpoint} (variants: {sorted(weights)})")
    start = now - rule.window
    stats = {}
    for variant in (rule.champion, rule.challenger):
        business = None
        if rule.business_metric:
            namespace, metric = rule.business_metric
            business = _metric_sum(cloudwatch, endpoint, variant, metric, start, now, namespace, "Average")
        stats[variant] = VariantStats(
            invocations=_metric_sum(cloudwatch, endpoint, variant, "Invocations", start, now) or 0.0,
            errors=_metric_sum(cloudwatch, endpoint, variant, "Invocation5XXErrors", start, now) or 0.0,
            p99_latency_us=_metric_sum(cloudwatch, endpoint, variant, "ModelLatency", start, now, statistic="p99"),
            weight=weights[variant],
            business=business,
        )
    return stats


def decide(stats: dict[str, VariantStats], rule: Rule) -> Decision:
    champion, challenger = stats[rule.champion], stats[rule.challenger]
    before = {rule.champion: champion.weight, rule.challenger: challenger.weight}

    def outcome(action: str, reason: str, challenger_weight: float | None = None) -> Decision:
        after = dict(before)
        if challenger_weight is not None:
            after = {rule.champion: round(1 - challenger_weight, 4), rule.challenger: round(challenger_weight, 4)}
        return Decision(action, reason, before, after, stats={k: asdict(v) for k, v in stats.items()})

    if challenger.invocations < rule.min_challenger_invocations:
        return outcome(
            "HOLD", f"challenger served {challenger.invocations:.0f} requests; {rule.min_challenger_invocations} needed"
        )
    if champion.p99_latency_us is None or challenger.p99_latency_us is None:
        return outcome("HOLD", "latency metrics are missing for the window")
    if challenger.error_rate > champion.error_rate + rule.max_error_rate_increase:
        return outcome(
            "ROLLBACK",
            f"challenger error rate {challenger.error_rate:.4f} exceeds champion {champion.error_rate:.4f} "
            f"+ {rule.max_error_rate_increase}",
            0.0,
        )
    if challenger.p99_latency_us > champion.p99_latency_us * rule.max_latency_ratio:
        return outcome(
            "ROLLBACK",
            f"challenger p99 {challenger.p99_latency_us:.0f} us exceeds champion {champion.p99_latency_us:.0f} us "
            f"x {rule.max_latency_ratio}",
            0.0,
        )
    if rule.business_metric:
        if champion.business is None or challenger.business is None:
            return outcome("HOLD", f"business metric {rule.business_metric[1]} is missing for the window")
        if challenger.business <= champion.business:
            return outcome(
                "HOLD", f"challenger {rule.business_metric[1]} {challenger.business} does not beat {champion.business}"
            )
    if challenger.weight >= 1.0:
        return outcome("HOLD", "challenger already takes all traffic")
    target = min(1.0, challenger.weight + rule.step)
    return outcome(
        "PROMOTE",
        f"challenger healthy over {challenger.invocations:.0f} requests; weight {challenger.weight} -> {target}",
        target,
    )


def apply(sagemaker, endpoint: str, decision: Decision, dry_run: bool) -> Decision:
    if decision.action == "HOLD" or dry_run:
        return decision
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": v, "DesiredWeight": w} for v, w in decision.weights_after.items()],
    )
    decision.applied = True
    return decision
