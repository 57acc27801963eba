"""A/B operations: the promotion rule and the approval deployer, with moto and stubbed metrics."""

from __future__ import annotations

import importlib
import math
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas.ab_promotion.logic import (
    EndpointBusy,
    PromotionError,
    Rule,
    VariantStats,
    apply,
    decide,
    gather,
    parse_event,
)
from lambdas.model_deployer.logic import (
    CAPABILITIES,
    DETAIL_TYPE,
    BaselineCopyFailed,
    DeployError,
    StackBusy,
    approved_package,
    baseline_prefix,
    check_package,
    copy_baselines,
    deploy_package,
)
from ml_constructs.monitoring import BASELINE_PREFIX

REGION = "eu-west-1"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULE = Rule(min_challenger_invocations=100, max_error_rate_increase=0.01, max_latency_ratio=1.5, step=0.2)
GROUP = "mlops-dev-churn"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


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
        self.deployed_at = NOW - timedelta(hours=2)

    def describe_endpoint(self, **kwargs):
        """moto leaves out the variants' deployed images: add them, resolved at ``deployed_at``."""
        description = self.client.describe_endpoint(**kwargs)
        for variant in description["ProductionVariants"]:
            variant["DeployedImages"] = [{"SpecifiedImage": "img", "ResolutionTime": self.deployed_at}]
        return description

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
    [((50, 0, 50_000.0), "served 50 requests; 100 needed"), ((1_000, 1, None), "no usable challenger p99 latency")],
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


# --- issue 10: promotion under hostile input -------------------------------------------------------


class Endpoint:
    """A SageMaker client for one endpoint: the description the test sets, weight updates recorded."""

    def __init__(self, weights=(0.9, 0.1), status="InService", deployed_at=NOW - timedelta(hours=2), error=None):
        self.weights, self.status, self.deployed_at, self.error, self.updates = dict(zip(
            ("champion", "challenger"), weights, strict=True)), status, deployed_at, error, []  # fmt: skip

    def describe_endpoint(self, **_):
        variants = [{"VariantName": n, "CurrentWeight": w,
                     "DeployedImages": [{"SpecifiedImage": "img", "ResolutionTime": self.deployed_at}]}
                    for n, w in self.weights.items()]  # fmt: skip
        return {"EndpointName": "churn", "EndpointStatus": self.status, "ProductionVariants": variants}

    def update_endpoint_weights_and_capacities(self, **kwargs):
        if self.error:
            raise self.error
        self.updates.append(kwargs)
        return {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/churn"}


class Watch(FakeCloudWatch):
    """FakeCloudWatch that keeps every request."""

    def __init__(self, values) -> None:
        super().__init__(values)
        self.requests = []

    def get_metric_statistics(self, **kwargs):
        self.requests.append(kwargs)
        return super().get_metric_statistics(**kwargs)


def healthy() -> Watch:
    return Watch(metrics().values)


EVENT_SHAPES = {
    "manual": {"dry_run": True},
    "scheduled rule, in detail": {
        "version": "0",
        "id": "e",
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/p"],
        "detail": {"dry_run": True},
    },
    "scheduled rule, at the top": {
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "detail": {},
        "dry_run": True,
    },
    "custom event": {"source": "mlops.manual", "detail-type": "Promote", "detail": {"dry_run": True}},
    "conflicting": {"source": "mlops.manual", "detail-type": "Promote", "dry_run": False, "detail": {"dry_run": True}},
}


@pytest.fixture
def promotion(monkeypatch):
    env = {"ENDPOINT_NAME": "churn", "MIN_CHALLENGER_INVOCATIONS": "100", "MAX_ERROR_RATE_INCREASE": "0.01",
           "MAX_LATENCY_RATIO": "1.5", "PROMOTION_STEP": "0.2", "DRY_RUN": "false",
           "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_SERVICE_NAME": "ab_promotion", "POWERTOOLS_METRICS_NAMESPACE": "MlopsTest"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return importlib.reload(importlib.import_module("lambdas.ab_promotion.handler"))


@pytest.mark.parametrize("shape", EVENT_SHAPES)
def test_dry_run_is_honoured_from_every_event_shape(promotion, monkeypatch, lambda_context, capsys, shape) -> None:
    endpoint = Endpoint()
    monkeypatch.setattr(promotion, "_sagemaker", endpoint)
    monkeypatch.setattr(promotion, "_cloudwatch", healthy())
    result = promotion.lambda_handler(EVENT_SHAPES[shape], lambda_context)
    assert result["action"] == "PROMOTE" and not result["applied"] and endpoint.updates == []
    capsys.readouterr()


def test_only_metrics_since_the_challenger_s_deployment_are_read() -> None:
    watch = healthy()
    deployed = NOW - timedelta(minutes=10, seconds=30)
    gather(Endpoint(deployed_at=deployed), watch, "churn", RULE, NOW + timedelta(seconds=20))
    for request in watch.requests:  # CloudWatch rounds a start down to the minute: ours is rounded up
        assert request["StartTime"] == NOW - timedelta(minutes=10) and request["EndTime"] == NOW
        assert request["Period"] == 600


def test_a_challenger_deployed_within_the_minute_is_not_judged() -> None:
    watch = healthy()
    decision = decide(gather(Endpoint(deployed_at=NOW - timedelta(seconds=30)), watch, "churn", RULE, NOW), RULE)
    assert decision.action == "HOLD" and "not enough evidence" in decision.reason and watch.requests == []


@pytest.mark.parametrize("variant", ["champion", "challenger"])
@pytest.mark.parametrize("metric", ["Invocations", "Invocation5XXErrors", "ModelLatency"])
@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), -1.0])
def test_missing_or_non_finite_metrics_are_not_enough_evidence(variant, metric, value) -> None:
    watch = healthy()
    watch.values[(variant, metric)] = value
    endpoint = Endpoint()
    decision = apply(endpoint, "churn", decide(gather(endpoint, watch, "churn", RULE, NOW), RULE), dry_run=False)
    assert decision.action == "HOLD" and not decision.applied and endpoint.updates == []


