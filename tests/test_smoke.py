"""The smoke test's steps against Stubber, and its orchestration with fakes (it cannot run here)."""

from __future__ import annotations

import base64
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from config import get_profile
from lambdas.firehose_transform.logic import transform_data
from ops import smoke
from pipelines.data import spec as specs
from pipelines.training.features import FEATURES

NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/mlops-dev-churn-training/execution/abc123"


def client(name: str):
    return boto3.client(name, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def no_sleep(_: float) -> None:
    return None


# -- data -------------------------------------------------------------------------------------------


def test_the_smoke_event_passes_the_ingest_validation() -> None:
    record = smoke.smoke_event(42)
    ok, normalized = transform_data(base64.b64encode(json.dumps(record).encode()).decode())
    assert ok, normalized
    assert json.loads(normalized)[specs.active().id_fields[0]] == "smoke-42"


def test_feature_row_has_the_models_columns() -> None:
    record = smoke.smoke_event(1)
    row = smoke.feature_row(record)
    assert len(row) == len(FEATURES)
    for f in specs.numeric_fields(specs.active()):
        assert row[FEATURES.index(f.name)] == float(record[f.name]), f.name
    for f in specs.category_fields(specs.active()):
        hot = [row[FEATURES.index(specs.one_hot_column(f.name, c))] for c in f.values]
        assert hot == [1.0 if c == record[f.name] else 0.0 for c in f.values], f.name


def test_tiny_pipeline_parameters_exist_in_the_definition(tmp_path) -> None:
    params = smoke.tiny_pipeline_parameters()
    assert {p["Name"] for p in params} == set(smoke.TINY_PIPELINE)
    assert all(isinstance(p["Value"], str) for p in params)
    renamed = tmp_path / "definition.json"
    renamed.write_text(json.dumps({"Parameters": [{"Name": "MaxTuningJobs"}]}))
    with pytest.raises(smoke.SmokeError, match="MaxParallelTuningJobs"):
        smoke.tiny_pipeline_parameters(renamed)


def test_cost_estimate_names_unknown_prices() -> None:
    usage = smoke.Usage()
    usage.add("endpoint", "ml.m5.large", 2.0)
    usage.add("odd", "ml.p5.48xlarge", 1.0)
    total, lines = smoke.estimate_cost(usage)
    assert total == pytest.approx(2 * smoke.SAGEMAKER_HOUR["ml.m5.large"])
    assert any("no price" in line for line in lines)


# -- steps against Stubber ------------------------------------------------------------------------


def test_stack_outputs() -> None:
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": "s", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE",
                         "Outputs": [{"OutputKey": "StreamName", "OutputValue": "stream-1"}]}]},
            {"StackName": "mlops-dev-ingest"},
        )  # fmt: skip
        assert smoke.stack_outputs(cfn, ["mlops-dev-ingest"]) == {"StreamName": "stream-1"}
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id x does not exist")
        with pytest.raises(ClientError):
            smoke.stack_outputs(cfn, ["x"])


def test_send_record() -> None:
    kinesis = client("kinesis")
    record = smoke.smoke_event(7)
    with Stubber(kinesis) as stub:
        stub.add_response(
            "put_record",
            {"ShardId": "shardId-000000000000", "SequenceNumber": "4959"},
            {"StreamName": "stream-1", "Data": json.dumps(record).encode(), "PartitionKey": "smoke-7"},
        )
        assert smoke.send_record(kinesis, "stream-1", record) == "4959"
        stub.add_client_error("put_record", "ResourceNotFoundException", "Stream stream-1 not found")
        with pytest.raises(ClientError, match="not found"):
            smoke.send_record(kinesis, "stream-1", record)


def _listing(key: str | None, when: datetime = NOW + timedelta(minutes=1)) -> dict:
    return {"Contents": [{"Key": key, "LastModified": when, "Size": 1}] if key else [], "IsTruncated": False}


