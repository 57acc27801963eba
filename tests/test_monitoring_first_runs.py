"""First runs of monitoring: no baselines before the first approval, no labels for days, no traffic yet.

A day with nothing to judge is no failure: the drift job reports why, the publisher says so in
metrics (BaselineMissing, NoCapturedData, MissingGroundTruth), no drift is flagged, and JobFailed
is kept for jobs that really failed.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambdas.monitoring_publisher import logic as publisher
from lambdas.monitoring_starter import logic as starter
from pipelines.monitoring import drift, simulate

REGION = "eu-west-1"
ENDPOINT = "mlops-dev-churn"
LIMITS = drift.Thresholds(label_delay_hours=0, min_samples=100)
TOP = (("Endpoint", ENDPOINT),)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("first-runs")
    stats = simulate.write_baselines(root / "baselines", rows=3_000)
    pop = simulate.population(3_000, 2, stats)
    traffic = simulate.Traffic(rows=800, label_delay_hours=0, seed=4)
    simulate.write_capture(root / "capture", root / "truth", ENDPOINT, "champion", pop, traffic)
    return root


def metrics(report: dict) -> dict:
    return {(d.name, d.dimensions): d.value for d in publisher.report_metrics(report)}


def test_a_run_before_any_baseline_reports_no_baseline_and_flags_no_drift(sim, tmp_path) -> None:
    report = drift.run(sim / "capture", tmp_path / "absent", tmp_path / "out", ENDPOINT, simulate.END, 24, LIMITS,
                       None)  # fmt: skip
    assert report["status"] == "no-baseline"
    champion = report["variants"]["champion"]
    assert champion["status"] == "no-baseline" and champion["rows"] > 0 and "data_drift" not in champion
    assert champion["model_quality"]["status"] == "no-ground-truth"
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "no-baseline"
    assert "no baselines yet" in (tmp_path / "out" / "report.html").read_text()
    data = metrics(report)
    assert data[("BaselineMissing", TOP)] == 1 and data[("ReportPublished", TOP)] == 1
    assert data[("DriftedFeatures", TOP)] == 0 and data[("PredictionDriftDetected", TOP)] == 0
    # Traffic without labels: the missing-ground-truth alarm is the signal, not a failure.
    assert data[("MissingGroundTruth", TOP)] == 1


def test_a_run_without_traffic_reports_no_data_and_misses_no_labels(sim, tmp_path) -> None:
    report = drift.run(tmp_path / "no-capture", sim / "baselines", tmp_path / "out", ENDPOINT, simulate.END, 24,
                       LIMITS, None)  # fmt: skip
    assert report["status"] == "no-data" and report["variants"] == {}
    data = metrics(report)
    assert data[("NoCapturedData", TOP)] == 1 and data[("BaselineMissing", TOP)] == 0
    assert data[("MissingGroundTruth", TOP)] == 0 and data[("DriftedFeatures", TOP)] == 0


def test_a_judged_run_reports_ok(sim, tmp_path) -> None:
    report = drift.run(sim / "capture", sim / "baselines", tmp_path / "out", ENDPOINT, simulate.END, 24, LIMITS,
                       sim / "truth")  # fmt: skip
    assert report["status"] == "ok"
    data = metrics(report)
    assert data[("BaselineMissing", TOP)] == 0 and data[("NoCapturedData", TOP)] == 0
    assert data[("MissingGroundTruth", TOP)] == 0


def test_the_job_entry_point_runs_with_every_input_missing(tmp_path, capsys) -> None:
    """What the job sees on a first run once the starter left out its empty inputs: no input folder at all."""
    code = drift.main(["--capture", str(tmp_path / "c"), "--baseline", str(tmp_path / "b"), "--ground-truth",
                       str(tmp_path / "g"), "--output", str(tmp_path / "out"), "--endpoint", ENDPOINT,
                       "--end", "2026-07-01T00:00:00Z"])  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["status"] == "no-baseline"


# --- the starter: the scheduled request, without its empty inputs ---------------------------------------------


def request(bucket: str = "artifacts") -> dict:
    def item(name: str, uri: str) -> dict:
        return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{name}",
                                               "S3DataType": "S3Prefix", "S3InputMode": "File"}}  # fmt: skip

    return {
        "ProcessingJobName": "mlops-dev-drift-run1",
        "ProcessingInputs": [
            item("code", "s3://assets/bundle.zip"),
            item("capture", f"s3://{bucket}/monitoring/data-capture/{ENDPOINT}/"),
            item("ground-truth", f"s3://{bucket}/monitoring/ground-truth/{ENDPOINT}/"),
            item("baseline", f"s3://{bucket}/monitoring/baselines/current/"),
        ],
    }


@pytest.fixture
def started(fake_aws_credentials, monkeypatch):
    """The starter's handler on moto S3, with a recording SageMaker client."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "monitoring_starter")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
        import lambdas.monitoring_starter.handler as handler

        handler = importlib.reload(handler)
        calls: list[dict] = []

        class SageMaker:
            exceptions = type("E", (), {"ResourceInUse": type("ResourceInUse", (Exception,), {})})

            def create_processing_job(self, **kwargs):
                if any(c["ProcessingJobName"] == kwargs["ProcessingJobName"] for c in calls):
                    raise self.exceptions.ResourceInUse("exists")
                calls.append(kwargs)

        monkeypatch.setattr(handler, "_sagemaker", SageMaker())
        yield handler, s3, calls


