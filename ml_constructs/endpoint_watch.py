"""What watches an A/B endpoint: its per-variant metrics, alarms, dashboard and update policy.

Functions, not constructs: the alarms and the dashboard are created in the endpoint construct's
own scope, so their logical ids do not depend on this module.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import ServingSettings
from config.profiles import INSTANCE_VCPUS
from ml_constructs.alarms import BELOW, AlarmSpec

CHAMPION, CHALLENGER, SHADOW = "champion", "challenger", "shadow"
# A blue/green update rolls back when one of these fires for any variant.
ROLLBACK_KINDS = ("5xx-rate", "p99-latency")
_INSTANCE = "/aws/sagemaker/Endpoints"


def variants(settings: ServingSettings) -> tuple[str, ...]:
    """The endpoint's production variants: the champion, and the challenger unless the profile has none."""
    return (CHAMPION, CHALLENGER) if settings.challenger else (CHAMPION,)


def approved_variant(settings: ServingSettings) -> str:
    """The variant a newly approved package replaces: the challenger, or the champion when it is alone."""
    return variants(settings)[-1]


def variant_metric(
    endpoint_name: str,
    metric_name: str,
    variant: str,
    statistic: str = "Sum",
    namespace: str = "AWS/SageMaker",
    minutes: int = 1,
) -> cw.Metric:
    """A per-variant metric of the endpoint ``endpoint_name``."""
    return cw.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant},
        statistic=statistic,
        period=Duration.minutes(minutes),
    )


def rollback_alarm_names(name: str, settings: ServingSettings) -> list[str]:
    """The alarms a blue/green update rolls back on: ``<name>-<variant>-<kind>`` of every variant."""
    return [f"{name}-{v}-{kind}" for v in variants(settings) for kind in ROLLBACK_KINDS]


def variant_alarm_specs(
    *, name: str, endpoint_name: str, settings: ServingSettings, topic: sns.ITopic
) -> list[AlarmSpec]:
    """Every variant's guardrail alarms, named ``<name>-<variant>-<kind>``."""
    vcpus = INSTANCE_VCPUS[settings.instance_type]

    def metric(metric_name: str, variant: str, statistic: str = "Sum", namespace: str = "AWS/SageMaker",
               minutes: int = 1) -> cw.Metric:  # fmt: skip
        return variant_metric(endpoint_name, metric_name, variant, statistic, namespace, minutes)

    def rate(errors: str, variant: str) -> cw.MathExpression:
        return cw.MathExpression(
            expression="IF(invocations > 0, errors / invocations, 0)",
            using_metrics={"errors": metric(errors, variant), "invocations": metric("Invocations", variant)},
            period=Duration.minutes(1),
        )

    def spec(variant: str, kind: str, description: str, watched: cw.IMetric, threshold: float, periods: int,
             **more) -> AlarmSpec:  # fmt: skip
        return AlarmSpec(
            construct_id=f"{variant.capitalize()}{kind.title().replace('-', '')}Alarm",
            alarm_name=f"{name}-{variant}-{kind}",
            description=f"{variant}: {description}",
            metric=watched,
            threshold=threshold,
            periods=periods,
            topic=topic,
            **more,
        )

    specs = []
    for variant in variants(settings):
        specs += [
            spec(variant, "5xx-rate", "Server errors above 1% of requests", rate("Invocation5XXErrors", variant), 0.01, 2),
            spec(variant, "4xx-rate", "Client errors above 5% of requests", rate("Invocation4XXErrors", variant), 0.05, 5),
            spec(variant, "p99-latency", "p99 model latency above the profile's limit", metric("ModelLatency", variant, "p99"),
                 settings.p99_latency_alarm_ms * 1000, 3),
            spec(variant, "overhead-latency", "p99 overhead latency above 100 ms", metric("OverheadLatency", variant, "p99"),
                 100_000, 3),
            # CPUUtilization is summed over the instance's cores (0-100% each); memory is not.
            spec(variant, "cpu", f"CPU above {settings.cpu_alarm_percent}% of its {vcpus} vCPUs (scaling is not keeping up)",
                 metric("CPUUtilization", variant, "Average", _INSTANCE), settings.cpu_alarm_percent * vcpus, 5),
            spec(variant, "memory", "Memory above 80%", metric("MemoryUtilization", variant, "Average", _INSTANCE), 80, 5),
        ]  # fmt: skip
        if settings.idle_alarm:
            # SageMaker publishes no Invocations datapoint without requests: missing data is the signal.
            specs.append(
                spec(variant, "no-invocations", "No requests for an hour (clients cannot reach the endpoint?)",
                     metric("Invocations", variant, minutes=60), 1, 1, comparison=BELOW,
                     missing=cw.TreatMissingData.BREACHING)
            )  # fmt: skip
    return specs


def endpoint_dashboard(
    scope: Construct, *, name: str, endpoint_name: str, settings: ServingSettings, rollback_alarms: list[str]
) -> cw.Dashboard:
    """Every production variant, side by side (construct id ``Dashboard`` in ``scope``)."""
    shown = variants(settings)
    dashboard = cw.Dashboard(scope, "Dashboard", dashboard_name=f"{name}-endpoint")
    lead = "Champion and challenger side by side" if CHALLENGER in shown else "The champion, alone"
    dashboard.add_widgets(
        cw.TextWidget(
            markdown=f"# {name} endpoint\n{lead}; rollback alarms: " + ", ".join(rollback_alarms),
            width=24,
            height=2,
        )
    )
    for title, metric_name, statistic, namespace in (
        ("Invocations", "Invocations", "Sum", "AWS/SageMaker"),
        ("5XX errors", "Invocation5XXErrors", "Sum", "AWS/SageMaker"),
        ("4XX errors", "Invocation4XXErrors", "Sum", "AWS/SageMaker"),
        ("Model latency p99 (µs)", "ModelLatency", "p99", "AWS/SageMaker"),
        ("Overhead latency p99 (µs)", "OverheadLatency", "p99", "AWS/SageMaker"),
        ("CPU %", "CPUUtilization", "Average", _INSTANCE),
        ("Memory %", "MemoryUtilization", "Average", _INSTANCE),
    ):
        left = [variant_metric(endpoint_name, metric_name, v, statistic, namespace).with_(label=v) for v in shown]
        dashboard.add_widgets(cw.GraphWidget(title=title, width=12, left=left))
    return dashboard


def deployment_config(settings: ServingSettings, rollback_alarms: list[str]) -> dict:
    """The endpoint's blue/green update policy: the routing the variants' instance counts allow."""
    bake = settings.bake_minutes * 60
    if settings.canary_instances:
        # A canary sized in instances: at most half of each variant (the profile checks it).
        routing = {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": settings.canary_instances},
            "WaitIntervalInSeconds": bake,
        }
    else:
        # One instance cannot host a canary: shift everything at once, then bake under the alarms.
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": bake,
            "MaximumExecutionTimeoutInSeconds": 3600 + 2 * bake,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in rollback_alarms]},
    }
