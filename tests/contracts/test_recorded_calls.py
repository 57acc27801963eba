"""Run each runtime component's real code, record its AWS calls, and check every call against the
synthesized account: the function's role allows it, its subnets reach the service, the keys admit it."""

from __future__ import annotations

from posture.contracts.access import call_problems, env_of
from posture.contracts.calls import needs
from tests.contracts import scenarios


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
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_ab_promotion_calls_are_allowed_reachable_and_admitted(
    model, monkeypatch, fake_aws_credentials, lambda_context
):
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
    problems = _problems(model, run)
    assert not problems, "\n".join(problems)


def test_firehose_transform_makes_no_aws_call(model, monkeypatch, fake_aws_credentials, lambda_context):
    run = scenarios.run_handler(model, monkeypatch, "firehose_transform", scenarios.firehose_event(), lambda_context)
    assert [r["result"] for r in run.result["records"]] == ["Ok"], run.result
    assert run.recorder.calls == []


def test_every_recorded_operation_maps_to_iam(models, monkeypatch, fake_aws_credentials, lambda_context):
    """The mapping table covers what the code calls (an unmapped call would go unchecked)."""
    asm = models["dev"]
    run = scenarios.run_handler(
        asm, monkeypatch, "retraining_guard", scenarios.schedule_event(), lambda_context, scenarios.guard_responses
    )
    for call in run.recorder.calls:
        assert needs(call, env_of(asm, run.function))