def test_wait_for_raw_finds_the_record_after_firehose() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", _listing(None), {"Bucket": "raw", "Prefix": "events/"})
        stub.add_response("list_objects_v2", _listing(None), {"Bucket": "raw", "Prefix": "errors/"})
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "events/old.gz", "LastModified": NOW - timedelta(hours=1), "Size": 1},
                          {"Key": "events/new.gz", "LastModified": NOW + timedelta(minutes=2), "Size": 1}],
             "IsTruncated": False},
            {"Bucket": "raw", "Prefix": "events/"},
        )  # fmt: skip
        stub.add_response(
            "get_object",
            {"Body": body(gzip.compress(b'{"customer_id":"smoke-7"}\n'))},
            {"Bucket": "raw", "Key": "events/new.gz"},
        )
        slept: list[float] = []
        assert smoke.wait_for_raw(s3, "raw", "smoke-7", NOW, slept.append) == "events/new.gz"
        assert slept == [30]


def test_wait_for_raw_fails_on_a_rejected_record_and_on_timeout() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", _listing(None), {"Bucket": "raw", "Prefix": "events/"})
        stub.add_response("list_objects_v2", _listing("errors/x.gz"), {"Bucket": "raw", "Prefix": "errors/"})
        stub.add_response("get_object", {"Body": body(b'{"error":"tenure","raw":"smoke-7"}')})
        with pytest.raises(smoke.SmokeError, match=r"rejected: s3://raw/errors/x\.gz"):
            smoke.wait_for_raw(s3, "raw", "smoke-7", NOW, no_sleep)
        stub.add_response("list_objects_v2", _listing(None))
        stub.add_response("list_objects_v2", _listing(None))
        with pytest.raises(smoke.SmokeError, match="did not reach"):
            smoke.wait_for_raw(s3, "raw", "smoke-7", NOW, no_sleep, timeout_s=0)


def test_seed_raw_writes_generated_events_under_the_events_prefix() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("put_object", {"ETag": '"e"'}, {"Bucket": "raw", "Key": ANY, "Body": ANY})
        key = smoke.seed_raw(s3, "raw", 10, NOW)
        assert key.startswith("events/year=2026/month=11/day=27/") and key.endswith(".gz")
        stub.add_client_error("put_object", "AccessDenied", "denied")
        with pytest.raises(ClientError):
            smoke.seed_raw(s3, "raw", 10, NOW)


def _run(status: str, **stats) -> dict:
    return {"Run": {"Name": "wf", "WorkflowRunId": "wr_1", "Status": status, "StartedOn": NOW,
                    "CompletedOn": NOW + timedelta(minutes=6), "Statistics": stats}}  # fmt: skip


def test_run_workflow() -> None:
    glue = client("glue")
    with Stubber(glue) as stub:
        stub.add_response("start_workflow_run", {"RunId": "wr_1"}, {"Name": "wf"})
        stub.add_response("get_workflow_run", _run("RUNNING"), {"Name": "wf", "RunId": "wr_1"})
        stub.add_response("get_workflow_run", _run("COMPLETED", SucceededActions=2, FailedActions=0))
        assert smoke.run_workflow(glue, "wf", no_sleep)["Status"] == "COMPLETED"
        stub.add_response("start_workflow_run", {"RunId": "wr_1"}, {"Name": "wf"})
        stub.add_response("get_workflow_run", _run("COMPLETED", SucceededActions=1, FailedActions=1))
        with pytest.raises(smoke.SmokeError, match="1 failed, 1 succeeded"):
            smoke.run_workflow(glue, "wf", no_sleep)


