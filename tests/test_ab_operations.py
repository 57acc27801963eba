"""A/B operations: the promotion rule and the approval deployer, with moto and stubbed metrics."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.ab_promotion.logic import PromotionError, Rule, VariantStats, apply, decide, gather, parse_event
from lambdas.model_deployer.logic import (
    CAPABILITIES,
    BaselineCopyFailed,
    DeployError,
    StackBusy,
    approved_package,
    baseline_prefix,
    check_package,
    copy_baselines,
    deploy_challenger,
)
from ml_constructs.monitoring import BASELINE_PREFIX

REGION = "eu-west-1"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULE = Rule(min_challenger_invocations=100, max_error_rate_increase=0.01, max_latency_ratio=1.5, step=0.2)
GROUP = "mlops-dev-churn"


class FakeCloudWatch:
    """Per-variant metric values the test chooses; None means no datapoints."""

    def __init__(self, values: dict[tuple[str, str], float | None]) -> None:
        self.values = values

    def get_metric_statistics(self, **kwargs):
        variant = next(d["Value"] for d in kwargs["Dimensions"] if d["Name"] == "VariantName")
        value = self.values.get((variant, kwargs["MetricName"]))
        if value is None:
            return {"Datapoints": []}
        stat = (kwargs.get("ExtendedStatistics") or kwargs.get("Statistics"))[0]
        key = "ExtendedStatistics" if "ExtendedStatistics" in kwargs else stat
        return {"Datapoints": [{key: {stat: value}} if key == "ExtendedStatistics" else {stat: value}]}


def metrics(champion=(10_000, 10, 50_000.0), challenger=(1_000, 1, 52_000.0)) -> FakeCloudWatch:
    values = {}
    for variant, (invocations, errors, p99) in (("champion", champion), ("challenger", challenger)):
        values[(variant, "Invocations")] = invocations
        values[(variant, "Invocation5XXErrors")] = errors
        values[(variant, "ModelLatency")] = p99
    return FakeCloudWatch(values)


class WithUpdateEndpoint:
    """moto has no UpdateEndpoint: record the call (its arguments are what matters) and pass the rest on."""

    def __init__(self, client) -> None:
        self.client, self.updates, self.models = client, [], []

    def create_model(self, **kwargs):
        self.models.append(kwargs)
        return self.client.create_model(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)

    def update_endpoint(self, **kwargs):
        self.updates.append(kwargs)
        return {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/churn"}


@pytest.fixture
def aws(fake_aws_credentials):
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        role = "arn:aws:iam::123456789012:role/model"
        vpc = {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}
        for name in ("m-champion", "m-challenger"):
            sm.create_model(ModelName=name, ExecutionRoleArn=role, PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"},
                            VpcConfig=vpc, EnableNetworkIsolation=True)  # fmt: skip
        sm.create_endpoint_config(
            EndpointConfigName="cfg-1",
            KmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/k",
            ProductionVariants=[
                {"VariantName": "champion", "ModelName": "m-champion", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.9},
                {"VariantName": "challenger", "ModelName": "m-challenger", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.1},
            ],
        )  # fmt: skip
        sm.create_endpoint(EndpointName="churn", EndpointConfigName="cfg-1")
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        yield WithUpdateEndpoint(sm)


def weights(sm) -> dict[str, float]:
    return {
        v["VariantName"]: v["CurrentWeight"] for v in sm.describe_endpoint(EndpointName="churn")["ProductionVariants"]
    }


# --- promotion ----------------------------------------------------------------------------------


def test_a_healthy_challenger_is_promoted_one_step(aws) -> None:
    decision = apply(aws, "churn", decide(gather(aws, metrics(), "churn", RULE, NOW), RULE), dry_run=False)
    assert decision.action == "PROMOTE" and decision.applied
    assert weights(aws) == {"champion": 0.7, "challenger": 0.3}
    assert decision.weights_before == {"champion": 0.9, "challenger": 0.1}


def test_dry_run_decides_but_changes_nothing(aws) -> None:
    decision = apply(aws, "churn", decide(gather(aws, metrics(), "churn", RULE, NOW), RULE), dry_run=True)
    assert decision.action == "PROMOTE" and not decision.applied
    assert weights(aws) == {"champion": 0.9, "challenger": 0.1}


@pytest.mark.parametrize(
    ("challenger", "reason"),
    [((1_000, 50, 52_000.0), "error rate 0.0500 exceeds"), ((1_000, 1, 90_000.0), "p99 90000 us exceeds")],
)
def test_an_unhealthy_challenger_is_rolled_back(aws, challenger, reason) -> None:
    decision = apply(
        aws, "churn", decide(gather(aws, metrics(challenger=challenger), "churn", RULE, NOW), RULE), dry_run=False
    )
    assert decision.action == "ROLLBACK" and reason in decision.reason
    assert weights(aws) == {"champion": 1.0, "challenger": 0.0}


@pytest.mark.parametrize(
    ("challenger", "reason"),
    [((50, 0, 50_000.0), "served 50 requests; 100 needed"), ((1_000, 1, None), "latency metrics are missing")],
)
def test_too_little_evidence_holds(aws, challenger, reason) -> None:
    decision = apply(
        aws, "churn", decide(gather(aws, metrics(challenger=challenger), "churn", RULE, NOW), RULE), dry_run=False
    )
    assert decision.action == "HOLD" and reason in decision.reason and not decision.applied
    assert weights(aws) == {"champion": 0.9, "challenger": 0.1}


def test_business_metric_must_improve_to_promote() -> None:
    rule = Rule(business_metric=("Churn/Business", "RetainedRevenue"))
    base = {"champion": VariantStats(10_000, 1, 50_000, 0.9, business=10.0)}
    worse = decide({**base, "challenger": VariantStats(1_000, 0, 50_000, 0.1, business=9.0)}, rule)
    better = decide({**base, "challenger": VariantStats(1_000, 0, 50_000, 0.1, business=11.0)}, rule)
    assert worse.action == "HOLD" and "does not beat" in worse.reason
    assert better.action == "PROMOTE" and better.weights_after == {"champion": 0.7, "challenger": 0.3}


def test_unknown_variant_is_a_clear_error_and_changes_nothing(aws) -> None:
    with pytest.raises(PromotionError, match="variant 'blue' is not on endpoint churn"):
        gather(aws, metrics(), "churn", Rule(challenger="blue"), NOW)
    assert weights(aws) == {"champion": 0.9, "challenger": 0.1}


@pytest.mark.parametrize("event", [[], "go", {"dry_run": "yes"}, {"weights": {"challenger": 1}}])
def test_malformed_events_are_refused(event) -> None:
    with pytest.raises(PromotionError):
        parse_event(event)


def test_scheduled_and_manual_events_are_accepted() -> None:
    assert parse_event({"source": "aws.events", "detail-type": "Scheduled Event"}) == {"dry_run": None}
    assert parse_event({"dry_run": True}) == {"dry_run": True}


def test_promotion_handler_reports_errors_without_changing_weights(aws, monkeypatch, capsys, lambda_context) -> None:
    env = {"ENDPOINT_NAME": "churn", "MIN_CHALLENGER_INVOCATIONS": "100", "MAX_ERROR_RATE_INCREASE": "0.01",
           "MAX_LATENCY_RATIO": "1.5", "PROMOTION_STEP": "0.2", "DRY_RUN": "false",
           "POWERTOOLS_SERVICE_NAME": "ab_promotion", "POWERTOOLS_METRICS_NAMESPACE": "MlopsTest"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler = importlib.reload(importlib.import_module("lambdas.ab_promotion.handler"))
    monkeypatch.setattr(handler, "_cloudwatch", metrics())
    monkeypatch.setattr(handler, "_sagemaker", aws)

    assert handler.lambda_handler({"dry_run": "maybe"}, lambda_context)["action"] == "ERROR"
    assert weights(aws) == {"champion": 0.9, "challenger": 0.1}
    result = handler.lambda_handler({"source": "aws.events"}, lambda_context)
    assert result["action"] == "PROMOTE" and result["applied"]
    assert "PromotionDecisions" in capsys.readouterr().out


# --- approval deployer ---------------------------------------------------------------------------

ACCOUNT_ARN = "arn:aws:sagemaker:eu-west-1:123456789012"
PACKAGE = f"{ACCOUNT_ARN}:model-package/{GROUP}/7"
STACK = "mlops-dev-serving"
PARAMETER = "ChallengerPackageArn"
DEPLOY_ROLE = "arn:aws:iam::123456789012:role/mlops-dev-serving-DeployRole"
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/mlops-dev-serving/1"


def approval(arn: str = PACKAGE, status: str = "Approved", group: str = GROUP, source: str = "aws.sagemaker") -> dict:
    return {"source": source, "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageArn": arn}}  # fmt: skip


def client(service: str):
    return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def package_response(arn: str = PACKAGE, group: str = GROUP, status: str = "Approved") -> dict:
    return {"ModelPackageName": group, "ModelPackageGroupName": group, "ModelPackageArn": arn,
            "ModelApprovalStatus": status, "CreationTime": NOW, "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []}}  # fmt: skip


def stack_response(challenger: str = "", status: str = "UPDATE_COMPLETE") -> dict:
    parameters = {
        "ChampionPackageArn": "",
        PARAMETER: challenger,
        "BootstrapVersion": "/cdk-bootstrap/hnb659fds/version",
    }
    return {"Stacks": [{"StackName": STACK, "StackId": STACK_ID, "CreationTime": NOW, "StackStatus": status,
                        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]}]}  # fmt: skip


def expected_update(package: str = PACKAGE) -> dict:
    return {
        "StackName": STACK,
        "UsePreviousTemplate": True,
        "Parameters": [
            {"ParameterKey": "ChampionPackageArn", "UsePreviousValue": True},
            {"ParameterKey": PARAMETER, "ParameterValue": package},
            {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
        ],
        "Capabilities": CAPABILITIES,
        "RoleARN": DEPLOY_ROLE,
        "ClientRequestToken": f"approve-{GROUP}-7-{int(NOW.timestamp())}",
    }


def deploy(cloudformation, package: str = PACKAGE) -> dict:
    return deploy_challenger(
        cloudformation, stack=STACK, parameter=PARAMETER, package_arn=package, role_arn=DEPLOY_ROLE
    )


def test_an_approved_package_becomes_the_challenger_through_a_stack_update() -> None:
    sagemaker, cloudformation = client("sagemaker"), client("cloudformation")
    with Stubber(sagemaker) as sm, Stubber(cloudformation) as cfn:
        sm.add_response("describe_model_package", package_response(), {"ModelPackageName": PACKAGE})
        cfn.add_response("describe_stacks", stack_response(), {"StackName": STACK})
        cfn.add_response("update_stack", {"StackId": STACK_ID}, expected_update())
        check_package(sagemaker, approved_package(approval(), GROUP), GROUP)
        change = deploy(cloudformation)
        sm.assert_no_pending_responses()
        cfn.assert_no_pending_responses()
    assert change["started"] and change["previous"] == "" and change["package"] == PACKAGE


def test_a_second_event_for_the_same_package_changes_nothing() -> None:
    cloudformation = client("cloudformation")
    with Stubber(cloudformation) as cfn:  # a queued update_stack is missing on purpose: calling it fails the test
        cfn.add_response("describe_stacks", stack_response(challenger=PACKAGE, status="UPDATE_IN_PROGRESS"))
        assert deploy(cloudformation) == {"stack": STACK, "parameter": PARAMETER, "package": PACKAGE,
                                          "previous": PACKAGE, "started": False, "reason": "already deployed"}  # fmt: skip


def test_the_request_token_repeats_for_one_stack_state_only() -> None:
    from datetime import timedelta

    from lambdas.model_deployer.logic import client_token

    stack = stack_response()["Stacks"][0]
    assert client_token(PACKAGE, stack) == client_token(PACKAGE, dict(stack))
    later = client_token(PACKAGE, {**stack, "LastUpdatedTime": NOW + timedelta(minutes=5)})
    assert later != client_token(PACKAGE, stack) and re.fullmatch(r"[a-zA-Z][-a-zA-Z0-9]{0,127}", later)


def test_a_repeated_request_token_is_already_requested() -> None:
    cloudformation = client("cloudformation")
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", stack_response())
        cfn.add_client_error("update_stack", "TokenAlreadyExistsException", "token exists", 400)
        assert deploy(cloudformation)["reason"] == "already requested"


@pytest.mark.parametrize(
    "status", ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"]
)
def test_a_busy_stack_is_a_retryable_error_and_not_updated(status) -> None:
    cloudformation = client("cloudformation")
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", stack_response(status=status))
        with pytest.raises(StackBusy, match=status):
            deploy(cloudformation)


def test_an_update_refused_because_one_just_started_is_retryable() -> None:
    cloudformation = client("cloudformation")
    message = f"Stack:{STACK_ID} is in UPDATE_IN_PROGRESS state and can not be updated."
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", stack_response())
        cfn.add_client_error("update_stack", "ValidationError", message, 400)
        with pytest.raises(StackBusy, match="UPDATE_IN_PROGRESS"):
            deploy(cloudformation)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (package_response(group="other-group"), "is in group 'other-group'"),
        (package_response(status="PendingManualApproval"), "PendingManualApproval, not Approved"),
        (package_response(status="Rejected"), "Rejected, not Approved"),
    ],
)
def test_a_package_sagemaker_does_not_show_approved_in_the_group_is_refused(response, message) -> None:
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as sm:
        sm.add_response("describe_model_package", response)
        with pytest.raises(DeployError, match=message):
            check_package(sagemaker, PACKAGE, GROUP)


def test_a_package_that_does_not_exist_is_refused() -> None:
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as sm:
        sm.add_client_error("describe_model_package", "ValidationException", "Model package does not exist.", 400)
        with pytest.raises(DeployError, match="does not exist"):
            check_package(sagemaker, PACKAGE, GROUP)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail-type": "Something"}, "not an event from aws.sagemaker"),
        (approval(source="my.app"), "not an event from aws.sagemaker"),
        ({**approval(), "detail-type": "Other"}, "not a SageMaker Model Package State Change"),
        ({**approval(), "detail": "x"}, "no detail"),
        (approval(status="Rejected"), "not Approved"),
        (approval(f"{ACCOUNT_ARN}:model-package/other/1", group="other"), "is not 'mlops-dev-churn'"),
        (approval("not-an-arn"), "is not a model package ARN"),
        ([], "not an event"),
    ],
)
def test_bad_approval_events_deploy_nothing(event, message) -> None:
    with pytest.raises(DeployError, match=message):
        approved_package(event, GROUP)


# --- the package's baselines, copied where the monitoring job reads them -------------------------

BUCKET = "mlops-dev-artifacts"
EXECUTION = "pipelines/churn/exec-1/baselines/"


def with_baselines(response: dict, bucket: str = BUCKET) -> dict:
    """A package as the pipeline's Register step describes it (pipelines/training/definition.json)."""

    def source(*parts: str) -> dict:
        return {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{EXECUTION}{'/'.join(parts)}"}

    data = {"Statistics": source("data-quality", "statistics.json"),
            "Constraints": source("data-quality", "constraints.json")}  # fmt: skip
    quality = {"Statistics": source("model-quality", "statistics.json"),
               "Constraints": source("model-quality", "constraints.json")}  # fmt: skip
    evaluation = {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/pipelines/churn/exec-1/evaluation/e.json"}
    return {**response, "DriftCheckBaselines": {"ModelDataQuality": data, "ModelQuality": quality},
            "ModelMetrics": {"ModelQuality": {"Statistics": evaluation, "Constraints": quality["Constraints"]},
                             "ModelDataQuality": data}}  # fmt: skip


BASELINE_FILES = ["data-quality/constraints.json", "data-quality/statistics.json", "drift/baseline.json",
                  "model-quality/constraints.json"]  # fmt: skip


def listing(names: list[str], token: str | None = None) -> dict:
    page = {"Contents": [{"Key": f"{EXECUTION}{n}"} for n in names], "IsTruncated": bool(token)}
    return {**page, "NextContinuationToken": token} if token else page


def copy_request(name: str) -> dict:
    return {
        "Bucket": BUCKET,
        "Key": f"{BASELINE_PREFIX}{name}",
        "CopySource": {"Bucket": BUCKET, "Key": f"{EXECUTION}{name}"},
    }


def test_the_package_names_its_execution_s_baselines_prefix() -> None:
    assert baseline_prefix(with_baselines(package_response()), BUCKET) == EXECUTION
    assert baseline_prefix(package_response(), BUCKET) is None  # registered without baselines
    assert baseline_prefix(with_baselines(package_response(), bucket="someone-else"), BUCKET) is None


def test_every_baseline_is_copied_with_its_relative_path_across_pages() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", listing([*BASELINE_FILES[:2], ""], token="t"),
                          {"Bucket": BUCKET, "Prefix": EXECUTION})  # fmt: skip
        stub.add_response("list_objects_v2", listing(BASELINE_FILES[2:]),
                          {"Bucket": BUCKET, "Prefix": EXECUTION, "ContinuationToken": "t"})  # fmt: skip
        for name in BASELINE_FILES:  # the folder marker ("") is not copied
            stub.add_response("copy_object", {"CopyObjectResult": {}}, copy_request(name))
        copied = copy_baselines(s3, bucket=BUCKET, source=EXECUTION, destination=BASELINE_PREFIX)
        stub.assert_no_pending_responses()
    assert copied == [f"{BASELINE_PREFIX}{n}" for n in BASELINE_FILES]


def test_a_failed_listing_copies_nothing() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:  # no copy_object queued: a copy would fail the test
        stub.add_response("list_objects_v2", listing(BASELINE_FILES, token="t"))
        stub.add_client_error("list_objects_v2", "AccessDenied", "denied", 403)
        with pytest.raises(BaselineCopyFailed, match="nothing copied"):
            copy_baselines(s3, bucket=BUCKET, source=EXECUTION, destination=BASELINE_PREFIX)
        stub.assert_no_pending_responses()


def test_a_failed_copy_is_a_retryable_error() -> None:
    s3 = client("s3")
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", listing(BASELINE_FILES))
        stub.add_response("copy_object", {"CopyObjectResult": {}}, copy_request(BASELINE_FILES[0]))
        stub.add_client_error("copy_object", "SlowDown", "slow down", 503)
        with pytest.raises(BaselineCopyFailed, match="after 1 of 4 objects") as raised:
            copy_baselines(s3, bucket=BUCKET, source=EXECUTION, destination=BASELINE_PREFIX)
    assert isinstance(raised.value, RuntimeError) and not isinstance(raised.value, DeployError)


@pytest.fixture
def deployer(monkeypatch):
    env = {"STACK_NAME": STACK, "PACKAGE_PARAMETER": PARAMETER, "DEPLOY_ROLE_ARN": DEPLOY_ROLE,
           "MODEL_PACKAGE_GROUP": GROUP, "POWERTOOLS_SERVICE_NAME": "model_deployer",
           "ARTIFACT_BUCKET": BUCKET, "BASELINE_PREFIX": BASELINE_PREFIX,
           "POWERTOOLS_METRICS_NAMESPACE": "MlopsTest", "AWS_DEFAULT_REGION": REGION}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler = importlib.reload(importlib.import_module("lambdas.model_deployer.handler"))
    sagemaker, cloudformation, s3 = client("sagemaker"), client("cloudformation"), client("s3")
    monkeypatch.setattr(handler, "_sagemaker", sagemaker)
    monkeypatch.setattr(handler, "_cloudformation", cloudformation)
    monkeypatch.setattr(handler, "_s3", s3)
    with Stubber(sagemaker) as sm, Stubber(cloudformation) as cfn, Stubber(s3) as s3_stub:
        yield handler, sm, cfn, s3_stub
        sm.assert_no_pending_responses()
        cfn.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def test_deployer_handler_copies_the_baselines_then_deploys(deployer, capsys, lambda_context) -> None:
    handler, sm, cfn, s3 = deployer
    sm.add_response("describe_model_package", with_baselines(package_response()))
    s3.add_response("list_objects_v2", listing(BASELINE_FILES), {"Bucket": BUCKET, "Prefix": EXECUTION})
    for name in BASELINE_FILES:
        s3.add_response("copy_object", {"CopyObjectResult": {}}, copy_request(name))
    cfn.add_response("describe_stacks", stack_response())
    cfn.add_response("update_stack", {"StackId": STACK_ID}, expected_update())
    assert handler.lambda_handler(approval(), lambda_context)["deployed"] is True
    assert '"BaselinesCopied":[4' in capsys.readouterr().out.replace(" ", "")


def test_deployer_handler_does_not_deploy_before_the_baselines_are_copied(deployer, capsys, lambda_context) -> None:
    handler, sm, _, s3 = deployer  # no stack call queued: reaching the update would fail the test
    sm.add_response("describe_model_package", with_baselines(package_response()))
    s3.add_response("list_objects_v2", listing(BASELINE_FILES))
    s3.add_client_error("copy_object", "InternalError", "try again", 500)
    with pytest.raises(BaselineCopyFailed):  # Lambda retries the event, then the on-failure destination keeps it
        handler.lambda_handler(approval(), lambda_context)
    assert "BaselineCopyFailures" in capsys.readouterr().out


def test_deployer_handler_starts_the_update_once(deployer, capsys, lambda_context) -> None:
    handler, sm, cfn, _ = deployer  # the package names no baselines: counted, and it still deploys
    sm.add_response("describe_model_package", package_response())
    cfn.add_response("describe_stacks", stack_response())
    cfn.add_response("update_stack", {"StackId": STACK_ID}, expected_update())
    assert handler.lambda_handler(approval(), lambda_context)["deployed"] is True
    sm.add_response("describe_model_package", package_response())
    cfn.add_response("describe_stacks", stack_response(challenger=PACKAGE, status="UPDATE_IN_PROGRESS"))
    again = handler.lambda_handler(approval(), lambda_context)
    assert again["deployed"] is False and again["reason"] == "already deployed"
    out = capsys.readouterr().out
    assert "DeploymentsStarted" in out and "DeploymentsAlreadyDone" in out and "BaselinesMissing" in out


def test_deployer_handler_skips_bad_events_and_retries_a_busy_stack(deployer, lambda_context) -> None:
    handler, sm, cfn, _ = deployer
    assert handler.lambda_handler({"detail-type": "x"}, lambda_context)["deployed"] is False
    sm.add_client_error("describe_model_package", "ValidationException", "does not exist", 400)
    assert "does not exist" in handler.lambda_handler(approval(), lambda_context)["reason"]
    sm.add_response("describe_model_package", package_response())
    cfn.add_response("describe_stacks", stack_response(status="UPDATE_ROLLBACK_IN_PROGRESS"))
    with pytest.raises(StackBusy):  # Lambda retries the event, then the on-failure destination keeps it
        handler.lambda_handler(approval(), lambda_context)
