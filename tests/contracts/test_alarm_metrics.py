"""Every alarm watches a metric its service really emits, on resources that exist."""

from __future__ import annotations

import json
from pathlib import Path

from posture.contracts.model import Assembly
from posture.metrics_catalog import CATALOG, emitted
from posture.ml_pack.alarm_action import alarm_problems
from tests.contracts import scenarios

ROOT = Path(__file__).resolve().parents[2]

# A dimension whose value names a resource: the resource type it must name (and the attribute).
DIMENSION_TARGETS = {
    "FunctionName": ("AWS::Lambda::Function", "Ref"),
    "QueueName": ("AWS::SQS::Queue", "QueueName"),
    "StreamName": ("AWS::Kinesis::Stream", "Ref"),
    "DeliveryStreamName": ("AWS::KinesisFirehose::DeliveryStream", "Ref"),
    "EndpointName": ("AWS::SageMaker::Endpoint", "EndpointName"),
    "JobName": ("AWS::Glue::Job", "Ref"),
    "RuleName": ("AWS::Events::Rule", "Ref"),
}


def alarm_metrics(asm: Assembly) -> list[tuple[str, dict]]:
    """(alarm logical id, metric) for every metric an alarm reads, metric-math inputs included."""
    out = []
    for alarm in asm.resources("AWS::CloudWatch::Alarm"):
        props = asm.props(alarm)
        if "MetricName" in props:
            out.append((alarm.logical_id, {k: props.get(k) for k in ("Namespace", "MetricName", "Dimensions")}))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                out.append((alarm.logical_id, query["MetricStat"]["Metric"]))
            else:
                assert "Expression" in query, f"{alarm.logical_id}: a query with neither metric nor expression"
    return out


def _names(asm: Assembly, cfn_type: str, attribute: str) -> set[str]:
    return {
        asm.resolve(r.stack, {"Ref": r.logical_id})
        if attribute == "Ref"
        else asm.get_att(r.stack, r.logical_id, attribute)
        for r in asm.resources(cfn_type)
    }


def _variants(asm: Assembly, endpoint_name: str) -> set[str]:
    for endpoint in asm.resources("AWS::SageMaker::Endpoint"):
        if asm.get_att(endpoint.stack, endpoint.logical_id, "EndpointName") == endpoint_name:
            config = asm.find(asm.props(endpoint)["EndpointConfigName"])
            return {v["VariantName"] for v in asm.props(config)["ProductionVariants"]}
    return set()


def _service_names(asm: Assembly) -> set[str]:
    return {
        asm.props(f).get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        for f in asm.resources("AWS::Lambda::Function")
    }


def filter_metrics(model) -> set[tuple[str, str, frozenset[str]]]:
    """Metrics the assembly's own log metric filters publish (namespace, name, dimension names)."""
    out = set()
    for resource in model.resources("AWS::Logs::MetricFilter"):
        for transform in model.props(resource)["MetricTransformations"]:
            dims = frozenset(d["Key"] for d in transform.get("Dimensions") or [])
            out.add((transform["MetricNamespace"], transform["MetricName"], dims))
    return out


def test_every_alarm_metric_is_in_the_catalog_with_its_exact_dimensions(model) -> None:
    problems = []
    own = filter_metrics(model)
    for alarm, metric in alarm_metrics(model):
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
        if (metric["Namespace"], metric["MetricName"], frozenset(dims)) in own:
            continue
        if not emitted(metric["Namespace"], metric["MetricName"], set(dims)):
            problems.append(f"{alarm}: {metric['Namespace']} {metric['MetricName']} {sorted(dims)} is not emitted")
    assert not problems, "\n".join(problems)


def test_every_alarm_dimension_names_a_real_resource(model) -> None:
    problems = []
    for alarm, metric in alarm_metrics(model):
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
        for name, value in dims.items():
            if name in DIMENSION_TARGETS and value not in _names(model, *DIMENSION_TARGETS[name]):
                problems.append(f"{alarm}: {name}={value} names no {DIMENSION_TARGETS[name][0]} of the assembly")
            if name == "VariantName" and value not in _variants(model, dims.get("EndpointName", "")):
                problems.append(f"{alarm}: VariantName={value} is not a variant of {dims.get('EndpointName')}")
            if name == "service" and value not in _service_names(model):
                problems.append(f"{alarm}: service={value} is no function's POWERTOOLS_SERVICE_NAME")
    assert not problems, "\n".join(problems)