@pytest.mark.parametrize(("weights", "written"), [((9, 1), (7, 3)), ((0.45, 0.05), (0.35, 0.15)), ((3, 2), (2, 3))])
def test_variant_weights_are_relative(weights, written) -> None:
    endpoint = Endpoint(weights=weights)
    decision = apply(endpoint, "churn", decide(gather(endpoint, healthy(), "churn", RULE, NOW), RULE), dry_run=False)
    assert decision.weights_before["challenger"] == pytest.approx(weights[1] / sum(weights))
    (update,) = endpoint.updates
    assert [w["DesiredWeight"] for w in update["DesiredWeightsAndCapacities"]] == pytest.approx(written)


@pytest.mark.parametrize("status", ["Updating", "SystemUpdating", "RollingBack", "Creating", "Failed", None])
def test_an_endpoint_not_in_service_is_left_alone(promotion, monkeypatch, lambda_context, capsys, status) -> None:
    endpoint, watch = Endpoint(status=status), healthy()
    with pytest.raises(EndpointBusy, match="not InService"):
        gather(endpoint, watch, "churn", RULE, NOW)
    monkeypatch.setattr(promotion, "_sagemaker", endpoint)
    monkeypatch.setattr(promotion, "_cloudwatch", watch)
    assert promotion.lambda_handler({}, lambda_context)["action"] == "HOLD"
    assert watch.requests == [] and endpoint.updates == []
    capsys.readouterr()