def test_a_first_run_starts_the_job_with_only_the_code_and_the_inputs_that_hold_data(started, lambda_context):
    handler, s3, calls = started
    s3.put_object(Bucket="artifacts", Key=f"monitoring/data-capture/{ENDPOINT}/champion/2026/07/01/00/x.jsonl",
                  Body=b"{}")  # fmt: skip
    result = handler.lambda_handler({"request": request()}, lambda_context)
    assert result["outcome"] == "started" and result["inputs_without_data"] == ["ground-truth", "baseline"]
    (call,) = calls
    assert [i["InputName"] for i in call["ProcessingInputs"]] == ["code", "capture"]


def test_a_day_with_every_input_filled_passes_the_request_unchanged(started, lambda_context):
    handler, s3, calls = started
    for key in (f"monitoring/data-capture/{ENDPOINT}/a", f"monitoring/ground-truth/{ENDPOINT}/b",
                "monitoring/baselines/current/drift/baseline.json"):  # fmt: skip
        s3.put_object(Bucket="artifacts", Key=key, Body=b"{}")
    handler.lambda_handler({"request": request()}, lambda_context)
    assert calls == [request()]


def test_a_retried_start_of_the_same_run_is_not_an_error(started, lambda_context):
    handler, _, calls = started
    assert handler.lambda_handler({"request": request()}, lambda_context)["outcome"] == "started"
    assert handler.lambda_handler({"request": request()}, lambda_context)["outcome"] == "already-started"
    assert len(calls) == 1


def test_a_prefix_only_sharing_a_beginning_is_not_data(started) -> None:
    """ListObjectsV2 matches key prefixes: the folder's trailing slash keeps a sibling from counting."""
    _, s3, _ = started
    s3.put_object(Bucket="artifacts", Key="monitoring/baselines/current-old/x", Body=b"{}")
    assert not starter.has_objects(s3)("s3://artifacts/monitoring/baselines/current/")


@pytest.mark.parametrize(
    "event",
    [{}, {"request": None}, {"request": {"ProcessingJobName": "x"}}, {"request": {"ProcessingJobName": "x",
     "ProcessingInputs": [{"InputName": "a"}]}}, []],
)  # fmt: skip
def test_the_starter_skips_bad_events_without_crashing(started, lambda_context, event) -> None:
    handler, _, calls = started
    assert "skipped" in handler.lambda_handler(event, lambda_context) and calls == []


# --- failed jobs: a first run is no failure; a real failure still is -------------------------------------------


def failure(reason: str | None, status: str = "Failed") -> dict:
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Processing Job State Change",
            "detail": {"ProcessingJobStatus": status, "FailureReason": reason}}  # fmt: skip


def test_a_model_monitor_execution_without_capture_is_no_captured_data_not_a_failure() -> None:
    (datum,) = publisher.job_failure_metrics(failure("Job inputs had no data"), ENDPOINT, lambda: True)
    assert (datum.name, datum.value) == ("NoCapturedData", 1)


def test_a_model_monitor_execution_before_any_baseline_is_baseline_missing() -> None:
    (datum,) = publisher.job_failure_metrics(failure("ClientError: constraints not found"), ENDPOINT, lambda: False)
    assert (datum.name, datum.value) == ("BaselineMissing", 1)


@pytest.mark.parametrize(("reason", "status", "baselines"), [("AlgorithmError: boom", "Failed", lambda: True),
                         ("AlgorithmError: boom", "Failed", None), (None, "Stopped", lambda: False)])  # fmt: skip
def test_a_real_failure_is_still_job_failed(reason, status, baselines) -> None:
    (datum,) = publisher.job_failure_metrics(failure(reason, status), ENDPOINT, baselines)
    assert datum.name == "JobFailed"


def test_the_publisher_asks_s3_whether_baselines_exist_for_model_monitor(fake_aws_credentials, monkeypatch,
                                                                           lambda_context) -> None:  # fmt: skip
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("BASELINES_URI", "s3://artifacts/monitoring/baselines/current/")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "monitoring_publisher")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
        import lambdas.monitoring_publisher.handler as handler

        handler = importlib.reload(handler)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        handler.lambda_handler({**failure("ClientError: baseline"), "id": "1"}, lambda_context)
        s3.put_object(Bucket="artifacts", Key="monitoring/baselines/current/model-quality/constraints.json", Body=b"{}")
        handler.lambda_handler({**failure("ClientError: baseline"), "id": "2"}, lambda_context)
        names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=publisher.NAMESPACE)["Metrics"]}
    assert names == {"BaselineMissing", "JobFailed"}
