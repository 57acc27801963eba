"""Serving stack: the A/B endpoint, guardrails, autoscaling, alarms, promotion and approval wiring."""

from __future__ import annotations

import json

import pytest

from config import PROFILES
from tests.conftest import Assembly, run_synth


def _one(assembly: Assembly, cfn_type: str) -> dict:
    (resource,) = assembly.resources("serving", cfn_type).values()
    return resource["Properties"]


def test_two_production_variants_with_profile_weights_and_capacity(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    config = _one(assembly, "AWS::SageMaker::EndpointConfig")
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert set(variants) == {"champion", "challenger"}
    assert variants["challenger"]["InitialVariantWeight"] == settings.challenger_weight
    assert variants["champion"]["InitialVariantWeight"] == pytest.approx(1 - settings.challenger_weight)
    for variant in variants.values():
        assert variant["InstanceType"] == settings.instance_type
        assert variant["InitialInstanceCount"] == settings.instance_count
    assert "EndpointConfigName" not in config  # generated: updates never collide
    assert "DataKey" in json.dumps(config["KmsKeyId"])


def test_prod_runs_at_least_two_instances_per_variant(prod: Assembly) -> None:
    config = _one(prod, "AWS::SageMaker::EndpointConfig")
    assert all(v["InitialInstanceCount"] >= 2 for v in config["ProductionVariants"])


def test_data_capture_is_encrypted_and_sampled_from_the_profile(assembly: Assembly) -> None:
    capture = _one(assembly, "AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == PROFILES[assembly.profile].serving.data_capture_percent
    assert "DataKey" in json.dumps(capture["KmsKeyId"])
    assert capture["DestinationS3Uri"]["Fn::Join"][1][-1] == "/monitoring/data-capture/"


def test_models_run_isolated_in_every_zone_from_the_bootstrap_artifact(assembly: Assembly) -> None:
    models = assembly.resources("serving", "AWS::SageMaker::Model")
    assert len(models) == 2
    for model in models.values():
        props = model["Properties"]
        assert props["EnableNetworkIsolation"] is True
        assert len(props["VpcConfig"]["Subnets"]) == len(PROFILES[assembly.profile].availability_zones)
        container = props["PrimaryContainer"]
        assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")
        assert container["ModelDataUrl"]["Fn::Sub"].endswith(".gz")


def test_blue_green_canary_with_auto_rollback_and_retained_variant_properties(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    endpoint = _one(assembly, "AWS::SageMaker::Endpoint")
    assert endpoint["RetainAllVariantProperties"] is True
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert policy == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": settings.canary_percent},
        "WaitIntervalInSeconds": settings.canary_wait_minutes * 60,
    }
    names = {a["AlarmName"] for a in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    alarms = {
        a["Properties"]["AlarmName"]
        for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()
        if "AlarmName" in a["Properties"]
    }
    assert names and names <= alarms
    assert {n.rsplit("-", 2)[-2] + "-" + n.rsplit("-", 1)[-1] for n in names} >= {"5xx-rate", "p99-latency"}


def test_each_variant_autoscales_on_invocations_within_profile_bounds(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    targets = assembly.resources("serving", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert len(targets) == 2
    for target in targets.values():
        props = target["Properties"]
        assert props["MinCapacity"] == settings.instance_count and props["MaxCapacity"] == settings.max_instance_count
        assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    for policy in assembly.resources("serving", "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert config["TargetValue"] == settings.target_invocations_per_instance
        assert (
            config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
        )
        assert config["ScaleInCooldown"] > config["ScaleOutCooldown"] > 0


@pytest.mark.parametrize(
    "kind", ["5xx-rate", "4xx-rate", "p99-latency", "overhead-latency", "cpu", "memory", "no-invocations"]
)
def test_every_variant_has_each_alarm_wired_to_the_topic(assembly: Assembly, kind: str) -> None:
    alarms = [a["Properties"] for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()]
    for variant in ("champion", "challenger"):
        (alarm,) = [a for a in alarms if a.get("AlarmName") == f"mlops-{assembly.profile}-churn-{variant}-{kind}"]
        assert "AlarmTopic" in json.dumps(alarm["AlarmActions"])
    latency = next(a for a in alarms if a.get("AlarmName", "").endswith("champion-p99-latency"))
    assert latency["Threshold"] == PROFILES[assembly.profile].serving.p99_latency_alarm_ms * 1000


def test_dashboard_shows_both_variants(assembly: Assembly) -> None:
    body = json.dumps(_one(assembly, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency", "CPUUtilization", "MemoryUtilization"):
        assert metric in body
    assert body.count("champion") >= 7 and body.count("challenger") >= 7


def test_promotion_runs_on_schedule_and_approval_starts_the_deployer(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    rules = {k: r["Properties"] for k, r in assembly.resources("serving", "AWS::Events::Rule").items()}
    schedule = next(v for k, v in rules.items() if k.startswith("PromotionSchedule"))
    approved = next(v for k, v in rules.items() if k.startswith("OnModelApproved"))
    assert schedule["ScheduleExpression"] == settings.promotion_schedule
    assert approved["EventPattern"]["detail"] == {
        "ModelPackageGroupName": [f"mlops-{assembly.profile}-churn"], "ModelApprovalStatus": ["Approved"]
    }  # fmt: skip
    for rule in (schedule, approved):
        assert rule["Targets"][0]["DeadLetterConfig"] and rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    functions = {k: f["Properties"] for k, f in assembly.resources("serving", "AWS::Lambda::Function").items()}
    promotion = next(v for k, v in functions.items() if k.startswith("Promotion"))["Environment"]["Variables"]
    assert promotion["DRY_RUN"] == ("true" if settings.promotion_dry_run else "false")
    deployer = next(v for k, v in functions.items() if k.startswith("Deployer"))["Environment"]["Variables"]
    assert len(deployer["ROLLBACK_ALARMS"].split(",")) == 4


def test_named_packages_replace_the_bootstrap_model(tmp_path) -> None:
    champion = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/mlops-dev-churn/3"
    challenger = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/mlops-dev-churn/4"
    result = run_synth(tmp_path, "profile=dev", f"champion={champion}", f"challenger={challenger}", offline=False)
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "mlops-dev-serving.template.json").read_text())
    containers = [
        m["Properties"]["PrimaryContainer"]
        for m in template["Resources"].values()
        if m["Type"] == "AWS::SageMaker::Model"
    ]
    assert sorted(c["ModelPackageName"] for c in containers) == [champion, challenger]


def test_a_bad_package_arn_fails_synth_naming_the_key(tmp_path) -> None:
    result = run_synth(tmp_path, "profile=dev", "challenger=model-7", offline=False)
    assert result.returncode != 0
    assert "key 'serving.challenger_package_arn'" in result.stderr


def test_bootstrap_model_is_rebuilt_byte_for_byte(spark, tmp_path) -> None:
    from pipelines.serving.bootstrap import ARTIFACT, build

    metrics = build(tmp_path / "model.tar.gz", spark=spark)
    assert (tmp_path / "model.tar.gz").read_bytes() == ARTIFACT.read_bytes()
    assert metrics["auc"] > 0.75


def test_client_sends_csv_pins_the_variant_and_reads_scores() -> None:
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    from pipelines.serving.client import invoke
    from pipelines.training.features import FEATURES

    runtime = boto3.client(
        "sagemaker-runtime", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    rows = [[0.0] * len(FEATURES), [1.0] * len(FEATURES)]
    body = b"0.12,0.87"
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "InvokedProductionVariant": "challenger"},
            {"EndpointName": "e", "ContentType": "text/csv", "Accept": "text/csv", "TargetVariant": "challenger",
             "Body": "\n".join(",".join(["0.0"] * len(FEATURES)) if i == 0 else ",".join(["1.0"] * len(FEATURES)) for i in range(2))},
        )  # fmt: skip
        result = invoke(runtime, "e", rows, variant="challenger")
    assert result == {"variant": "challenger", "scores": [0.12, 0.87], "churn": [False, True]}
    with pytest.raises(ValueError, match="the model takes"):
        invoke(runtime, "e", [[1.0, 2.0]])


def test_bootstrap_model_answers_like_the_pipeline_model() -> None:
    import numpy as np
    import xgboost as xgb

    from pipelines.serving.bootstrap import ARTIFACT
    from pipelines.training.evaluate import load_model
    from pipelines.training.features import FEATURES

    booster = load_model(ARTIFACT)
    scores = booster.predict(xgb.DMatrix(np.zeros((3, len(FEATURES)))))
    assert booster.num_features() == len(FEATURES) and ((scores >= 0) & (scores <= 1)).all()
