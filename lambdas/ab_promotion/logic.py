"""A/B promotion: compare champion and challenger, then shift traffic (or not).

The rule, in order:

0. The endpoint is not ``InService`` (an update is under way) -> HOLD, nothing judged.
1. Not enough evidence (challenger invocations below the minimum, or a metric
   missing, NaN or infinite) -> HOLD. Evidence counts only from the challenger's
   current deployment on (the time its image was resolved), so a new model is
   never judged on its predecessor's traffic.
2. Challenger error rate above the champion's plus the allowed increase, or
   challenger p99 latency above the champion's times the allowed ratio ->
   ROLLBACK: all traffic to the champion.
3. A business metric is configured and the challenger does not beat the
   champion on it -> HOLD.
4. Otherwise -> PROMOTE: move ``step`` of the traffic to the challenger
   (until it has all of it).

Variant weights are relative (SageMaker routes ``weight / sum of weights``): the
rule works on the challenger's share of the pair's traffic, and writes weights
that keep the pair's total. Dry-run decides and reports without touching the
endpoint; an event asks for it in any shape (``{"dry_run": true}``, or in an
EventBridge event's ``detail``). Every AWS error is a ``PromotionError`` naming
the step; nothing is changed before the one weight update.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

_AWS_ERRORS = (ClientError, BotoCoreError)


class PromotionError(ValueError):
    """Bad input or a failed AWS call: the decision is not made and the endpoint is not changed."""


class EndpointBusy(PromotionError):
    """The endpoint is not InService (an update is under way): nothing is judged or changed."""


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
    """One variant's evidence. ``weight`` is its share of the champion/challenger pair's traffic (0-1);
    ``pair_weight`` the pair's total relative weight, which written weights keep."""

    invocations: float | None
    errors: float | None
    p99_latency_us: float | None
    weight: float
    business: float | None = None
    pair_weight: float = 1.0

    @property
    def error_rate(self) -> float:
        return (self.errors or 0.0) / self.invocations if self.invocations else 0.0


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
    """``{"dry_run": True | False | None}`` from any event shape: ``{}``, ``{"dry_run": bool}``, or an
    EventBridge event (scheduled or custom) with ``dry_run`` in its ``detail`` or at the top; anything
    else is refused clearly."""
    if not isinstance(event, dict):
        raise PromotionError(f"event must be a JSON object, got {type(event).__name__}")
    if "source" in event or "detail-type" in event:  # an EventBridge event: its envelope fields are fine
        detail = event.get("detail", {})
        if not isinstance(detail, dict):
            raise PromotionError(f"event detail must be an object, got {type(detail).__name__}")
        values = [v for v in (event.get("dry_run"), detail.get("dry_run")) if v is not None]
    else:
        unknown = set(event) - {"dry_run"}
        if unknown:
            raise PromotionError(f'unexpected fields {sorted(unknown)[:10]}; send {{}} or {{"dry_run": true}}')
        values = [event["dry_run"]] if event.get("dry_run") is not None else []
    for value in values:
        if not isinstance(value, bool):
            raise PromotionError(f"dry_run must be true or false, got {str(value)[:50]!r}")
    # Asked for in two places, a dry run wins: changing nothing is the safe reading.
    return {"dry_run": any(values) if values else None}