def test_run_workflow_waits_for_a_run_the_events_started() -> None:
    glue = client("glue")
    with Stubber(glue) as stub:
        stub.add_client_error("start_workflow_run", "ConcurrentRunsExceededException", "1 run at a time")
        stub.add_response("start_workflow_run", {"RunId": "wr_1"}, {"Name": "wf"})
        stub.add_response("get_workflow_run", _run("COMPLETED", SucceededActions=2, FailedActions=0))
        slept: list[float] = []
        assert smoke.run_workflow(glue, "wf", slept.append)["WorkflowRunId"] == "wr_1"
        assert slept == [30]
        stub.add_client_error("start_workflow_run", "EntityNotFoundException", "no workflow wf")
        with pytest.raises(ClientError, match="no workflow"):
            smoke.run_workflow(glue, "wf", no_sleep)


def _steps(status: str, reason: str = "") -> dict:
    step = {"StepName": "Preprocess", "StepStatus": status, "StartTime": NOW, "EndTime": NOW + timedelta(minutes=5),
            "Metadata": {"ProcessingJob": {"Arn": "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/p"}}}  # fmt: skip
    if reason:
        step["FailureReason"] = reason
    return {"PipelineExecutionSteps": [step]}


def test_run_pipeline() -> None:
    sm = client("sagemaker")
    params = smoke.tiny_pipeline_parameters()
    with Stubber(sm) as stub:
        stub.add_response(
            "start_pipeline_execution",
            {"PipelineExecutionArn": ARN},
            {"PipelineName": "p", "PipelineExecutionDisplayName": ANY, "PipelineParameters": params,
             "ClientRequestToken": ANY},
        )  # fmt: skip
        stub.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": "Executing"})
        stub.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": "Succeeded"})
        stub.add_response("list_pipeline_execution_steps", _steps("Succeeded"), {"PipelineExecutionArn": ARN})
        arn, steps = smoke.run_pipeline(sm, "p", params, no_sleep)
        assert arn == ARN and steps[0]["StepName"] == "Preprocess"
        stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN})
        stub.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": "Failed"})
        stub.add_response("list_pipeline_execution_steps", _steps("Failed", "AlgorithmError: no rows"))
        with pytest.raises(smoke.SmokeError, match="Preprocess: AlgorithmError: no rows"):
            smoke.run_pipeline(sm, "p", params, no_sleep)


def _endpoint() -> dict:
    return {"EndpointName": "ep", "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep",
            "EndpointConfigName": "cfg", "EndpointStatus": "InService", "CreationTime": NOW, "LastModifiedTime": NOW,
            "ProductionVariants": [{"VariantName": "champion"}, {"VariantName": "challenger"}]}  # fmt: skip


def test_invoke_variants_pins_each_variant() -> None:
    sm, runtime = client("sagemaker"), client("sagemaker-runtime")
    row = smoke.feature_row(smoke.smoke_event(3))
    with Stubber(sm) as sm_stub, Stubber(runtime) as rt_stub:
        sm_stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "ep"})
        for variant, score in (("champion", b"0.31"), ("challenger", b"0.29")):
            rt_stub.add_response(
                "invoke_endpoint",
                {"Body": body(score), "InvokedProductionVariant": variant, "ContentType": "text/csv"},
                {"EndpointName": "ep", "ContentType": "text/csv", "Accept": "text/csv", "Body": ANY,
                 "TargetVariant": variant},
            )  # fmt: skip
        assert smoke.invoke_variants(sm, runtime, "ep", row) == {"champion": 0.31, "challenger": 0.29}
        sm_stub.add_response("describe_endpoint", _endpoint())
        rt_stub.add_response("invoke_endpoint", {"Body": body(b"0.5"), "InvokedProductionVariant": "challenger"})
        with pytest.raises(smoke.SmokeError, match="variant champion: answered by challenger"):
            smoke.invoke_variants(sm, runtime, "ep", row)


