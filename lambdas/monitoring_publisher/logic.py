"""What the drift job's report means in CloudWatch metrics, and the events that carry it.

The job runs network-isolated, without credentials for CloudWatch; this function
reads each report when it lands and publishes, in one namespace:

- per variant (dimensions Endpoint, Variant): DriftedFeatures, PredictionDrift (JS
  distance), PredictionDriftDetected, QualityViolations, MalformedRecords,
  CapturedRows, GroundTruthSamples and, when judged, Auc, Precision, Recall, F1;
- per variant and feature (Endpoint, Variant, Feature): FeatureDrift (JS distance), FeaturePsi;
- per endpoint (Endpoint), what the alarms watch: DriftedFeatures and
  PredictionDriftDetected (worst variant), MinAuc (worst judged variant),
  MissingGroundTruth (1 when a variant with traffic could not be judged), ReportPublished, and
  what a run could not judge: BaselineMissing (no baselines yet: none before the first approved
  model) and NoCapturedData (no traffic captured in the window);
- the A/B promotion's business metric: VariantAuc with EndpointName and VariantName,
  the dimensions the promotion queries (SageMaker's own).

A failed or stopped job (SageMaker's state-change event) publishes JobFailed, except the two
first-run cases of a Model Monitor execution, which are no failure of the monitoring: no
capture in its window (FailureReason "Job inputs had no data") publishes NoCapturedData, and a
failure while no baseline has been published yet publishes BaselineMissing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

NAMESPACE = "MlPlatform/Monitoring"
BUSINESS_METRIC = "VariantAuc"
REPORT_NAME = "report.json"
# Model Monitor's FailureReason for an execution whose window holds no captured data.
NO_CAPTURE_REASON = "Job inputs had no data"
_BATCH = 500  # PutMetricData takes up to 1,000 metrics per call


class BadEvent(ValueError):
    """The event is not one this function handles; it is logged and dropped."""


@dataclass(frozen=True)
class Datum:
    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...]
    unit: str = "None"

    def as_api(self) -> dict:
        return {
            "MetricName": self.name,
            "Value": float(self.value),
            "Unit": self.unit,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
        }


def report_location(event: dict) -> tuple[str, str]:
    """(bucket, key) of an EventBridge S3 "Object Created" event for a report."""
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise BadEvent(f"not an S3 Object Created event: {event.get('source')}/{event.get('detail-type')}")
    detail = event.get("detail") or {}
    bucket, key = (detail.get("bucket") or {}).get("name"), (detail.get("object") or {}).get("key")
    if not bucket or not key or not key.endswith(REPORT_NAME):
        raise BadEvent(f"not a drift report: {bucket}/{key}")
    return bucket, key


def report_metrics(report: dict) -> list[Datum]:
    endpoint = report.get("endpoint")
    variants = report.get("variants")
    if not isinstance(endpoint, str) or not isinstance(variants, dict):
        raise BadEvent("report has no endpoint or variants")
    data: list[Datum] = []
    worst_drift, worst_prediction, missing, aucs = 0, 0, 0, []
    for variant, r in variants.items():
        dims = (("Endpoint", endpoint), ("Variant", variant))
        quality = r.get("model_quality", {})
        drifted = len(r.get("data_drift", {}).get("drifted_features", []))
        prediction = r.get("prediction_drift", {})
        data += [
            Datum("DriftedFeatures", drifted, dims, "Count"),
            Datum("QualityViolations", len(r.get("data_quality", {}).get("violations", [])), dims, "Count"),
            Datum("MalformedRecords", r.get("malformed_records", 0), dims, "Count"),
            Datum("CapturedRows", r.get("rows", 0), dims, "Count"),
            Datum("GroundTruthSamples", quality.get("samples", 0), dims, "Count"),
        ]
        if prediction:
            data.append(Datum("PredictionDrift", prediction["js"], dims))
            data.append(Datum("PredictionDriftDetected", int(prediction["drifted"]), dims))
            worst_prediction = max(worst_prediction, int(prediction["drifted"]))
        for feature, d in r.get("data_drift", {}).get("features", {}).items():
            fdims = (*dims, ("Feature", feature))
            data += [Datum("FeatureDrift", d["js"], fdims), Datum("FeaturePsi", d["psi"], fdims)]
        if quality.get("status") == "ok":
            data += [Datum(k.capitalize(), quality[k], dims) for k in ("auc", "precision", "recall", "f1")]
            data.append(Datum(BUSINESS_METRIC, quality["auc"], (("EndpointName", endpoint), ("VariantName", variant))))
            aucs.append(quality["auc"])
        elif quality.get("captured", 0) > 0:
            missing = 1
        worst_drift = max(worst_drift, drifted)
    top = (("Endpoint", endpoint),)
    data += [
        Datum("DriftedFeatures", worst_drift, top, "Count"),
        Datum("PredictionDriftDetected", worst_prediction, top),
        Datum("MissingGroundTruth", missing, top),
        Datum("ReportPublished", 1, top, "Count"),
        Datum("BaselineMissing", int(report.get("status") == "no-baseline"), top, "Count"),
        Datum("NoCapturedData", int(report.get("status") == "no-data"), top, "Count"),
    ]
    if aucs:
        data.append(Datum("MinAuc", min(aucs), top))
    return data


def job_failure_metrics(
    event: dict, endpoint: str, baseline_published: Callable[[], bool] | None = None
) -> list[Datum]:
    """JobFailed for a SageMaker Processing Job State Change event of a failed or stopped monitoring job;
    NoCapturedData or BaselineMissing for a Model Monitor execution that had nothing to judge
    (``baseline_published`` tells whether baselines exist; None: not asked)."""
    if event.get("source") != "aws.sagemaker" or event.get("detail-type") != "SageMaker Processing Job State Change":
        raise BadEvent(f"not a processing job state change: {event.get('source')}/{event.get('detail-type')}")
    status = (event.get("detail") or {}).get("ProcessingJobStatus")
    if status not in ("Failed", "Stopped"):
        raise BadEvent(f"job status {status!r} is not a failure")
    top = (("Endpoint", endpoint),)
    if status == "Failed" and NO_CAPTURE_REASON in str(event["detail"].get("FailureReason") or ""):
        return [Datum("NoCapturedData", 1, top, "Count")]
    if status == "Failed" and baseline_published is not None and not baseline_published():
        return [Datum("BaselineMissing", 1, top, "Count")]
    return [Datum("JobFailed", 1, top, "Count")]


def publish(cloudwatch, data: list[Datum]) -> int:
    for start in range(0, len(data), _BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[d.as_api() for d in data[start : start + _BATCH]])
    return len(data)


def read_report(s3, bucket: str, key: str) -> dict:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        report = json.loads(body)
    except ValueError as error:
        raise BadEvent(f"report {key} is not JSON: {error}") from error
    if not isinstance(report, dict):
        raise BadEvent(f"report {key} is not a JSON object")
    return report
