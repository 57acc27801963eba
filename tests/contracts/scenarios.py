"""Each runtime component's real handler, run once with the environment its template gives it.

Clients are created inside ``recording()``, so every AWS call the code makes is captured;
canned responses describe the account the way the templates built it (the endpoint config
the serving stack synthesized, an approved package of the configured group...).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from posture.contracts.access import function_by_handler
from posture.contracts.calls import Recorder, recording
from posture.contracts.model import Assembly, Resource


@dataclass
class Run:
    function: Resource
    recorder: Recorder
    result: object


def run_handler(
    asm: Assembly,
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    event: object,
    context: object,
    responses: dict | Callable[[Assembly, dict], dict] | None = None,
) -> Run:
    function = function_by_handler(asm, f"{package}.handler.lambda_handler")
    variables = asm.props(function).get("Environment", {}).get("Variables", {})
    for name, value in variables.items():
        monkeypatch.setenv(name, str(value))
    answers = responses(asm, variables) if callable(responses) else responses
    with mock_aws(), recording(answers) as recorder:
        handler = importlib.reload(importlib.import_module(f"lambdas.{package}.handler"))
        result = handler.lambda_handler(event, context)
    return Run(function, recorder, result)


def schedule_event() -> dict:
    return {"id": "evt-1", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {},
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/x"]}  # fmt: skip


def guard_responses(asm: Assembly, env: dict) -> dict:
    pipeline = f"arn:aws:sagemaker:eu-west-1:{asm.account}:pipeline/{env['PIPELINE_NAME']}"
    return {
        "sagemaker.ListPipelineExecutions": {"PipelineExecutionSummaries": []},
        "sagemaker.StartPipelineExecution": {"PipelineExecutionArn": f"{pipeline}/execution/abc"},
        "dynamodb.UpdateItem": {},
        "dynamodb.PutItem": {},
    }


def _serving(asm: Assembly) -> tuple[dict, dict, dict]:
    """The synthesized endpoint, its config, and the challenger model, resolved."""
    (endpoint,) = asm.resources("AWS::SageMaker::Endpoint")
    config = asm.find(asm.props(endpoint)["EndpointConfigName"])
    assert config is not None
    config_props = {
        **asm.props(config),
        "EndpointConfigName": asm.get_att(config.stack, config.logical_id, "EndpointConfigName"),
    }
    models = {asm.props(m).get("ModelName", asm.get_att(m.stack, m.logical_id, "ModelName")): asm.props(m)
              for m in asm.resources("AWS::SageMaker::Model")}  # fmt: skip
    return (
        {**asm.props(endpoint), "EndpointName": asm.get_att(endpoint.stack, endpoint.logical_id, "EndpointName")},
        config_props,
        models,
    )


def promotion_responses(asm: Assembly, env: dict) -> dict:
    _, config, _ = _serving(asm)
    variants = [{"VariantName": v["VariantName"], "CurrentWeight": 0.5} for v in config["ProductionVariants"]]

    def metric(params: dict) -> dict:
        value = {"Invocations": 5000.0, "Invocation5XXErrors": 0.0, "ModelLatency": 1000.0}.get(
            params["MetricName"], 1.0
        )
        stat = (params.get("ExtendedStatistics") or params.get("Statistics"))[0]
        point = {"ExtendedStatistics": {stat: value}} if "ExtendedStatistics" in params else {stat: value}
        return {"Datapoints": [point]}

    return {
        "sagemaker.DescribeEndpoint": {
            "EndpointName": env["ENDPOINT_NAME"],
            "ProductionVariants": variants,
            "EndpointStatus": "InService",
        },
        "cloudwatch.GetMetricStatistics": metric,
        "sagemaker.UpdateEndpointWeightsAndCapacities": {"EndpointArn": "arn"},
    }


def approval_event(asm: Assembly, group: str) -> dict:
    arn = f"arn:aws:sagemaker:eu-west-1:{asm.account}:model-package/{group}/7"
    return {"id": "evt-approve", "source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
            "account": asm.account, "region": "eu-west-1",
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved", "ModelPackageArn": arn,
                       "ModelPackageVersion": 7}}  # fmt: skip


def deployer_responses(asm: Assembly, env: dict) -> dict:
    endpoint, config, models = _serving(asm)
    group = env.get("MODEL_PACKAGE_GROUP", "")
    # The variant the deployer replaces: the one its package parameter serves (ChallengerPackageArn, or
    # ChampionPackageArn on an endpoint without a challenger).
    target = env.get("PACKAGE_PARAMETER", "ChallengerPackageArn").removesuffix("PackageArn").lower()
    variant = next(v for v in config["ProductionVariants"] if v["VariantName"] == target)
    model = models.get(variant["ModelName"], next(iter(models.values())))
    serving = asm.stack("serving")
    parameters = [{"ParameterKey": k, "ParameterValue": v.get("Default", "")}
                  for k, v in asm.templates[serving].get("Parameters", {}).items()]  # fmt: skip
    baselines = "pipelines/churn/exec-1/baselines/"
    uri = f"s3://{env.get('ARTIFACT_BUCKET')}/{baselines}"
    return {
        "sagemaker.DescribeModelPackage": {
            "ModelApprovalStatus": "Approved",
            "ModelPackageGroupName": group,
            "ModelPackageArn": approval_event(asm, group)["detail"]["ModelPackageArn"],
            # As the pipeline's Register step names them (pipelines/training/definition.json).
            "DriftCheckBaselines": {
                "ModelDataQuality": {
                    "Constraints": {"ContentType": "application/json", "S3Uri": f"{uri}data-quality/constraints.json"}
                },
            },
        },
        "s3.ListObjectsV2": {
            "IsTruncated": False,
            "Contents": [
                {"Key": f"{baselines}{name}"} for name in ("data-quality/constraints.json", "drift/baseline.json")
            ],
        },
        "s3.CopyObject": {"CopyObjectResult": {}},
        "sagemaker.DescribeEndpoint": {
            "EndpointName": endpoint["EndpointName"],
            "EndpointStatus": "InService",
            "EndpointConfigName": config["EndpointConfigName"],
        },
        "sagemaker.DescribeEndpointConfig": config,
        "sagemaker.DescribeModel": {"ModelName": variant["ModelName"], **model},
        "sagemaker.CreateModel": {"ModelArn": "arn"},
        "sagemaker.CreateEndpointConfig": {"EndpointConfigArn": "arn"},
        "sagemaker.UpdateEndpoint": {"EndpointArn": "arn"},
        "cloudformation.DescribeStacks": {
            "Stacks": [
                {
                    "StackName": serving,
                    "StackStatus": "UPDATE_COMPLETE",
                    "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                    "Parameters": parameters,
                }
            ]
        },
        "cloudformation.UpdateStack": {"StackId": f"arn:aws:cloudformation:eu-west-1:{asm.account}:stack/{serving}/x"},
    }


def firehose_event() -> dict:
    import base64

    from pipelines.data.generate import FaultRates, generate

    (line,) = generate(1, seed=3, faults=FaultRates(missing=0.0, corrupt=0.0, duplicate=0.0))
    record = json.loads(line)
    return {"invocationId": "inv", "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/x",
            "region": "eu-west-1",
            "records": [{"recordId": "r1", "approximateArrivalTimestamp": 1764072000000,
                         "data": base64.b64encode(json.dumps(record).encode()).decode()}]}  # fmt: skip


def drift_schedule_event(asm: Assembly) -> dict:
    """What EventBridge Scheduler hands the drift job's starter: the schedule's input, context filled in."""
    (schedule,) = [s for s in asm.resources("AWS::Scheduler::Schedule") if "monitoring" in s.stack]
    text = asm.props(schedule)["Target"]["Input"]
    text = text.replace("<aws.scheduler.scheduled-time>", "2026-07-01T00:00:00Z")
    return json.loads(text.replace("<aws.scheduler.execution-id>", "3f2a9c1e-run"))


def starter_responses(asm: Assembly, env: dict) -> dict:
    """Every monitoring/ prefix holds data: the starter passes the whole request on."""
    return {
        "s3.ListObjectsV2": {"KeyCount": 1, "Contents": [{"Key": "monitoring/x"}]},
        "sagemaker.CreateProcessingJob": {
            "ProcessingJobArn": f"arn:aws:sagemaker:eu-west-1:{asm.account}:processing-job/mlops-dev-drift-3f2a9c1e-run"
        },
    }