def test_aws_errors_are_promotion_errors() -> None:
    sagemaker, cloudwatch = client("sagemaker"), client("cloudwatch")
    with Stubber(sagemaker) as sm:
        sm.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint", 400)
        with pytest.raises(PromotionError, match="describing endpoint churn failed"):
            gather(sagemaker, healthy(), "churn", RULE, NOW)
    with Stubber(cloudwatch) as cw:
        cw.add_client_error("get_metric_statistics", "Throttling", "slow down", 400)
        with pytest.raises(PromotionError, match="reading AWS/SageMaker Invocations of champion failed"):
            gather(Endpoint(), cloudwatch, "churn", RULE, NOW)
    endpoint = Endpoint(error=ClientError({"Error": {"Code": "ValidationException", "Message": "busy"}}, "Update"))
    with pytest.raises(PromotionError, match="nothing changed"):
        apply(endpoint, "churn", decide(gather(endpoint, healthy(), "churn", RULE, NOW), RULE), dry_run=False)


# --- property tests of the promotion's promises ----------------------------------------------------

metric_values = st.one_of(
    st.none(), st.just(float("nan")), st.just(float("inf")), st.just(-1.0),
    st.floats(0, 1e9, allow_nan=False), st.integers(0, 10**9),
)  # fmt: skip
relative_weights = st.tuples(st.floats(1e-3, 1e3), st.floats(0, 1e3)).filter(lambda w: w[1] / sum(w) <= 1)


def sane(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


@pytest.mark.property
@settings(deadline=None)
@given(values=st.fixed_dictionaries({(v, m): metric_values for v in ("champion", "challenger")
                                     for m in ("Invocations", "Invocation5XXErrors", "ModelLatency")}),
       weights=relative_weights)  # fmt: skip
def test_property_missing_nan_or_infinite_metrics_change_nothing(values, weights) -> None:
    endpoint = Endpoint(weights=weights)
    decision = apply(endpoint, "churn", decide(gather(endpoint, Watch(values), "churn", RULE, NOW), RULE), False)
    if not all(sane(v) for v in values.values()):
        assert decision.action == "HOLD" and endpoint.updates == [] and not decision.applied
    else:
        assert decision.applied == (decision.action != "HOLD") == bool(endpoint.updates)


@pytest.mark.property
@settings(deadline=None)
@given(weights=relative_weights, scale=st.floats(1e-3, 1e3), challenger=st.tuples(st.integers(100, 10**6),
       st.integers(0, 10), st.floats(1, 60_000)))  # fmt: skip
def test_property_variant_weights_are_read_as_relative(weights, scale, challenger) -> None:
    watch = Watch(metrics(challenger=challenger).values)
    one, scaled = Endpoint(weights=weights), Endpoint(weights=tuple(w * scale for w in weights))
    first = apply(one, "churn", decide(gather(one, watch, "churn", RULE, NOW), RULE), False)
    second = apply(scaled, "churn", decide(gather(scaled, watch, "churn", RULE, NOW), RULE), False)
    assert first.action == second.action and first.weights_after == second.weights_after
    assert sum(first.weights_before.values()) == pytest.approx(1) and 0 <= first.weights_after["challenger"] <= 1
    for endpoint, total in ((one, sum(weights)), (scaled, sum(weights) * scale)):
        for update in endpoint.updates:  # written weights keep the pair's total and give the decided share
            written = {w["VariantName"]: w["DesiredWeight"] for w in update["DesiredWeightsAndCapacities"]}
            assert sum(written.values()) == pytest.approx(total, rel=1e-4, abs=1e-5)
            assert written["challenger"] / total == pytest.approx(first.weights_after["challenger"], abs=1e-4)


@pytest.mark.property
@settings(deadline=None)
@given(deployed=st.datetimes(datetime(2026, 11, 20), datetime(2026, 11, 26)).map(lambda d: d.replace(tzinfo=UTC)),
       window=st.integers(1, 24 * 60).map(lambda m: timedelta(minutes=m)))  # fmt: skip
def test_property_a_challenger_is_judged_only_on_metrics_since_its_deployment(deployed, window) -> None:
    watch, rule = healthy(), Rule(window=window)
    gather(Endpoint(deployed_at=deployed), watch, "churn", rule, NOW)
    for request in watch.requests:
        assert request["StartTime"] >= max(deployed, NOW - window) and request["EndTime"] <= NOW
        assert (
            request["Period"] % 60 == 0
            and request["Period"] == (request["EndTime"] - request["StartTime"]).total_seconds()
        )
    assert watch.requests or NOW - max(deployed, NOW - window) < timedelta(minutes=2)


promotion_events = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"dry_run": json_values}),
    st.fixed_dictionaries({"source": st.sampled_from(["aws.events", "mlops.manual"]),
                           "detail-type": st.sampled_from(["Scheduled Event", "Promote"])},
                          optional={"detail": st.one_of(json_values, st.fixed_dictionaries({}, optional={"dry_run": json_values})),
                                    "dry_run": json_values, "id": st.text(max_size=8)}),
)  # fmt: skip


