"""A/B operations: the promotion rule and the approval deployer, with moto and stubbed metrics."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from lambdas.ab_promotion.logic import PromotionError, Rule, VariantStats, apply, decide, gather, parse_event
from lambdas.model_deployer.logic import DeployError, Guardrails, approved_package, deploy_challenger

REGION = "eu-west-1"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULE = Rule(min_challenger_invocations=100, max_error_rate_increase=0.01, max_latency_ratio=1.5, step=0.2)
GROUP = "mlops-dev-churn"
GUARDRAILS = Guardrails(canary_percent=10, wait_seconds=300, rollback_alarms=("a-5xx", "a-latency"))


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


def approval(arn: str, status: str = "Approved", group: str = GROUP) -> dict:
    return {"detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageArn": arn}}  # fmt: skip


def register(sm, status: str = "Approved") -> str:
    return sm.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus=status,
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/new.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]  # fmt: skip


def test_an_approved_package_becomes_the_challenger_through_a_new_config(aws) -> None:
    arn = register(aws)
    change = deploy_challenger(aws, endpoint="churn", package_arn=approved_package(approval(arn), GROUP),
                               guardrails=GUARDRAILS, suffix="1-abc")  # fmt: skip
    (update,) = aws.updates
    assert update["EndpointName"] == "churn" and update["EndpointConfigName"] == change["endpoint_config"] != "cfg-1"
    assert update["RetainAllVariantProperties"] is True
    assert update["DeploymentConfig"] == GUARDRAILS.deployment_config()
    config = aws.describe_endpoint_config(EndpointConfigName=change["endpoint_config"])
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert variants["champion"]["ModelName"] == "m-champion"  # untouched
    assert variants["challenger"]["ModelName"] == change["challenger_model"]
    assert variants["challenger"]["InitialVariantWeight"] == 0.1 and config["KmsKeyId"].endswith("key/k")
    (model,) = aws.models  # moto does not keep EnableNetworkIsolation: check the request
    assert model["ModelName"] == change["challenger_model"] and model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"]["Subnets"] == ["subnet-1", "subnet-2"]
    assert model["Containers"] == [{"ModelPackageName": arn}]


def test_guardrails_are_canary_with_rollback_alarms() -> None:
    config = GUARDRAILS.deployment_config()
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert config["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "a-5xx"}, {"AlarmName": "a-latency"}]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail-type": "Something"}, "not a SageMaker Model Package State Change"),
        (approval("arn:aws:sagemaker:eu-west-1:123456789012:model-package/x/1", status="Rejected"), "not Approved"),
        (
            approval("arn:aws:sagemaker:eu-west-1:123456789012:model-package/other/1", group="other"),
            "is not 'mlops-dev-churn'",
        ),
        (approval("not-an-arn"), "is not a model package ARN"),
    ],
)
def test_bad_approval_events_deploy_nothing(aws, event, message) -> None:
    with pytest.raises(DeployError, match=message):
        approved_package(event, GROUP)
    assert aws.updates == []


def test_a_package_no_longer_approved_is_not_deployed(aws) -> None:
    arn = register(aws, status="PendingManualApproval")
    with pytest.raises(DeployError, match="PendingManualApproval, not Approved"):
        deploy_challenger(aws, endpoint="churn", package_arn=arn, guardrails=GUARDRAILS, suffix="2")
    assert aws.updates == []


def test_deployer_handler_skips_bad_events_cleanly(aws, monkeypatch, capsys, lambda_context) -> None:
    env = {"ENDPOINT_NAME": "churn", "MODEL_PACKAGE_GROUP": GROUP, "CANARY_PERCENT": "10", "CANARY_WAIT_SECONDS": "300",
           "ROLLBACK_ALARMS": "a,b", "POWERTOOLS_SERVICE_NAME": "model_deployer", "POWERTOOLS_METRICS_NAMESPACE": "MlopsTest"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler = importlib.reload(importlib.import_module("lambdas.model_deployer.handler"))
    monkeypatch.setattr(handler, "_sagemaker", aws)

    assert handler.lambda_handler({"detail-type": "x"}, lambda_context)["deployed"] is False
    result = handler.lambda_handler(approval(register(aws)), lambda_context)
    assert result["deployed"] is True and result["endpoint"] == "churn"
    assert "DeploymentsStarted" in capsys.readouterr().out
    assert len(aws.updates) == 1
