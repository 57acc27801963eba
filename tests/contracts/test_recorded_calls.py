"""Run each runtime component's real code, record its AWS calls, and check every call against the
synthesized account: the function's role allows it, its subnets reach the service, the keys admit it."""

from __future__ import annotations

import pytest

from config import PROFILES
from posture.contracts.access import call_problems, derived_key_needs, env_of
from posture.contracts.calls import Call, Env, UnknownOperation, needs, recording
from posture.contracts.model import STACK_ID_SUFFIX
from tests.contracts import scenarios

ENV = Env(region="eu-west-1", account="123456789012")


def _problems(asm, run) -> list[str]:
    return [p for call in run.recorder.calls for p in call_problems(asm, run.function, call)]


def test_retraining_guard_calls_are_allowed_reachable_and_admitted(
    model, monkeypatch, fake_aws_credentials, lambda_context
):
    run = scenarios.run_handler(
        model, monkeypatch, "retraining_guard", scenarios.schedule_event(), lambda_context, scenarios.guard_responses
    )
    assert run.result["started"], run.result
    assert {"sagemaker.StartPipelineExecution", "dynamodb.UpdateItem", "dynamodb.PutItem"} <= set(
        run.recorder.operations()
    )
    # The table is encrypted with the data key: each item call is also a KMS request through DynamoDB.
    dynamodb = next(c for c in run.recorder.calls if c.service == "dynamodb")
    assert derived_key_needs(model, dynamodb, env_of(model, run.function))
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_ab_promotion_calls_are_allowed_reachable_and_admitted(
    model, monkeypatch, fake_aws_credentials, lambda_context
):
    if not PROFILES[str(model.profile)].serving.challenger:
        # Nothing to promote: the endpoint serves the champion alone, and no promotion function exists.
        assert not [f for f in model.resources("AWS::Lambda::Function") if "ab_promotion" in str(f.properties)]
        return
    run = scenarios.run_handler(
        model, monkeypatch, "ab_promotion", {"dry_run": False}, lambda_context, scenarios.promotion_responses
    )
    assert run.result["applied"], run.result
    assert "sagemaker.UpdateEndpointWeightsAndCapacities" in run.recorder.operations()
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_model_deployer_calls_are_allowed_reachable_and_admitted(
    model, monkeypatch, fake_aws_credentials, lambda_context
):
    function = scenarios.function_by_handler(model, "model_deployer.handler.lambda_handler")
    group = model.props(function)["Environment"]["Variables"]["MODEL_PACKAGE_GROUP"]
    run = scenarios.run_handler(
        model, monkeypatch, "model_deployer", scenarios.approval_event(model, group), lambda_context,
        scenarios.deployer_responses,
    )  # fmt: skip
    mutations = {"sagemaker.UpdateEndpoint", "cloudformation.UpdateStack"} & set(run.recorder.operations())
    assert mutations, (run.result, run.recorder.operations())
    # The package's baselines are copied where the monitoring job reads them, under the bucket's key.
    copies = [c for c in run.recorder.calls if c.operation == "CopyObject"]
    assert len(copies) == 2 and all(c.params["Key"].startswith("monitoring/baselines/current/") for c in copies)
    assert derived_key_needs(model, copies[0], env_of(model, run.function))
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_monitoring_starter_calls_are_allowed_reachable_and_admitted(
    model, monkeypatch, fake_aws_credentials, lambda_context
):
    """The schedule's own input: the starter lists each data input and starts the job, passing its role."""
    event = scenarios.drift_schedule_event(model)
    run = scenarios.run_handler(
        model, monkeypatch, "monitoring_starter", event, lambda_context, scenarios.starter_responses
    )
    assert run.result["outcome"] == "started", run.result
    lists = [c for c in run.recorder.calls if c.operation == "ListObjectsV2"]
    assert sorted(c.params["Prefix"].split("/")[1] for c in lists) == ["baselines", "data-capture", "ground-truth"]
    (create,) = [c for c in run.recorder.calls if c.operation == "CreateProcessingJob"]
    assert create.params == event["request"]
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_firehose_transform_makes_no_aws_call(model, monkeypatch, fake_aws_credentials, lambda_context):
    run = scenarios.run_handler(model, monkeypatch, "firehose_transform", scenarios.firehose_event(), lambda_context)
    assert [r["result"] for r in run.result["records"]] == ["Ok"], run.result
    assert run.recorder.calls == []