def asks_dry_run(event) -> bool:
    detail = event.get("detail") if isinstance(event, dict) else None
    return isinstance(event, dict) and (
        event.get("dry_run") is True or (isinstance(detail, dict) and detail.get("dry_run") is True)
    )


@pytest.mark.property
@settings(deadline=None)
@given(event=promotion_events)
def test_property_bad_input_to_the_promotion_changes_nothing(
    promotion, monkeypatch, lambda_context, capsys, event
) -> None:
    endpoint = Endpoint()
    monkeypatch.setattr(promotion, "_sagemaker", endpoint)
    monkeypatch.setattr(promotion, "_cloudwatch", healthy())
    result = promotion.lambda_handler(event, lambda_context)
    try:
        parse_event(event)
    except PromotionError:
        assert result["action"] == "ERROR" and endpoint.updates == []
    if asks_dry_run(event):
        assert endpoint.updates == [] and not result["applied"]
    assert result["applied"] == bool(endpoint.updates)
    capsys.readouterr()


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
    return deploy_package(cloudformation, stack=STACK, parameter=PARAMETER, package_arn=package, role_arn=DEPLOY_ROLE)


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


def test_deployer_handler_deploys_then_copies_the_baselines(deployer, capsys, lambda_context) -> None:
    handler, sm, cfn, s3 = deployer
    sm.add_response("describe_model_package", with_baselines(package_response()))
    s3.add_response("list_objects_v2", listing(BASELINE_FILES), {"Bucket": BUCKET, "Prefix": EXECUTION})
    for name in BASELINE_FILES:
        s3.add_response("copy_object", {"CopyObjectResult": {}}, copy_request(name))
    cfn.add_response("describe_stacks", stack_response())
    cfn.add_response("update_stack", {"StackId": STACK_ID}, expected_update())
    assert handler.lambda_handler(approval(), lambda_context)["deployed"] is True
    assert '"BaselinesCopied":[4' in capsys.readouterr().out.replace(" ", "")


def test_a_failed_copy_is_retried_and_the_retry_copies_without_a_second_update(
    deployer, capsys, lambda_context
) -> None:
    handler, sm, cfn, s3 = deployer
    sm.add_response("describe_model_package", with_baselines(package_response()))
    cfn.add_response("describe_stacks", stack_response())
    cfn.add_response("update_stack", {"StackId": STACK_ID}, expected_update())
    s3.add_response("list_objects_v2", listing(BASELINE_FILES))
    s3.add_client_error("copy_object", "InternalError", "try again", 500)
    with pytest.raises(BaselineCopyFailed):  # Lambda retries the event, then the on-failure destination keeps it
        handler.lambda_handler(approval(), lambda_context)
    assert "BaselineCopyFailures" in capsys.readouterr().out
    # the retry: the parameter already names the package (no update queued), the whole set is copied
    sm.add_response("describe_model_package", with_baselines(package_response()))
    cfn.add_response("describe_stacks", stack_response(challenger=PACKAGE, status="UPDATE_IN_PROGRESS"))
    s3.add_response("list_objects_v2", listing(BASELINE_FILES))
    for name in BASELINE_FILES:
        s3.add_response("copy_object", {"CopyObjectResult": {}}, copy_request(name))
    assert handler.lambda_handler(approval(), lambda_context)["reason"] == "already deployed"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationError", "Parameters: [ChallengerPackageArn] do not satisfy the constraint"),
        ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]"),
        ("AccessDenied", "not authorized to perform: iam:PassRole"),
    ],
)
def test_an_update_cloudformation_refuses_is_a_deploy_error_and_leaves_nothing(deployer, lambda_context, code,
                                                                                message) -> None:  # fmt: skip
    handler, sm, cfn, _ = deployer  # no S3 call queued: copying baselines of an undeployed model fails the test
    sm.add_response("describe_model_package", with_baselines(package_response()))
    cfn.add_response("describe_stacks", stack_response())
    cfn.add_client_error("update_stack", code, message, 400)
    result = handler.lambda_handler(approval(), lambda_context)
    assert result["deployed"] is False and code in result["reason"] and "nothing changed" in result["reason"]