def test_alarm_states() -> None:
    cw = client("cloudwatch")
    with Stubber(cw) as stub:
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [{"AlarmName": "mlops-dev-churn-champion-5xx-rate", "StateValue": "OK"},
                              {"AlarmName": "mlops-dev-churn-champion-no-invocations", "StateValue": "ALARM"}]},
            {"AlarmNamePrefix": "mlops-dev-"},
        )  # fmt: skip
        assert smoke.alarm_states(cw, "mlops-dev-") == {
            "mlops-dev-churn-champion-5xx-rate": "OK",
            "mlops-dev-churn-champion-no-invocations": "ALARM",
        }
        stub.add_response("describe_alarms", {"MetricAlarms": []}, {"AlarmNamePrefix": "mlops-dev-"})
        with pytest.raises(smoke.SmokeError, match="no alarm"):
            smoke.alarm_states(cw, "mlops-dev-")


# -- orchestration with fakes -----------------------------------------------------------------------


class FakeAssembly:
    stack_names = ("mlops-dev-ingest",)

    def resources(self, cfn_type=None):
        from ops.assembly import Resource

        return {
            "AWS::Glue::Workflow": [Resource("s", "Wf", cfn_type, {"Name": "wf"}, "Delete")],
            "AWS::SageMaker::EndpointConfig": [
                Resource(
                    "s",
                    "Cfg",
                    cfn_type,
                    {
                        "ProductionVariants": [
                            {"VariantName": "champion", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
                        ]
                    },
                    "Delete",
                )
            ],
            "AWS::EC2::VPCEndpoint": [Resource("s", "E", cfn_type, {"VpcEndpointType": "Interface"}, "Delete")],
        }.get(cfn_type, [])


@pytest.fixture
def fakes(monkeypatch):
    calls: list[str] = []
    outputs = {"StreamName": "s", "RawBucketName": "raw", "PipelineName": "p", "EndpointName": "ep"}

    def fake(name, result=None):
        def call(*args, **kwargs):
            calls.append(name)
            return result

        return call

    monkeypatch.setattr(smoke, "stack_outputs", fake("outputs", outputs))
    monkeypatch.setattr(smoke, "send_record", fake("send", "seq-00000001"))
    monkeypatch.setattr(smoke, "wait_for_raw", fake("raw", "events/k.gz"))
    monkeypatch.setattr(smoke, "seed_raw", fake("seed", "events/seed.gz"))
    monkeypatch.setattr(smoke, "run_workflow", fake("etl", _run("COMPLETED")["Run"]))
    monkeypatch.setattr(smoke, "run_pipeline", fake("pipeline", (ARN, _steps("Succeeded")["PipelineExecutionSteps"])))
    monkeypatch.setattr(smoke, "stop_executions", fake("stop", 1))
    monkeypatch.setattr(smoke, "invoke_variants", fake("invoke", {"champion": 0.3, "challenger": 0.4}))
    monkeypatch.setattr(smoke, "alarm_states", fake("alarms", {"mlops-dev-a": "OK", "mlops-dev-b": "ALARM"}))
    return calls, fake


def new_smoke(calls, deploy=None, log=None) -> smoke.Smoke:
    ticks = iter(range(0, 10**6, 600))

    def default_deploy():
        calls.append("deploy")
        return "deployed"

    def destroy():
        calls.append("destroy")
        return "destroyed"

    return smoke.Smoke(
        {name: object() for name in smoke.CLIENTS}, get_profile("dev"), FakeAssembly(), deploy=deploy or default_deploy, destroy=destroy,
        sleep=no_sleep, clock=lambda: float(next(ticks)), now=lambda: NOW, log=(log or (lambda _: None)),
    )  # fmt: skip


def test_happy_path_runs_every_step_in_order_then_tears_down(fakes) -> None:
    calls, _ = fakes
    lines: list[str] = []
    run = new_smoke(calls, log=lines.append)
    results = run.run()
    assert calls == [
        "deploy", "outputs", "send", "raw", "seed", "etl", "stop", "pipeline", "invoke", "alarms", "destroy",
    ]  # fmt: skip
    assert [r.name for r in results] == [
        "deploy", "stack outputs", "ingest", "etl", "training pipeline", "endpoint", "alarms", "teardown",
    ]  # fmt: skip
    assert all(r.ok for r in results)
    assert "in ALARM: mlops-dev-b" in results[-2].detail
    assert "1 started by the retraining guard" in results[4].detail
    assert run.report() == 0
    text = "\n".join(lines)
    assert "Estimated cost: $" in text and smoke.PRICES_AS_OF in text and "Cost Explorer" in text
    assert "ml.m5.large" in text and "glue-dpu" in text


def test_a_failed_step_skips_what_needs_it_but_not_alarms_or_teardown(fakes, monkeypatch) -> None:
    calls, _ = fakes

    def broken(*args, **kwargs):
        calls.append("etl")
        raise smoke.SmokeError("workflow run wr_1 ERROR")

    monkeypatch.setattr(smoke, "run_workflow", broken)
    run = new_smoke(calls)
    results = run.run()
    assert "pipeline" not in calls
    assert calls[-3:] == ["invoke", "alarms", "destroy"]
    assert {r.name: r.ok for r in results}["etl"] is False
    assert run.report() == 1


def test_aws_errors_become_sentences(fakes, monkeypatch) -> None:
    calls, _ = fakes

    def denied(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutRecord")

    monkeypatch.setattr(smoke, "send_record", denied)
    results = new_smoke(calls).run()
    ingest = next(r for r in results if r.name == "ingest")
    assert not ingest.ok and "PutRecord denied" in ingest.detail
    assert calls[-1] == "destroy"


def test_a_bug_in_a_step_still_tears_down(fakes, monkeypatch) -> None:
    calls, _ = fakes
    monkeypatch.setattr(smoke, "stack_outputs", lambda *a: {}["StreamName"])
    results = new_smoke(calls).run()
    outputs = next(r for r in results if r.name == "stack outputs")
    assert not outputs.ok and "unexpected KeyError" in outputs.detail
    assert calls[-1] == "destroy"


def test_teardown_runs_even_when_deploy_fails_or_the_run_is_interrupted(fakes, monkeypatch) -> None:
    calls, _ = fakes

    def failed_deploy():
        raise smoke.SmokeError("make deploy exited 1")

    results = new_smoke(calls, deploy=failed_deploy).run()
    assert [r.name for r in results] == ["deploy", "teardown"] and calls == ["destroy"]

    calls.clear()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(smoke, "wait_for_raw", interrupted)
    with pytest.raises(KeyboardInterrupt):
        new_smoke(calls).run()
    assert calls[-1] == "destroy"


def test_main_refuses_without_confirmation_credentials_or_for_prod(monkeypatch, capsys) -> None:
    assert smoke.main(["--profile", "prod", "--confirm", "prod"]) == 2
    assert "refused" in capsys.readouterr().err
    assert smoke.main(["--profile", "dev"]) == 2
    assert "SMOKE_CONFIRM=dev" in capsys.readouterr().err
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    assert smoke.main(["--profile", "dev", "--confirm", "dev"]) == 2
    assert "explicit credentials" in capsys.readouterr().err


def test_main_deploys_and_destroys_through_make(fakes, monkeypatch) -> None:
    commands: list[list[str]] = []

    class Done:
        returncode = 0

    def run(command, cwd=None):
        commands.append(command)
        return Done()

    class Session:
        def client(self, name, region_name=None):
            return object()

    monkeypatch.setattr(smoke, "Assembly", lambda outdir, profile: FakeAssembly())
    monkeypatch.setattr(smoke.time, "sleep", no_sleep)
    code = smoke.main(["--profile", "dev", "--confirm", "dev"], session=Session(), run=run)
    assert code == 0
    assert commands[0][:2] == ["make", "deploy"] and "ARGS=--require-approval never" in commands[0]
    assert commands[-1] == ["make", "destroy", "PROFILE=dev", "CONFIRM=dev"]
