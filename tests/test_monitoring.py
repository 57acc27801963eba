"""Monitoring: the report publisher (moto), the stack in both profiles, and the Model Monitor engine."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from config import PROFILES, ProfileError
from lambdas.monitoring_publisher import logic
from pipelines.data import spec as specs
from pipelines.monitoring import drift, simulate
from tests.conftest import Assembly, run_synth

REGION = "eu-west-1"
ENDPOINT = "mlops-dev-churn"
# The feature the challenger's traffic shifts: the active data set's first numeric field.
SHIFTED = next(f.name for f in specs.active().fields if f.kind in specs.NUMERIC_KINDS)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """A real report of the drift job: a shifted challenger, labels for both variants."""
    root = tmp_path_factory.mktemp("publisher")
    stats = simulate.write_baselines(root / "baselines", rows=4_000)
    pop = simulate.population(4_000, 2, stats)
    for seed, variant in enumerate(simulate.VARIANTS):
        shift = {"feature": SHIFTED, "add": 10.0} if variant == "challenger" else None
        traffic = simulate.Traffic(rows=1_500, label_delay_hours=0, shift=shift, seed=seed)
        simulate.write_capture(root / "capture", root / "truth", ENDPOINT, variant, pop, traffic)
    limits = drift.Thresholds(label_delay_hours=0, min_samples=100)
    return drift.run(root / "capture", root / "baselines", root / "out", ENDPOINT, simulate.END, 24, limits,
                     root / "truth")  # fmt: skip


def by_key(data: list[logic.Datum]) -> dict[tuple, float]:
    return {(d.name, d.dimensions): d.value for d in data}


def test_report_metrics_carry_endpoint_variant_and_feature(report) -> None:
    data = by_key(logic.report_metrics(report))
    champion = (("Endpoint", ENDPOINT), ("Variant", "champion"))
    challenger = (("Endpoint", ENDPOINT), ("Variant", "challenger"))
    assert data[("DriftedFeatures", challenger)] == 1 and data[("DriftedFeatures", champion)] == 0
    assert data[("FeatureDrift", (*challenger, ("Feature", SHIFTED)))] > 0.1
    assert data[("DriftedFeatures", (("Endpoint", ENDPOINT),))] == 1
    aucs = [report["variants"][v]["model_quality"]["auc"] for v in simulate.VARIANTS]
    assert data[("MinAuc", (("Endpoint", ENDPOINT),))] == min(aucs)
    assert data[("MissingGroundTruth", (("Endpoint", ENDPOINT),))] == 0


def test_the_business_metric_has_the_dimensions_the_ab_promotion_queries(report) -> None:
    """lambdas/ab_promotion reads BUSINESS_METRIC "Namespace|MetricName" with EndpointName and VariantName."""
    import inspect

    from lambdas.ab_promotion import logic as promotion

    source = inspect.getsource(promotion._metric)
    assert '"EndpointName"' in source and '"VariantName"' in source
    data = by_key(logic.report_metrics(report))
    for variant in simulate.VARIANTS:
        key = (logic.BUSINESS_METRIC, (("EndpointName", ENDPOINT), ("VariantName", variant)))
        assert data[key] == report["variants"][variant]["model_quality"]["auc"]


def test_a_variant_with_traffic_but_too_few_labels_is_missing_ground_truth(report) -> None:
    starved = json.loads(json.dumps(report))
    starved["variants"]["champion"]["model_quality"] = {"status": "insufficient", "samples": 3, "captured": 1500}
    data = by_key(logic.report_metrics(starved))
    assert data[("MissingGroundTruth", (("Endpoint", ENDPOINT),))] == 1
    assert ("Auc", (("Endpoint", ENDPOINT), ("Variant", "champion"))) not in data


@pytest.fixture
def publisher(fake_aws_credentials, monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "monitoring_publisher")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
        import lambdas.monitoring_publisher.handler as handler

        yield importlib.reload(handler), s3, boto3.client("cloudwatch", region_name=REGION)


def s3_event(key: str) -> dict:
    return {"id": "e1", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "artifacts"}, "object": {"key": key}}}  # fmt: skip


def published(cloudwatch) -> set[tuple[str, tuple]]:
    metrics = cloudwatch.list_metrics(Namespace=logic.NAMESPACE)["Metrics"]
    return {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in metrics}


def test_handler_publishes_a_report_that_lands(publisher, report, lambda_context) -> None:
    handler, s3, cloudwatch = publisher
    key = f"monitoring/reports/{ENDPOINT}/abc123/report.json"
    s3.put_object(Bucket="artifacts", Key=key, Body=json.dumps(report).encode())
    result = handler.lambda_handler(s3_event(key), lambda_context)
    assert result["published"] == len(logic.report_metrics(report)) > 100
    seen = published(cloudwatch)
    assert ("ReportPublished", (("Endpoint", ENDPOINT),)) in seen
    assert ("FeatureDrift", (("Endpoint", ENDPOINT), ("Feature", SHIFTED), ("Variant", "challenger"))) in seen


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "artifacts"},
                                                                          "object": {"key": "monitoring/x.html"}}},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": None},
        {"source": "aws.sagemaker", "detail-type": "SageMaker Processing Job State Change",
         "detail": {"ProcessingJobStatus": "Completed"}},
        {"source": "aws.events"},
        {},
    ],
)  # fmt: skip
def test_handler_skips_events_it_does_not_handle_without_crashing(publisher, event, lambda_context) -> None:
    handler, _, cloudwatch = publisher
    assert handler.lambda_handler(event, lambda_context)["published"] == 0
    assert published(cloudwatch) == set()


def test_handler_skips_a_report_that_is_not_json(publisher, lambda_context) -> None:
    handler, s3, _ = publisher
    key = f"monitoring/reports/{ENDPOINT}/bad/report.json"
    s3.put_object(Bucket="artifacts", Key=key, Body=b"{not json")
    assert "not JSON" in handler.lambda_handler(s3_event(key), lambda_context)["skipped"]


def test_handler_turns_a_failed_job_into_job_failed(publisher, lambda_context) -> None:
    handler, _, cloudwatch = publisher
    event = {"id": "e2", "source": "aws.sagemaker", "detail-type": "SageMaker Processing Job State Change",
             "detail": {"ProcessingJobStatus": "Failed", "ProcessingJobName": "mlops-dev-drift-x"}}  # fmt: skip
    assert handler.lambda_handler(event, lambda_context)["published"] == 1
    assert published(cloudwatch) == {("JobFailed", (("Endpoint", ENDPOINT),))}


# --- the stack, as synthesized for each profile -------------------------------------------------


def test_the_drift_job_is_a_scheduled_network_isolated_processing_job(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].monitoring
    (schedule,) = assembly.resources("monitoring", "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == settings.schedule
    target = props["Target"]
    # The starter function, which leaves out inputs without data (SageMaker starts no job on an empty prefix).
    assert target["Arn"]["Fn::GetAtt"][0].startswith("DriftJobStarterFunction")
    assert target["Input"]["Fn::Join"][1][0].startswith('{"request":{')
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "Arn" in target["DeadLetterConfig"]
    text = json.dumps(target["Input"])
    for required in ('\\"EnableNetworkIsolation\\":true', '\\"EnableInterContainerTrafficEncryption\\":true',
                     "VolumeKmsKeyId", "KmsKeyId", "SecurityGroupIds", "Subnets", "<aws.scheduler.scheduled-time>",
                     "<aws.scheduler.execution-id>", "pipelines.monitoring.drift", "sagemaker-xgboost"):  # fmt: skip
        assert required in text, required


def test_the_scheduler_invokes_only_the_starter_which_starts_only_drift_jobs(assembly: Assembly) -> None:
    policies = assembly.resources("monitoring", "AWS::IAM::ManagedPolicy")

    def statements_of(prefix: str) -> list[dict]:
        (policy,) = [p for k, p in policies.items() if k.startswith(prefix)]
        return policy["Properties"]["PolicyDocument"]["Statement"]

    def actions(statements: list[dict]) -> list[str]:
        return sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))

    scheduler = statements_of("DriftJobSchedulerRole")
    assert actions(scheduler) == ["lambda:InvokeFunction", "sqs:SendMessage"]
    invoke = next(s for s in scheduler if s.get("Sid") == "Invoke")
    assert "DriftJobStarterFunction" in json.dumps(invoke["Resource"])
    starter = [s for s in statements_of("DriftJobStarterExecutionRole") if s.get("Sid")]
    start = next(s for s in starter if s["Sid"] == "Start")
    assert sorted(start["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateProcessingJob"]
    assert f"processing-job/mlops-{assembly.profile}-drift-*" in json.dumps(start["Resource"])
    passing = next(s for s in starter if s["Sid"] == "PassJobRole")
    assert "DriftJobJobRole" in json.dumps(passing["Resource"])
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    listing = next(s for s in starter if s["Sid"] == "ListInputs")
    assert listing["Action"] == "s3:ListBucket" and listing["Condition"]["StringLike"]["s3:prefix"] == ["monitoring/*"]


def test_retraining_alarms_exist_under_the_prefix_the_training_rule_listens_for(assembly: Assembly) -> None:
    rules = assembly.resources("training", "AWS::Events::Rule").values()
    prefixes = [r["Properties"]["EventPattern"]["detail"]["alarmName"][0]["prefix"] for r in rules
                if "alarmName" in r["Properties"].get("EventPattern", {}).get("detail", {})]  # fmt: skip
    assert prefixes
    alarms = assembly.resources("monitoring", "AWS::CloudWatch::Alarm").values()
    names = [a["Properties"].get("AlarmName", "") for a in alarms]
    for kind in ("data-drift", "prediction-drift", "model-quality"):
        assert any(n == f"{prefixes[0]}{kind}" for n in names), kind
    assert not any(n.startswith(prefixes[0]) for n in names if "ground-truth" in n or "job-failed" in n)


def test_every_monitoring_alarm_notifies_the_alarm_topic(assembly: Assembly) -> None:
    alarms = assembly.resources("monitoring", "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 7
    for alarm in alarms.values():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert "AlarmTopic" in json.dumps(action)


def test_portable_alarms_watch_metrics_the_publisher_really_emits(assembly: Assembly, report) -> None:
    emitted = {(d.name, tuple(k for k, _ in d.dimensions)) for d in logic.report_metrics(report)}
    emitted.add(("JobFailed", ("Endpoint",)))
    for alarm in assembly.resources("monitoring", "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") != logic.NAMESPACE:
            continue
        dims = tuple(d["Name"] for d in props["Dimensions"])
        assert (props["MetricName"], dims) in emitted, props["AlarmName"]


def test_the_dashboard_covers_endpoint_promotion_pipeline_ingest_etl_and_drift(assembly: Assembly) -> None:
    (dashboard,) = assembly.resources("monitoring", "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("Invocations", "ModelLatency", "ExecutionFailed",
                   "IteratorAgeMilliseconds", "RecordsFailed", "glue.driver", "RejectedRows", "CuratedRows", "DriftedFeatures",
                   "Auc", "BaselineMissing", "NoCapturedData"):  # fmt: skip
        assert needle in body, needle
    # The promotion's decisions where it runs: the profile has a challenger.
    assert ("PromotionDecisions" in body) == PROFILES[assembly.profile].serving.challenger


def test_the_publisher_reacts_to_reports_and_job_failures(assembly: Assembly) -> None:
    rules = [r["Properties"] for r in assembly.resources("monitoring", "AWS::Events::Rule").values()]
    patterns = json.dumps([r["EventPattern"] for r in rules])
    assert "Object Created" in patterns and "monitoring/reports/*/report.json" in patterns
    assert "SageMaker Processing Job State Change" in patterns
    for rule in rules:
        (target,) = rule["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "Arn" in target["DeadLetterConfig"]


def test_the_artifact_bucket_sends_events_to_eventbridge(assembly: Assembly) -> None:
    buckets = assembly.resources("data-lake", "AWS::S3::Bucket")
    (artifacts,) = [b for k, b in buckets.items() if k.startswith("Artifacts")]
    assert artifacts["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]


def test_monitoring_stack_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    name = assembly.stack_name("monitoring")
    assert name in assembly.posture.stacks
    assert [f.rule for f in assembly.posture.findings_for(name) if f.severity == "error"] == []


# --- the Model Monitor engine -------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_monitor(tmp_path_factory) -> Assembly:
    outdir = tmp_path_factory.mktemp("cdk-model-monitor")
    result = run_synth(outdir, "profile=prod", "monitoring_engine=model-monitor")
    assert (outdir / "manifest.json").exists(), result.stderr[-4000:]
    return Assembly("prod", outdir, result, True)


def test_model_monitor_engine_synthesizes_clean(model_monitor: Assembly) -> None:
    for stack in model_monitor.posture.stacks:
        errors = [f"{f.rule} at {f.path}" for f in model_monitor.posture.findings_for(stack) if f.severity == "error"]
        assert errors == [], stack
    assert model_monitor.resources("monitoring", "AWS::Scheduler::Schedule") == {}


@pytest.mark.parametrize("kind", ["DataQuality", "ModelQuality"])
def test_model_monitor_jobs_are_isolated_encrypted_and_in_the_vpc(model_monitor: Assembly, kind: str) -> None:
    (definition,) = model_monitor.resources("monitoring", f"AWS::SageMaker::{kind}JobDefinition").values()
    props = definition["Properties"]
    network = props["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True and network["EnableInterContainerTrafficEncryption"] is True
    assert network["VpcConfig"]["Subnets"] and network["VpcConfig"]["SecurityGroupIds"]
    assert "VolumeKmsKeyId" in props["JobResources"]["ClusterConfig"]
    assert "KmsKeyId" in props[f"{kind}JobOutputConfig"]
    assert "sagemaker-model-monitor-analyzer" in json.dumps(props[f"{kind}AppSpecification"])
    # Without it the analyzer publishes no CloudWatch metric and every alarm below watches nothing (the SDK's
    # enable_cloudwatch_metrics=True sets exactly this variable).
    assert props[f"{kind}AppSpecification"]["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}
    schedules = model_monitor.resources("monitoring", "AWS::SageMaker::MonitoringSchedule").values()
    assert kind in [s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"] for s in schedules]


def test_model_monitor_alarms_use_its_namespaces_metric_names_and_dimensions(model_monitor: Assembly) -> None:
    """Model Monitor publishes feature_baseline_drift_<feature> in aws/sagemaker/Endpoints/data-metrics and
    auc etc. in aws/sagemaker/Endpoints/model-metrics, with dimensions Endpoint and MonitoringSchedule."""
    alarms = [a["Properties"] for a in model_monitor.resources("monitoring", "AWS::CloudWatch::Alarm").values()]
    seen = set()
    for alarm in alarms:
        metrics = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        metrics += [alarm] if "MetricName" in alarm else []
        for metric in metrics:
            if metric["Namespace"].startswith("aws/sagemaker/"):
                assert sorted(d["Name"] for d in metric["Dimensions"]) == ["Endpoint", "MonitoringSchedule"]
                seen.add((metric["Namespace"], metric["MetricName"].split("_")[0] if "_" in metric["MetricName"]
                          else metric["MetricName"]))  # fmt: skip
    assert ("aws/sagemaker/Endpoints/data-metrics", "feature") in seen
    assert ("aws/sagemaker/Endpoints/model-metrics", "auc") in seen
    # Model Monitor names headerless CSV columns _c0, _c1... and the baseline follows it (baseline.positional):
    # its per-feature metric is feature_baseline_drift__c<i>, one alarm input per feature.
    from pipelines.training.baseline import positional
    from pipelines.training.features import FEATURES
    from posture.metrics_catalog import emitted

    columns = positional({"features": [{"name": f} for f in FEATURES]})["features"]
    drift = {
        m["MetricStat"]["Metric"]["MetricName"]
        for a in alarms
        for m in a.get("Metrics", [])
        if "MetricStat" in m and m["MetricStat"]["Metric"]["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
    }
    assert drift == {f"feature_baseline_drift_{c['name']}" for c in columns}
    for alarm in alarms:
        for metric in [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m] + (
            [alarm] if "MetricName" in alarm else []
        ):
            dims = {d["Name"] for d in metric.get("Dimensions", [])}
            assert emitted(metric["Namespace"], metric["MetricName"], dims), (alarm["AlarmName"], metric["MetricName"])
    names = [a["AlarmName"] for a in alarms]
    assert "mlops-prod-retrain-model-quality" in names and any(
        n.startswith("mlops-prod-retrain-data-drift") for n in names
    )


# --- the profile ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("engine", "clarify"), ("schedule", "every day"), ("js_threshold", 0.0), ("psi_threshold", 1.5),
     ("auc_floor", 0.3), ("label_delay_hours", -1), ("min_samples", 1), ("instance_type", "m5.large")],
)  # fmt: skip
def test_monitoring_settings_are_validated(field: str, value: object) -> None:
    profile = PROFILES["dev"]
    with pytest.raises(ProfileError, match=f"monitoring.{field}"):
        dataclasses.replace(profile, monitoring=dataclasses.replace(profile.monitoring, **{field: value}))


def test_the_base_profile_sets_monitoring_explicitly() -> None:
    # Every other profile derives from it (config.profiles.derive) and overrides what differs.
    source = (Path(__file__).resolve().parents[1] / "config" / "profiles.py").read_text()
    assert source.count("monitoring=MonitoringSettings(") == 1