@pytest.mark.parametrize(
    ("code", "status", "raised"),
    [
        ("AccessDeniedException", 400, DeployError),
        ("ThrottlingException", 400, StackBusy),
        ("InternalFailure", 500, StackBusy),
    ],
)
def test_describe_package_errors_are_the_deployer_s_own(code, status, raised) -> None:
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as sm:
        sm.add_client_error("describe_model_package", code, "no", status)
        with pytest.raises(raised):
            check_package(sagemaker, PACKAGE, GROUP)


def test_a_missing_stack_is_a_deploy_error() -> None:
    cloudformation = client("cloudformation")
    with Stubber(cloudformation) as cfn:
        cfn.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist", 400)
        with pytest.raises(DeployError, match="does not exist"):
            deploy(cloudformation)


def test_a_description_of_another_package_is_refused() -> None:
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as sm:
        sm.add_response("describe_model_package", package_response(arn=f"{ACCOUNT_ARN}:model-package/{GROUP}/8"))
        with pytest.raises(DeployError, match="not arn"):
            check_package(sagemaker, PACKAGE, GROUP)


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


# --- property test of the deployer's promise -------------------------------------------------------


class Answers:
    """A client whose operations return or raise what the test drew, and which records every call."""

    def __init__(self, **answers) -> None:
        self.answers, self.calls = answers, []

    def __getattr__(self, operation):
        def call(**kwargs):
            self.calls.append(operation)
            answer = self.answers[operation]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call

    def get_paginator(self, operation):
        outer = self

        class Pages:
            def paginate(self, **kwargs):
                return [getattr(outer, operation)(**kwargs)]

        return Pages()


def aws_error(code: str, status: int = 400, message: str = "no") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Op")  # fmt: skip


aws_errors = st.one_of(
    st.builds(aws_error, st.sampled_from(["ValidationException", "ValidationError", "AccessDenied", "ThrottlingException",
                                          "ResourceNotFound", "InternalFailure"]), st.sampled_from([400, 403, 500, 503])),
    st.just(aws_error("ValidationError", 400, f"Stack:{STACK_ID} is in UPDATE_IN_PROGRESS state and can not be updated.")),
    st.just(aws_error("ValidationError", 400, "No updates are to be performed.")),
    st.just(aws_error("TokenAlreadyExistsException")),
    st.builds(lambda: EndpointConnectionError(endpoint_url="https://x")),
)  # fmt: skip
groups = st.sampled_from([GROUP, "other-group", "", None])
statuses = st.sampled_from(["Approved", "PendingManualApproval", "Rejected", None, "approved"])
package_arns = st.one_of(st.just(PACKAGE), st.just(f"{ACCOUNT_ARN}:model-package/other-group/3"),
                         st.just(f"{ACCOUNT_ARN}:model-package/{GROUP}/8"), json_values)  # fmt: skip