def _finite(value: object) -> float | None:
    """A metric value, or None when it is missing, not a number, NaN, infinite or negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _metric(cloudwatch, endpoint: str, variant: str, name: str, start: datetime, end: datetime,
            namespace: str = "AWS/SageMaker", statistic: str = "Sum") -> float | None:  # fmt: skip
    """One statistic over [start, end) (whole minutes); None when there is no usable datapoint."""
    percentile = statistic.startswith("p")
    try:
        response = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            StartTime=start,
            EndTime=end,
            Period=int((end - start).total_seconds()),
            **({"ExtendedStatistics": [statistic]} if percentile else {"Statistics": [statistic]}),
        )
    except _AWS_ERRORS as error:
        raise PromotionError(f"reading {namespace} {name} of {variant} failed: {error}") from error
    values = []
    for point in response.get("Datapoints", []):
        raw = (point.get("ExtendedStatistics") or {}).get(statistic) if percentile else point.get(statistic)
        if (value := _finite(raw)) is None:
            return None
        values.append(value)
    if not values:
        return None
    # One period covers the window; should CloudWatch split it, sums add up and the worst p99 counts.
    return sum(values) if statistic == "Sum" else max(values) if percentile else sum(values) / len(values)


def _deployed_at(variant: dict, description: dict) -> datetime | None:
    """When the variant's current model was deployed: its images' resolution time, else the endpoint's
    last change (a weight update counts too, which only shortens the evidence)."""
    times = [i.get("ResolutionTime") for i in variant.get("DeployedImages") or []]
    times = [t for t in times if isinstance(t, datetime)]
    if times:
        return max(times)
    fallback = description.get("LastModifiedTime") or description.get("CreationTime")
    return fallback if isinstance(fallback, datetime) else None


def _minute(value: datetime, up: bool) -> datetime:
    floor = value.astimezone(UTC).replace(second=0, microsecond=0)
    return floor + timedelta(minutes=1) if up and floor != value.astimezone(UTC) else floor


def evidence_window(deployed_at: datetime | None, now: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """[start, end) in whole minutes: the rule's window, cut to what came after the deployment.

    CloudWatch rounds a start down to the minute, so the start is rounded up: no datapoint from
    before the deployment is read.
    """
    start = now - window if deployed_at is None else max(now - window, deployed_at)
    return _minute(start, up=True), _minute(now, up=False)


def gather(sagemaker, cloudwatch, endpoint: str, rule: Rule, now: datetime) -> dict[str, VariantStats]:
    try:
        description = sagemaker.describe_endpoint(EndpointName=endpoint)
    except _AWS_ERRORS as error:
        raise PromotionError(f"describing endpoint {endpoint} failed: {error}") from error
    status = description.get("EndpointStatus")
    if status != "InService":
        raise EndpointBusy(f"endpoint {endpoint} is {status}, not InService; nothing judged or changed")
    variants = {v.get("VariantName"): v for v in description.get("ProductionVariants", []) if isinstance(v, dict)}
    for name in (rule.champion, rule.challenger):
        if name not in variants:
            raise PromotionError(
                f"variant {name!r} is not on endpoint {endpoint} (variants: {sorted(map(str, variants))})"
            )
    weights = {name: _finite(variants[name].get("CurrentWeight")) for name in (rule.champion, rule.challenger)}
    pair = sum(w for w in weights.values() if w is not None)
    if None in weights.values() or pair <= 0:
        raise PromotionError(f"variant weights {weights} of endpoint {endpoint} are not usable relative weights")
    start, end = evidence_window(_deployed_at(variants[rule.challenger], description), now, rule.window)
    stats = {}
    for variant in (rule.champion, rule.challenger):
        if end - start < timedelta(minutes=1):  # deployed within the last minute: no evidence yet
            values = dict.fromkeys(("invocations", "errors", "p99", "business"))
        else:
            values = {
                "invocations": _metric(cloudwatch, endpoint, variant, "Invocations", start, end),
                "errors": _metric(cloudwatch, endpoint, variant, "Invocation5XXErrors", start, end),
                "p99": _metric(cloudwatch, endpoint, variant, "ModelLatency", start, end, statistic="p99"),
                "business": _metric(cloudwatch, endpoint, variant, rule.business_metric[1], start, end,
                                    rule.business_metric[0], "Average") if rule.business_metric else None,
            }  # fmt: skip
        stats[variant] = VariantStats(
            invocations=values["invocations"],
            errors=values["errors"],
            p99_latency_us=values["p99"],
            weight=weights[variant] / pair,
            business=values["business"],
            pair_weight=pair,
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

    missing = [f"{name} {metric}" for name, s in ((rule.champion, champion), (rule.challenger, challenger))
               for metric, value in (("invocations", s.invocations), ("5XX errors", s.errors),
                                     ("p99 latency", s.p99_latency_us)) if value is None]  # fmt: skip
    if challenger.invocations is not None and challenger.invocations < rule.min_challenger_invocations:
        return outcome(
            "HOLD", f"challenger served {challenger.invocations:.0f} requests; {rule.min_challenger_invocations} needed"
        )
    if missing:
        return outcome("HOLD", f"not enough evidence since the challenger's deployment: no usable {', '.join(missing)}")
    if any(s.errors > s.invocations for s in (champion, challenger)):
        return outcome("HOLD", "not enough evidence: more 5XX errors than invocations reported")
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
        if champion.business is None or challenger.business is None:  # missing, NaN or infinite
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
    # Shares of the pair's traffic, written as relative weights that keep the pair's total.
    total = next(iter(decision.stats.values()), {}).get("pair_weight", 1.0)
    desired = [
        {"VariantName": v, "DesiredWeight": float(f"{share * total:.6g}")}
        for v, share in decision.weights_after.items()
    ]
    try:
        sagemaker.update_endpoint_weights_and_capacities(EndpointName=endpoint, DesiredWeightsAndCapacities=desired)
    except _AWS_ERRORS as error:
        raise PromotionError(f"updating the weights of {endpoint} failed, nothing changed: {error}") from error
    decision.applied = True
    return decision
