"""A profile without a challenger: the serving and monitoring stacks, synthesized in-process.

The champion is the endpoint's one production variant: an approval replaces it through the
stack's package parameter, nothing promotes, and nothing in the templates names a variant
that does not exist (CloudWatch and IAM accept such names silently; they just never match).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.profiles import PROFILES, derive
from tests.test_serving_stack import ARN, _flat, approve, cdk_deploy_parameters, cloudformation_applies, model_of

SOLO = derive(PROFILES["dev"], name="solo", serving={"challenger": False, "instance_type": "ml.t2.medium"})
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890a"


@pytest.fixture(scope="module")
def templates() -> dict[str, dict]:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from stacks.monitoring import MonitoringStack
    from stacks.network import NetworkStack
    from stacks.serving import ServingStack
    from tests.conftest import app_with_project_flags

    app = app_with_project_flags()
    env = cdk.Environment(account="123456789012", region=SOLO.region)
    network = NetworkStack(app, "mlops-solo-network", profile=SOLO, env=env, description="network")
    base = network  # imports need a scope; an empty stack fails template validation
    shared: dict[str, Any] = {
        "vpc": network.vpc,
        "workload_subnets": network.workload_subnets,
        "artifact_bucket": s3.Bucket.from_bucket_name(base, "Artifacts", "artifacts"),
        "data_key": kms.Key.from_key_arn(base, "Key", KEY + "b"),
        "logs_key": kms.Key.from_key_arn(base, "LogsKey", KEY + "c"),
        "alarm_topic": sns.Topic.from_topic_arn(base, "Topic", "arn:aws:sns:eu-west-1:123456789012:alarms"),
    }
    serving = ServingStack(
        app, "mlops-solo-serving", profile=SOLO, env=env, description="serving", **shared,
        serving_data_policy=iam.ManagedPolicy.from_managed_policy_name(base, "Data", "serving-data"),
        model_package_group="mlops-solo-churn",
    )  # fmt: skip
    monitoring = MonitoringStack(
        app, "mlops-solo-monitoring", profile=SOLO, env=env, description="monitoring", **shared,
        monitoring_job_policy=iam.ManagedPolicy.from_managed_policy_name(base, "Job", "monitoring-job"),
        monitoring_reports_policy=iam.ManagedPolicy.from_managed_policy_name(base, "Reports", "monitoring-reports"),
        endpoint_name=serving.endpoint.endpoint_name, retrain_alarm_prefix="mlops-solo-retrain-",
        pipeline_name="mlops-solo-churn", etl_job_name="mlops-solo-etl",
        ingest_stream=kinesis.Stream.from_stream_arn(base, "Stream", "arn:aws:kinesis:eu-west-1:123456789012:stream/s"),
    )  # fmt: skip
    assert serving.promotion is None and serving.weight_setter_arns == []
    assert monitoring.business_metric is None
    return {"serving": Template.from_stack(serving).to_json(), "monitoring": Template.from_stack(monitoring).to_json()}


def _of_type(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _without_descriptions(value: Any) -> Any:
    """The template without free text (descriptions), where a mention of the challenger is no reference."""
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if not k.endswith("Description")}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


@pytest.mark.parametrize("stack", ["serving", "monitoring"])
def test_nothing_but_descriptions_names_the_challenger_or_the_promotion(templates, stack: str) -> None:
    # Alarm dimensions, role statements, dashboard metrics, parameters, outputs, logical ids and paths.
    text = json.dumps(_without_descriptions(templates[stack])).lower()
    assert "challenger" not in text
    assert "promotion" not in text


def test_one_production_variant_one_model_one_package_parameter(templates) -> None:
    serving = templates["serving"]
    (config,) = _of_type(serving, "AWS::SageMaker::EndpointConfig").values()
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["Properties"]["ProductionVariants"]] == [
        ("champion", 1)
    ]
    assert len(_of_type(serving, "AWS::SageMaker::Model")) == 1
    assert sorted(serving["Parameters"]) == ["BootstrapVersion", "ChampionPackageArn"]
    assert serving["Outputs"]["VariantNames"]["Value"] == "champion"
    assert list(serving["Conditions"]) == [
        k for k in serving["Conditions"] if serving["Conditions"][k]["Fn::Equals"][0] == {"Ref": "ChampionPackageArn"}
    ]


def test_no_promotion_function_or_schedule_and_approvals_start_the_deployer(templates) -> None:
    serving = templates["serving"]
    functions = _of_type(serving, "AWS::Lambda::Function")
    assert [k for k in functions if k.startswith("Promotion")] == []
    (deployer,) = [f["Properties"] for k, f in functions.items() if k.startswith("Deployer")]
    assert deployer["Environment"]["Variables"]["PACKAGE_PARAMETER"] == "ChampionPackageArn"
    rules = _of_type(serving, "AWS::Events::Rule")
    assert [k for k in rules if k.startswith("OnModelApproved")] == list(rules)
    ((rule,),) = [r["Properties"]["Targets"] for r in rules.values()]
    assert rule["Arn"] == {"Fn::GetAtt": [next(k for k in functions if k.startswith("Deployer")), "Arn"]}


def test_an_approval_replaces_the_champion_and_a_later_deploy_keeps_it(templates) -> None:
    template = templates["serving"]
    (deployer,) = [f["Properties"]["Environment"]["Variables"] for k, f in template["Resources"].items()
                   if k.startswith("Deployer") and f["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    values = cloudformation_applies(template, None, cdk_deploy_parameters(template, None, {}))
    assert model_of(template, "champion", values).keys() == {"Image", "ModelDataUrl"}
    approved = ARN.format("solo", 3)
    sent = approve("mlops-solo-serving", deployer["PACKAGE_PARAMETER"], values, approved)
    values = cloudformation_applies(template, values, sent["Parameters"])
    assert model_of(template, "champion", values) == {"ModelPackageName": approved}
    after = cloudformation_applies(template, values, cdk_deploy_parameters(template, values, {}))
    assert model_of(template, "champion", after) == {"ModelPackageName": approved}


def test_the_replacement_bakes_under_alarms_that_exist_and_the_roles_may_read(templates) -> None:
    serving = templates["serving"]
    (endpoint,) = _of_type(serving, "AWS::SageMaker::Endpoint").values()
    config = endpoint["Properties"]["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": SOLO.serving.bake_minutes * 60
    }  # fmt: skip
    rollback = {a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]}
    alarms = {a["Properties"].get("AlarmName") for a in _of_type(serving, "AWS::CloudWatch::Alarm").values()}
    assert rollback == {"mlops-solo-churn-champion-5xx-rate", "mlops-solo-churn-champion-p99-latency"}
    assert rollback <= alarms
    # The endpoint's execution role and CloudFormation's deploy role read exactly these alarms.
    granted = [
        _listed(statement["Resource"])
        for policy in _of_type(serving, "AWS::IAM::ManagedPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in _listed(statement["Action"])
    ]
    assert len(granted) == 2
    for resources in granted:
        assert {_flat(r).rsplit(":alarm:", 1)[-1] for r in resources} == rollback


def test_the_ops_dashboard_shows_the_champion_and_no_promotion(templates) -> None:
    monitoring = templates["monitoring"]
    (dashboard,) = _of_type(monitoring, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert '\\"VariantName\\",\\"champion\\"' in body and '\\"Variant\\",\\"champion\\"' in body
    assert "ab_promotion" not in body and "Promotion" not in body
    assert "BusinessMetric" not in monitoring.get("Outputs", {})