@st.composite
def approval_events(draw):
    """The "SageMaker Model Package State Change" event, every field as AWS sends it, some replaced."""
    detail = {"ModelPackageGroupName": draw(groups), "ModelPackageVersion": 7, "ModelPackageArn": draw(package_arns),
              "ModelPackageName": f"{GROUP}/7", "CreationTime": 1764072000000, "ModelApprovalStatus": draw(statuses),
              "ModelPackageStatus": "Completed"}  # fmt: skip
    event = {"version": "0", "id": "e", "detail-type": draw(st.sampled_from([DETAIL_TYPE, "SageMaker Endpoint State Change"])),
             "source": draw(st.sampled_from(["aws.sagemaker", "my.app", "aws.events"])), "account": "123456789012",
             "time": "2026-11-25T12:00:00Z", "region": REGION, "resources": [PACKAGE], "detail": detail}  # fmt: skip
    return draw(st.one_of(st.just(event), json_values))


@pytest.mark.property
@settings(deadline=None)
@given(
    event=approval_events(),
    described=st.one_of(aws_errors, st.builds(lambda arn, g, s: {**package_response(), "ModelPackageArn": arn,
                                              "ModelPackageGroupName": g, "ModelApprovalStatus": s},
                                              st.sampled_from([PACKAGE, f"{ACCOUNT_ARN}:model-package/{GROUP}/8"]), groups, statuses)),
    stack=st.one_of(aws_errors, st.builds(stack_response, st.sampled_from(["", PACKAGE]),
                                          st.sampled_from(["UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "CREATE_COMPLETE",
                                                           "UPDATE_ROLLBACK_FAILED", "ROLLBACK_COMPLETE"]))),
    update=st.one_of(aws_errors, st.just({"StackId": STACK_ID})),
)  # fmt: skip
def test_property_only_an_approved_package_of_the_group_from_sagemaker_is_deployed(
    deployer, lambda_context, capsys, event, described, stack, update
) -> None:
    handler = deployer[0]
    sagemaker = Answers(describe_model_package=described)
    cloudformation = Answers(describe_stacks=stack, update_stack=update)
    s3 = Answers(list_objects_v2=listing(BASELINE_FILES), copy_object={"CopyObjectResult": {}})
    handler._sagemaker, handler._cloudformation, handler._s3 = sagemaker, cloudformation, s3
    try:
        result = handler.lambda_handler(event, lambda_context)
    except StackBusy:  # raised on purpose: Lambda retries the event
        result = None
    capsys.readouterr()
    eligible = (
        isinstance(event, dict) and event.get("source") == "aws.sagemaker" and event.get("detail-type") == DETAIL_TYPE
        and event["detail"].get("ModelPackageGroupName") == GROUP and event["detail"].get("ModelApprovalStatus") == "Approved"
        and event["detail"].get("ModelPackageArn") == PACKAGE and isinstance(described, dict)
        and described["ModelPackageArn"] == PACKAGE and described["ModelPackageGroupName"] == GROUP
        and described["ModelApprovalStatus"] == "Approved"
    )  # fmt: skip
    if "update_stack" in cloudformation.calls or "describe_stacks" in cloudformation.calls:
        assert eligible
    if not eligible:
        assert cloudformation.calls == [] and s3.calls == [] and (result is None or result["deployed"] is False)
    # Baselines move only with a requested (or already made) update, never for a refused one.
    if s3.calls:
        assert (
            "update_stack" in cloudformation.calls or stack["Stacks"][0]["Parameters"][1]["ParameterValue"] == PACKAGE
        )
    if result is not None and result["deployed"]:
        assert cloudformation.calls == ["describe_stacks", "update_stack"] and "copy_object" in s3.calls
    ready = isinstance(stack, dict) and stack["Stacks"][0]["StackStatus"] in ("UPDATE_COMPLETE", "CREATE_COMPLETE")
    if eligible and ready and stack["Stacks"][0]["Parameters"][1]["ParameterValue"] == "" and isinstance(update, dict):
        assert result["deployed"] is True