def test_catalog_rows_cite_a_source() -> None:
    for row in CATALOG:
        assert row.names and row.dimension_sets
        assert row.source.startswith(("https://docs.aws.amazon.com/", "lambdas/", "ml_constructs/"))
        assert row.source.startswith("https://") or (ROOT / row.source).is_file(), row.source
    # A dimension set is exact: an endpoint metric without its variant is a different, unpublished metric.
    assert emitted("AWS/SageMaker", "Invocations", {"EndpointName", "VariantName"})
    assert not emitted("AWS/SageMaker", "Invocations", {"EndpointName"})
    assert not emitted("AWS/Glue", "glue.driver.aggregate.numFailedTasks", {"JobName", "JobRunId", "Type"})
    # A prefix row matches its per-feature names only, with the exact dimensions.
    assert emitted(
        "aws/sagemaker/Endpoints/data-metrics", "feature_baseline_drift__c3", {"Endpoint", "MonitoringSchedule"}
    )
    assert not emitted("aws/sagemaker/Endpoints/data-metrics", "feature_baseline_drift__c3", {"EndpointName"})
    assert not emitted("aws/sagemaker/Endpoints/data-metrics", "baseline_drift__c3", {"Endpoint", "MonitoringSchedule"})


def _emf(out: str) -> set[tuple[str, str, frozenset[str]]]:
    found = set()
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    found.add((directive["Namespace"], metric["Name"], frozenset(dimensions)))
    return found


def test_the_platform_s_own_metrics_are_what_its_handlers_emit(models, monkeypatch, fake_aws_credentials,
                                                                lambda_context, capsys) -> None:  # fmt: skip
    """Run each handler with its template environment; every metric it prints (EMF) is a catalog row."""
    asm = models["dev"]
    scenarios.run_handler(asm, monkeypatch, "retraining_guard", scenarios.schedule_event(), lambda_context,
                          scenarios.guard_responses)  # fmt: skip
    scenarios.run_handler(asm, monkeypatch, "ab_promotion", {"dry_run": True}, lambda_context,
                          scenarios.promotion_responses)  # fmt: skip
    scenarios.run_handler(asm, monkeypatch, "ab_promotion", {"unknown": 1}, lambda_context)
    scenarios.run_handler(asm, monkeypatch, "firehose_transform", scenarios.firehose_event(), lambda_context)
    scenarios.run_handler(asm, monkeypatch, "model_deployer", {"detail-type": "other"}, lambda_context)
    deployer = scenarios.function_by_handler(asm, "model_deployer.handler.lambda_handler")
    group = asm.props(deployer)["Environment"]["Variables"]["MODEL_PACKAGE_GROUP"]
    scenarios.run_handler(asm, monkeypatch, "model_deployer", scenarios.approval_event(asm, group), lambda_context,
                          scenarios.deployer_responses)  # fmt: skip
    found = _emf(capsys.readouterr().out)
    assert {ns for ns, _, _ in found} >= {"MlPlatform/Retraining", "MlPlatform/Serving", "MlPlatform/Ingest"}
    missing = sorted(f"{ns} {name} {sorted(dims)}" for ns, name, dims in found if not emitted(ns, name, dims))
    assert not missing, "emitted but not in posture/metrics_catalog.py:\n" + "\n".join(missing)


def test_every_alarm_in_every_stack_notifies_a_topic_of_the_platform(model) -> None:
    """One check with the ML pack's AlarmAction rule (posture/ml_pack/alarm_action.py) for "acts at all",
    then the stricter platform rule: the action is one of the platform's topics."""
    silent, elsewhere = [], []
    for alarm in model.resources("AWS::CloudWatch::Alarm"):
        silent += [f"{alarm.stack} {alarm.logical_id}: {p}" for p in alarm_problems(model, alarm)]
        actions = model.props(alarm).get("AlarmActions") or []
        if not actions:
            silent.append(f"{alarm.stack} {alarm.logical_id}: acts only through a rule, a rollback or a composite")
        for action in actions:
            target = model.find(action)
            if target is None or target.type != "AWS::SNS::Topic":
                elsewhere.append(f"{alarm.logical_id} -> {action}")
    assert not silent, f"alarms that notify nobody: {silent}"
    assert not elsewhere, f"alarm actions that are not the platform's topics: {elsewhere}"