def _needs(service: str, operation: str, **params) -> list:
    call = Call(service, service, operation, params)
    return [(r.action, r.resource, dict(r.context)) for r in needs(call, ENV)]


def test_calls_map_to_the_iam_requests_aws_evaluates() -> None:
    listing = _needs("s3", "ListObjectsV2", Bucket="b", Prefix="code/")
    assert listing == [("s3:ListBucket", "arn:aws:s3:::b", {**ENV.base_context(), "s3:prefix": "code/"})]
    assert "s3:prefix" not in _needs("s3", "ListObjectsV2", Bucket="b")[0][2]  # no Prefix, no key
    assert _needs("s3", "GetObject", Bucket="b", Key="k/x")[0][:2] == ("s3:GetObject", "arn:aws:s3:::b/k/x")
    copy = [n[:2] for n in _needs("s3", "CopyObject", Bucket="d", Key="to/x", CopySource={"Bucket": "b", "Key": "k/x"})]
    assert copy == [("s3:GetObject", "arn:aws:s3:::b/k/x"), ("s3:PutObject", "arn:aws:s3:::d/to/x")]
    assert _needs("s3", "CopyObject", Bucket="d", Key="y", CopySource="b/k/x?versionId=3")[0][1] == "arn:aws:s3:::b/k/x"
    model = _needs("sagemaker", "CreateModel", ModelName="M", ExecutionRoleArn="arn:aws:iam::1:role/r")
    assert ("iam:PassRole", "arn:aws:iam::1:role/r") in [n[:2] for n in model]
    assert next(n for n in model if n[0] == "iam:PassRole")[2]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    stack = _needs("cloudformation", "UpdateStack", StackName="s", RoleARN="arn:aws:iam::1:role/cfn")
    assert stack[0][:2] == (
        "cloudformation:UpdateStack",
        f"arn:aws:cloudformation:eu-west-1:123456789012:stack/s/{STACK_ID_SUFFIX}",
    )
    assert stack[1][2]["iam:PassedToService"] == "cloudformation.amazonaws.com"
    assert stack[0][2]["cloudformation:RoleArn"] == "arn:aws:iam::1:role/cfn"
    assert "cloudformation:RoleArn" not in _needs("cloudformation", "DescribeStacks", StackName="s")[0][2]
    update = _needs("sagemaker", "UpdateEndpoint", EndpointName="E", EndpointConfigName="C",
                    DeploymentConfig={"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}})  # fmt: skip
    assert ("cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a") in [n[:2] for n in update]
    job = _needs("sagemaker", "CreateProcessingJob", ProcessingJobName="Drift-1", RoleArn="arn:aws:iam::1:role/j")
    assert [n[:2] for n in job] == [
        ("sagemaker:CreateProcessingJob", "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/drift-1"),
        ("iam:PassRole", "arn:aws:iam::1:role/j"),
    ]
    assert job[1][2]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    metric = _needs("cloudwatch", "PutMetricData", Namespace="MlPlatform/X", MetricData=[])
    assert metric[0][2]["cloudwatch:namespace"] == "MlPlatform/X"
    with pytest.raises(UnknownOperation):
        _needs("iam", "CreateUser", UserName="u")


def test_recording_sees_clients_made_inside_and_answers_from_the_scenario(fake_aws_credentials) -> None:
    import boto3

    with recording({"dynamodb.GetItem": {"Item": {"pk": {"S": "x"}}}}) as recorder:
        client = boto3.client("dynamodb")
        assert client.get_item(TableName="t", Key={"pk": {"S": "x"}})["Item"] == {"pk": {"S": "x"}}
    (call,) = recorder.calls
    assert (call.service, call.endpoint_prefix, call.operation) == ("dynamodb", "dynamodb", "GetItem")
    assert call.params["TableName"] == "t"
