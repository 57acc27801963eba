"""The drift job's CreateProcessingJob request, as the schedule hands it to the starter."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_scheduler as scheduler

from config import MonitoringSettings
from ml_constructs.ab_endpoint import DATA_CAPTURE_PREFIX
from ml_constructs.monitoring import BASELINE_PREFIX, GROUND_TRUTH_PREFIX, PROCESSING
from ml_constructs.training_pipeline import xgboost_image


def drift_job_request(
    *,
    job_name_prefix: str,
    role_arn: str,
    region: str,
    code: assets.Asset,
    settings: MonitoringSettings,
    endpoint_name: str,
    bucket: s3.IBucket,
    key: kms.IKey,
    reports_prefix: str,
    security_group_id: str,
    subnets: list[str],
    dataset: str,
) -> dict:
    """One run's request: the scheduled time is the window's end, the execution id names the job and its
    report folder. Inputs: the code bundle, the capture, ground truth and baselines under ``monitoring/``."""

    def s3_input(input_name: str, prefix: str, local: str, mode: str = "File") -> dict:
        return {
            "InputName": input_name,
            "S3Input": {
                "S3Uri": bucket.s3_url_for_object(prefix),
                "LocalPath": local,
                "S3DataType": "S3Prefix",
                "S3InputMode": mode,
                "S3DataDistributionType": "FullyReplicated",
            },
        }

    arguments = [
        "--endpoint",
        endpoint_name,
        "--end",
        scheduler.ContextAttribute.scheduled_time,
        "--window-hours",
        str(settings.window_hours),
        "--js",
        str(settings.js_threshold),
        "--psi",
        str(settings.psi_threshold),
        "--violation-rate",
        str(settings.violation_rate),
        "--auc-floor",
        str(settings.auc_floor),
        "--label-delay-hours",
        str(settings.label_delay_hours),
        "--min-samples",
        str(settings.min_samples),
    ]
    return {
        "ProcessingJobName": f"{job_name_prefix}-{scheduler.ContextAttribute.execution_id}",
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": xgboost_image(region),
            "ContainerEntrypoint": ["python3", "-m", "pipelines.monitoring.drift"],
            "ContainerArguments": arguments,
        },
        # The code ships as one zip; Python imports straight from it.
        # The data set the job reads its features from (the processing steps of the pipeline take it the same way).
        "Environment": {"PYTHONPATH": f"{PROCESSING}/input/code/{code.s3_object_key}", "DATASET": dataset},
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": code.s3_object_url,
                    "LocalPath": f"{PROCESSING}/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
            # FastFile streams on read: the job opens only its window's hour folders.
            s3_input(
                "capture",
                f"{DATA_CAPTURE_PREFIX}{endpoint_name}/",
                f"{PROCESSING}/input/capture/{endpoint_name}",
                "FastFile",
            ),
            s3_input(
                "ground-truth",
                f"{GROUND_TRUTH_PREFIX}{endpoint_name}/",
                f"{PROCESSING}/input/ground-truth",
                "FastFile",
            ),
            s3_input("baseline", BASELINE_PREFIX, f"{PROCESSING}/input/baseline"),
        ],
        "ProcessingOutputConfig": {
            "KmsKeyId": key.key_arn,
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": bucket.s3_url_for_object(f"{reports_prefix}{scheduler.ContextAttribute.execution_id}"),
                        "LocalPath": f"{PROCESSING}/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": settings.instance_type,
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": key.key_arn,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_minutes * 60},
        "NetworkConfig": {
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": {"SecurityGroupIds": [security_group_id], "Subnets": subnets},
        },
    }
