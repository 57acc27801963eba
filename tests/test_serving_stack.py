"""Serving stack: the A/B endpoint, guardrails, autoscaling, alarms, promotion and approval wiring."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import boto3
import pytest

from config import PROFILES, ProfileError
from pipelines.data import spec as specs
from tests.conftest import ROOT, Assembly


def _one(assembly: Assembly, cfn_type: str) -> dict:
    (resource,) = assembly.resources("serving", cfn_type).values()
    return resource["Properties"]


def _variants(assembly: Assembly) -> tuple[str, ...]:
    """The profile's production variants: champion and challenger, or the champion alone."""
    return ("champion", "challenger") if PROFILES[assembly.profile].serving.challenger else ("champion",)


def _approved(assembly: Assembly) -> str:
    """The variant an approved package replaces."""
    return _variants(assembly)[-1]


def test_production_variants_with_profile_weights_and_capacity(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    config = _one(assembly, "AWS::SageMaker::EndpointConfig")
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert sorted(variants) == sorted(_variants(assembly))
    if settings.challenger:
        assert variants["challenger"]["InitialVariantWeight"] == settings.challenger_weight
        assert variants["champion"]["InitialVariantWeight"] == pytest.approx(1 - settings.challenger_weight)
    else:
        assert variants["champion"]["InitialVariantWeight"] == 1
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


def test_models_run_isolated_in_every_zone(assembly: Assembly) -> None:
    models = assembly.resources("serving", "AWS::SageMaker::Model")
    assert len(models) == len(_variants(assembly))
    for model in models.values():
        props = model["Properties"]
        assert props["EnableNetworkIsolation"] is True
        assert len(props["VpcConfig"]["Subnets"]) == len(PROFILES[assembly.profile].availability_zones)


# --- who owns the endpoint: CloudFormation, through the package parameters --------------------------


def evaluate(template: dict, value, parameters: dict[str, str]):
    """What CloudFormation makes of ``value`` with these parameter values (Ref, Fn::If, Fn::Equals)."""
    if isinstance(value, list):
        return [evaluate(template, v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in template.get("Parameters", {}):
        return parameters[value["Ref"]]
    if set(value) == {"Fn::Equals"}:
        left, right = evaluate(template, value["Fn::Equals"], parameters)
        return left == right
    if set(value) == {"Fn::If"}:
        condition, then, otherwise = value["Fn::If"]
        chosen = then if evaluate(template, template["Conditions"][condition], parameters) else otherwise
        return evaluate(template, chosen, parameters)
    return {k: evaluate(template, v, parameters) for k, v in value.items()}


def resolved_parameters(template: dict, values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, p.get("Default")) for k, p in template["Parameters"].items()}


def model_of(template: dict, variant: str, values: dict[str, str]) -> dict:
    config = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    (entry,) = [v for v in config["Properties"]["ProductionVariants"] if v["VariantName"] == variant]
    model = template["Resources"][entry["ModelName"]["Fn::GetAtt"][0]]
    return evaluate(template, model["Properties"]["PrimaryContainer"], resolved_parameters(template, values))


ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlops-{}-churn/{}"


def test_package_parameters_default_to_the_profile_and_admit_only_versions_of_the_group(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    parameters = assembly.template("serving")["Parameters"]
    defaults = {
        "ChampionPackageArn": settings.champion_package_arn,
        "ChallengerPackageArn": settings.challenger_package_arn,
    }
    assert ("ChallengerPackageArn" in parameters) == settings.challenger
    for key, default in defaults.items():
        if key not in parameters:
            continue
        parameter = parameters[key]
        assert parameter["Type"] == "String" and parameter["Default"] == (default or "")
        # CloudFormation matches AllowedPattern against the whole value.
        pattern = re.compile(parameter["AllowedPattern"])
        for good in ("", ARN.format(assembly.profile, 3), ARN.format(assembly.profile, 12)):
            assert pattern.fullmatch(good), good
        for bad in ("model-7", ARN.format("other", 3), ARN.format(assembly.profile, 3).replace("eu-west-1", "us-east-1"),
                    ARN.format(assembly.profile, 3) + "x", " "):  # fmt: skip
            assert not pattern.fullmatch(bad), bad


def test_each_variant_serves_its_package_or_the_bootstrap_model(assembly: Assembly) -> None:
    template = assembly.template("serving")
    package = ARN.format(assembly.profile, 4)
    for variant in _variants(assembly):
        bootstrap = model_of(template, variant, {})
        assert bootstrap["Image"].endswith("/sagemaker-xgboost:3.0-5") and bootstrap["ModelDataUrl"][
            "Fn::Sub"
        ].endswith(".gz")
        assert "ModelPackageName" not in bootstrap
    for variant in _variants(assembly):
        chosen = {f"{variant.capitalize()}PackageArn": package}
        assert model_of(template, variant, chosen) == {"ModelPackageName": package}
        for other in set(_variants(assembly)) - {variant}:
            assert "Image" in model_of(template, other, chosen)


def test_the_only_conditions_are_the_variants_package_choices(assembly: Assembly) -> None:
    conditions = {}
    for stack in ("network", "alerts", "data-lake", "ingest", "training", "serving"):
        template = assembly.template(stack)
        conditions.update({k: (stack, v) for k, v in template.get("Conditions", {}).items()})
    assert sorted(v[1]["Fn::Equals"][0]["Ref"] for v in conditions.values()) == sorted(
        f"{variant.capitalize()}PackageArn" for variant in _variants(assembly)
    )
    assert all(stack == "serving" and c["Fn::Equals"][1] == "" for stack, c in conditions.values())


def cdk_deploy_parameters(template: dict, previous: dict[str, str] | None, passed: dict[str, str]) -> list[dict]:
    """The Parameters `cdk deploy` sends (toolkit-lib ParameterValues, with --previous-parameters on)."""
    out = []
    for key, formal in template["Parameters"].items():
        if key in passed:
            out.append({"ParameterKey": key, "ParameterValue": passed[key]})
        elif previous is not None and key in previous:
            out.append({"ParameterKey": key, "UsePreviousValue": True})
        elif "Default" not in formal:
            raise AssertionError(f"cdk deploy would fail: {key} has no value")
    return out


def cloudformation_applies(template: dict, previous: dict[str, str] | None, sent: list[dict]) -> dict[str, str]:
    """The stack's parameter values after CloudFormation applies ``sent``: a key not sent takes its Default."""
    values = {p["ParameterKey"]: (previous[p["ParameterKey"]] if p.get("UsePreviousValue") else p["ParameterValue"])
              for p in sent}  # fmt: skip
    return {k: values.get(k, formal.get("Default")) for k, formal in template["Parameters"].items()}


def test_the_cdk_cli_keeps_previous_parameter_values_on_deploy() -> None:
    source = (ROOT / "node_modules" / "aws-cdk" / "lib" / "index.js").read_text()
    deploy = source[source.index('"deploy [STACKS..]",') :]
    deploy = deploy[: deploy.index(").command(")]  # the deploy command's own options
    option = deploy[deploy.index('option("previous-parameters"') :][:200]
    assert re.search(r"default:\s*true", option), option
    assert "this.apiParameters.push({ ParameterKey: key, UsePreviousValue: true })" in source
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-previous-parameters" not in makefile and re.search(r"^deploy:", makefile, re.M)


def approve(stack: str, parameter: str, values: dict[str, str], package: str) -> dict:
    """The UpdateStack request the deployer sends to approve ``package`` on a stack with these parameter values."""
    from botocore.stub import Stubber

    from lambdas.model_deployer.logic import deploy_package

    cloudformation = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sent: dict = {}
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": stack, "StackStatus": "UPDATE_COMPLETE", "CreationTime": datetime(2026, 11, 27, tzinfo=UTC),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]}]})  # fmt: skip
        stub.add_response("update_stack", {"StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1"})
        cloudformation.meta.events.register(
            "provide-client-params.cloudformation.UpdateStack", lambda params, **_: sent.update(params)
        )
        change = deploy_package(cloudformation, stack=stack, parameter=parameter, package_arn=package,
                                role_arn="arn:aws:iam::123456789012:role/deploy")  # fmt: skip
    assert change["started"] is True, change
    return sent


def test_a_deploy_after_an_approval_keeps_the_approved_model(assembly: Assembly) -> None:
    template = assembly.template("serving")
    stack = assembly.stack_name("serving")
    deployer = next(
        f["Properties"]["Environment"]["Variables"]
        for k, f in template["Resources"].items() if k.startswith("Deployer") and f["Type"] == "AWS::Lambda::Function"
    )  # fmt: skip
    assert deployer["STACK_NAME"] == stack
    approved, variant = ARN.format(assembly.profile, 9), _approved(assembly)

    # 1. first `cdk deploy`: defaults.
    values = cloudformation_applies(template, None, cdk_deploy_parameters(template, None, {}))
    assert model_of(template, variant, values).keys() == {"Image", "ModelDataUrl"}
    # 2. the approval: the deployer's real UpdateStack call, applied as CloudFormation applies it.
    sent = approve(stack, deployer["PACKAGE_PARAMETER"], values, approved)
    assert sent["UsePreviousTemplate"] is True
    values = cloudformation_applies(template, values, sent["Parameters"])
    assert model_of(template, variant, values) == {"ModelPackageName": approved}
    # 3. a later `cdk deploy` of the same code: the approved model stays, the champion too.
    after = cloudformation_applies(template, values, cdk_deploy_parameters(template, values, {}))
    assert after == values
    assert model_of(template, variant, after) == {"ModelPackageName": approved}


def test_the_deployer_passes_the_capabilities_the_template_needs(assembly: Assembly) -> None:
    from lambdas.model_deployer.logic import CAPABILITIES

    template = assembly.template("serving")
    iam_types = {r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")}
    named = [k for k, r in template["Resources"].items() if r["Type"].startswith("AWS::IAM::")
             and {"RoleName", "ManagedPolicyName", "UserName", "GroupName"} & set(r.get("Properties", {}))]  # fmt: skip
    assert iam_types and "CAPABILITY_IAM" in CAPABILITIES
    assert not named or "CAPABILITY_NAMED_IAM" in CAPABILITIES
    assert "Transform" not in template or "CAPABILITY_AUTO_EXPAND" in CAPABILITIES


def test_blue_green_routing_fits_the_variants_instances_with_auto_rollback(assembly: Assembly) -> None:
    endpoint = _one(assembly, "AWS::SageMaker::Endpoint")
    config = _one(assembly, "AWS::SageMaker::EndpointConfig")
    assert endpoint["RetainAllVariantProperties"] is True
    # Only instance counts carry over: weights and capture follow the template on every update.
    excluded = {p["VariantPropertyType"] for p in endpoint["ExcludeRetainedVariantProperties"]}
    assert excluded == {"DesiredWeight", "DataCaptureConfig"}
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    smallest = min(v["InitialInstanceCount"] for v in config["ProductionVariants"])
    # SageMaker's limits: a canary is at most half of the variant; waits up to an hour each.
    if routing["Type"] == "CANARY":
        size = routing["CanarySize"]
        instances = size["Value"] if size["Type"] == "INSTANCE_COUNT" else size["Value"] / 100 * smallest
        assert 1 <= instances <= smallest / 2, (size, smallest)
    else:
        assert routing["Type"] == "ALL_AT_ONCE"
    assert 0 < routing["WaitIntervalInSeconds"] <= 3600 and 0 <= policy["TerminationWaitInSeconds"] <= 3600
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    assert (
        policy["MaximumExecutionTimeoutInSeconds"]
        > routing["WaitIntervalInSeconds"] + policy["TerminationWaitInSeconds"]
    )
    names = {a["AlarmName"] for a in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    alarms = {
        a["Properties"]["AlarmName"]
        for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()
        if "AlarmName" in a["Properties"]
    }
    assert 1 <= len(names) <= 10 and names <= alarms
    assert {n.rsplit("-", 2)[-2] + "-" + n.rsplit("-", 1)[-1] for n in names} >= {"5xx-rate", "p99-latency"}


def test_dev_shifts_all_at_once_then_bakes_and_prod_sends_a_canary_of_instances(dev: Assembly, prod: Assembly) -> None:
    def routing(assembly):
        return _one(assembly, "AWS::SageMaker::Endpoint")["DeploymentConfig"]["BlueGreenUpdatePolicy"][
            "TrafficRoutingConfiguration"
        ]

    assert routing(dev) == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": PROFILES["dev"].serving.bake_minutes * 60}
    assert routing(prod)["Type"] == "CANARY"
    assert routing(prod)["CanarySize"] == {"Type": "INSTANCE_COUNT", "Value": PROFILES["prod"].serving.canary_instances}


@pytest.mark.parametrize(
    ("change", "key", "allowed"),
    [
        ({"canary_instances": 1}, "serving.canary_instances", "from 0 to 0"),  # dev runs 1 instance per variant
        ({"instance_type": "ml.m5d.large"}, "serving.instance_type", "known vCPU count"),
        ({"instance_type": "ml.p9.huge"}, "serving.instance_type", "INSTANCE_VCPUS"),
        ({"bake_minutes": 0}, "serving.bake_minutes", "from 1 to 60"),
        # Without a challenger there is no parameter to take it: the model would never serve.
        (
            {"challenger": False, "challenger_package_arn": ARN.format("dev", 2)},
            "serving.challenger_package_arn",
            "None without a challenger",
        ),
    ],
)
def test_the_profile_refuses_routing_and_instance_types_sagemaker_or_the_alarms_cannot_use(
    change, key, allowed
) -> None:
    dev = PROFILES["dev"]
    with pytest.raises(ProfileError) as err:
        dataclasses.replace(dev, serving=dataclasses.replace(dev.serving, **change))
    assert err.value.key == key and allowed in str(err.value)


def test_each_variant_autoscales_on_invocations_within_profile_bounds(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    targets = assembly.resources("serving", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert len(targets) == (len(_variants(assembly)) if settings.autoscaling else 0)
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


@pytest.mark.parametrize("kind", ["5xx-rate", "4xx-rate", "p99-latency", "overhead-latency", "cpu", "memory"])
def test_every_variant_has_each_alarm_wired_to_the_topic(assembly: Assembly, kind: str) -> None:
    alarms = [a["Properties"] for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()]
    for variant in _variants(assembly):
        (alarm,) = [a for a in alarms if a.get("AlarmName") == f"mlops-{assembly.profile}-churn-{variant}-{kind}"]
        assert "AlarmTopic" in json.dumps(alarm["AlarmActions"])
    latency = next(a for a in alarms if a.get("AlarmName", "").endswith("champion-p99-latency"))
    assert latency["Threshold"] == PROFILES[assembly.profile].serving.p99_latency_alarm_ms * 1000


def test_the_cpu_alarm_scales_with_the_instance_vcpus_and_memory_does_not(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    alarms = {
        a["Properties"].get("AlarmName"): a["Properties"]
        for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()
    }
    (instance_type,) = {
        v["InstanceType"] for v in _one(assembly, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    }
    # From the EC2 instance type specifications.
    vcpus = {"ml.t2.medium": 2, "ml.m5.large": 2, "ml.m5.xlarge": 4}[instance_type]
    for variant in _variants(assembly):
        cpu = alarms[f"mlops-{assembly.profile}-churn-{variant}-cpu"]
        memory = alarms[f"mlops-{assembly.profile}-churn-{variant}-memory"]
        assert cpu["Namespace"] == "/aws/sagemaker/Endpoints" and cpu["MetricName"] == "CPUUtilization"
        assert cpu["Threshold"] == settings.cpu_alarm_percent * vcpus and cpu["Threshold"] > 100
        assert memory["Threshold"] == 80


def test_an_idle_dev_endpoint_raises_no_alarm_and_prod_alarms_on_silence(dev: Assembly, prod: Assembly) -> None:
    def alarms(assembly):
        return [a["Properties"] for a in assembly.resources("serving", "AWS::CloudWatch::Alarm").values()]

    # With no requests SageMaker publishes no datapoints: only missing data treated as breaching can fire.
    assert [a["AlarmName"] for a in alarms(dev) if a.get("TreatMissingData") == "breaching"] == []
    silent = [a for a in alarms(prod) if a.get("TreatMissingData") == "breaching"]
    assert sorted(a["AlarmName"] for a in silent) == [
        "mlops-prod-churn-challenger-no-invocations", "mlops-prod-churn-champion-no-invocations"
    ]  # fmt: skip


def test_dashboard_shows_every_variant(assembly: Assembly) -> None:
    body = json.dumps(_one(assembly, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency", "CPUUtilization", "MemoryUtilization"):
        assert metric in body
    for variant in ("champion", "challenger"):
        assert (body.count(variant) >= 7) == (variant in _variants(assembly)), variant


def test_approval_starts_the_deployer_and_a_challenger_gets_a_promotion_schedule(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].serving
    rules = {k: r["Properties"] for k, r in assembly.resources("serving", "AWS::Events::Rule").items()}
    functions = {k: f["Properties"] for k, f in assembly.resources("serving", "AWS::Lambda::Function").items()}
    approved = next(v for k, v in rules.items() if k.startswith("OnModelApproved"))
    schedules = [v for k, v in rules.items() if k.startswith("PromotionSchedule")]
    if not settings.challenger:  # nothing to promote
        assert schedules == [] and not [k for k in functions if k.startswith("Promotion")]
    else:
        (schedule,) = schedules
        assert schedule["ScheduleExpression"] == settings.promotion_schedule
        promotion = next(v for k, v in functions.items() if k.startswith("Promotion"))["Environment"]["Variables"]
        assert promotion["DRY_RUN"] == ("true" if settings.promotion_dry_run else "false")
    assert approved["EventPattern"]["source"] == ["aws.sagemaker"]
    assert approved["EventPattern"]["detail"] == {
        "ModelPackageGroupName": [f"mlops-{assembly.profile}-churn"], "ModelApprovalStatus": ["Approved"]
    }  # fmt: skip
    for rule in (*schedules, approved):
        assert rule["Targets"][0]["DeadLetterConfig"] and rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    deployer = next(v for k, v in functions.items() if k.startswith("Deployer"))["Environment"]["Variables"]
    assert deployer["PACKAGE_PARAMETER"] == f"{_approved(assembly).capitalize()}PackageArn"
    assert deployer["PACKAGE_PARAMETER"] in assembly.template("serving")["Parameters"]
    assert deployer["DEPLOY_ROLE_ARN"] == {"Fn::GetAtt": [_deploy_role(assembly), "Arn"]}


# --- IAM for the approval path: what each caller needs, and no more --------------------------------


def _deploy_role(assembly: Assembly) -> str:
    (role,) = [k for k, r in assembly.resources("serving", "AWS::IAM::Role").items()
               if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
               == "cloudformation.amazonaws.com"]  # fmt: skip
    return role


def _statements(assembly: Assembly, role: str) -> list[dict]:
    resources = assembly.template("serving")["Resources"]
    attached = {ref["Ref"] for ref in resources[role]["Properties"].get("ManagedPolicyArns", [])
                if isinstance(ref, dict) and "Ref" in ref}  # fmt: skip
    out = []
    for key, resource in resources.items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and (
            key in attached or {"Ref": role} in resource["Properties"].get("Roles", [])
        ):
            out += resource["Properties"]["PolicyDocument"]["Statement"]
    return out


def _flat(value) -> str:
    """A template value as an ARN string, the account as 123456789012 (the tests' placeholder)."""
    if isinstance(value, str):
        return value
    if set(value) == {"Ref"} and value["Ref"] == "AWS::AccountId":
        return "123456789012"
    if set(value) == {"Fn::Join"}:
        return value["Fn::Join"][0].join(_flat(v) for v in value["Fn::Join"][1])
    return json.dumps(value, sort_keys=True)


def _allows(statements: list[dict], action: str, resource) -> list[dict]:
    """Allow statements for ``action`` whose resources cover ``resource`` (IAM wildcards honoured)."""

    def covers(granted) -> bool:
        pattern = "".join(".*" if c == "*" else re.escape(c) for c in _flat(granted))
        return re.fullmatch(pattern, _flat(resource)) is not None

    found = []
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] == "Allow" and action in actions and any(covers(r) for r in resources):
            found.append(statement)
    return found


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"


def test_the_deploy_role_can_do_what_an_approval_update_makes_cloudformation_do(assembly: Assembly) -> None:
    role = _deploy_role(assembly)
    template = assembly.template("serving")
    statements = _statements(assembly, role)
    endpoint_key = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::Endpoint")
    config = _one(assembly, "AWS::SageMaker::EndpointConfig")
    model = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model")["Properties"]
    package = ARN.format(assembly.profile, 9)
    model_arn = "arn:aws:sagemaker:eu-west-1:123456789012:model/churnchallengermodel-abc"
    config_arn = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/churnconfig-abc"
    # Replacing the approved variant's model and the config (created, tagged, deleted in cleanup or on rollback).
    for action in ("CreateModel", "DescribeModel", "DeleteModel", "AddTags"):
        assert _allows(statements, f"sagemaker:{action}", model_arn), action
    for action in ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig", "AddTags"):
        assert _allows(statements, f"sagemaker:{action}", config_arn), action
    assert _allows(statements, "sagemaker:DescribeModelPackage", package)
    (passed,) = _allows(statements, "iam:PassRole", model["ExecutionRoleArn"])
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # Updating the endpoint under its guardrails, with the KMS-encrypted config.
    for action in ("UpdateEndpoint", "DescribeEndpoint"):
        assert _allows(statements, f"sagemaker:{action}", {"Ref": endpoint_key}), action
    for action in ("kms:CreateGrant", "kms:DescribeKey"):
        assert _allows(statements, action, config["KmsKeyId"]), action
    endpoint = _one(assembly, "AWS::SageMaker::Endpoint")
    for alarm in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]:
        assert _allows(statements, "cloudwatch:DescribeAlarms", _alarm_arn(alarm["AlarmName"])), alarm
    # Cross-stack references (Fn::GetStackOutput) resolve again on the update, as this role.
    referenced = {m for m in re.findall(r'"Fn::GetStackOutput": \{"StackName": "([^"]+)"', json.dumps(template))}
    assert referenced
    for stack in referenced:
        stack_id = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{stack}/0f1e2d3c-0000-1111-2222-333344445555"
        assert _allows(statements, "cloudformation:DescribeStacks", stack_id), stack
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "cloudformation.amazonaws.com"}]
    # Nothing beyond that update: no IAM changes, no other service.
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {a.split(":")[0] for a in actions} == {"sagemaker", "iam", "kms", "cloudwatch", "ssm", "cloudformation"}
    assert {a for a in actions if a.startswith("cloudformation:")} == {"cloudformation:DescribeStacks"}
    assert {a for a in actions if a.startswith("iam:")} == {"iam:PassRole"}


def test_the_endpoint_role_reads_the_rollback_alarms(assembly: Assembly) -> None:
    template = assembly.template("serving")
    model = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model")["Properties"]
    statements = _statements(assembly, model["ExecutionRoleArn"]["Fn::GetAtt"][0])
    for alarm in _one(assembly, "AWS::SageMaker::Endpoint")["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]:
        assert _allows(statements, "cloudwatch:DescribeAlarms", _alarm_arn(alarm["AlarmName"])), alarm


def test_the_deployer_updates_only_this_stack_only_through_the_deploy_role(assembly: Assembly) -> None:
    template = assembly.template("serving")
    function = next(
        k for k, f in template["Resources"].items() if k.startswith("Deployer") and f["Type"] == "AWS::Lambda::Function"
    )
    statements = _statements(assembly, template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0])
    deploy_role = {"Fn::GetAtt": [_deploy_role(assembly), "Arn"]}
    (update,) = _allows(statements, "cloudformation:UpdateStack", {"Ref": "AWS::StackId"})
    assert update["Condition"] == {"StringEquals": {"cloudformation:RoleArn": deploy_role}}
    assert _allows(statements, "cloudformation:DescribeStacks", {"Ref": "AWS::StackId"})
    (passed,) = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert passed["Resource"] == deploy_role
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert _allows(statements, "sagemaker:DescribeModelPackage", ARN.format(assembly.profile, 3))
    writes = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
              if a.startswith("sagemaker:") and not a.startswith("sagemaker:Describe")]  # fmt: skip
    assert writes == []


def test_the_deployer_copies_baselines_only_from_pipeline_runs_to_where_monitoring_reads(assembly: Assembly) -> None:
    from ml_constructs.monitoring import BASELINE_PREFIX

    template = assembly.template("serving")
    function = next(
        f for k, f in template["Resources"].items() if k.startswith("Deployer") and f["Type"] == "AWS::Lambda::Function"
    )["Properties"]
    assert function["Environment"]["Variables"]["BASELINE_PREFIX"] == BASELINE_PREFIX

    def listed(value) -> list:
        return value if isinstance(value, list) else [value]

    s3 = [
        s
        for s in _statements(assembly, function["Role"]["Fn::GetAtt"][0])
        if any(a.startswith("s3:") for a in listed(s["Action"]))
    ]
    assert sorted(a for s in s3 for a in listed(s["Action"])) == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    by_action = {listed(s["Action"])[0]: s for s in s3}
    # s3:prefix is only in ListBucket's request context: on any other action it would deny.
    assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": "pipelines/*/baselines/"}}
    assert "Condition" not in by_action["s3:GetObject"] and "Condition" not in by_action["s3:PutObject"]
    assert [_flat(r)[-24:] for r in listed(by_action["s3:GetObject"]["Resource"])] == ["/pipelines/*/baselines/*"]
    assert [_flat(r).endswith(f"/{BASELINE_PREFIX}*") for r in listed(by_action["s3:PutObject"]["Resource"])] == [True]


def test_the_deployer_reaches_cloudformation_from_its_subnets(assembly: Assembly) -> None:
    """In the VPC, through the CloudFormation interface endpoint; outside it (vpc_workloads "sagemaker"),
    at the public endpoint. (MLOps-VpcServiceReachability checks routes and security groups too.)"""
    (deployer,) = [
        f["Properties"] for k, f in assembly.resources("serving", "AWS::Lambda::Function").items()
        if k.startswith("DeployerFunction")
    ]  # fmt: skip
    endpoints = assembly.resources("network", "AWS::EC2::VPCEndpoint").values()
    services = [json.dumps(e["Properties"]["ServiceName"]) for e in endpoints]
    assert ("VpcConfig" in deployer) == PROFILES[assembly.profile].functions_in_vpc
    assert any(".cloudformation" in s for s in services) == ("VpcConfig" in deployer), services


def test_bootstrap_model_is_rebuilt_byte_for_byte(dataset, tmp_path) -> None:
    from pipelines.serving.bootstrap import ARTIFACT, artifact, build, describe

    described = build(tmp_path / "model.tar.gz")
    assert (tmp_path / "model.tar.gz").read_bytes() == ARTIFACT.read_bytes()
    assert describe(dataset.name, described) == (ARTIFACT.parent / "model.json").read_text()
    assert described["auc"] > 0.75
    assert artifact(dataset.name, specs.features(dataset)) == ARTIFACT
    with pytest.raises(FileNotFoundError, match=f"make bootstrap-model DATASET={dataset.name}"):
        artifact(dataset.name, specs.features(dataset)[1:])


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
    assert result == {"variant": "challenger", "scores": [0.12, 0.87], "positive": [False, True]}
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


@pytest.mark.parametrize("autoscaling", [True, False])
def test_autoscaling_can_be_switched_off_for_an_instance_type_change(autoscaling: bool) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from stacks.network import NetworkStack
    from stacks.serving import ServingStack
    from tests.conftest import app_with_project_flags

    dev = PROFILES["dev"]
    profile = dataclasses.replace(dev, serving=dataclasses.replace(dev.serving, autoscaling=autoscaling))
    app = app_with_project_flags()
    env = cdk.Environment(account="123456789012", region=profile.region)
    network = NetworkStack(app, "Net", profile=profile, env=env, description="network")
    base = network  # imports need a scope; an empty stack fails template validation
    serving = ServingStack(
        app, "Serving", profile=profile, env=env, description="serving", vpc=network.vpc,
        workload_subnets=network.workload_subnets,
        artifact_bucket=s3.Bucket.from_bucket_name(base, "Artifacts", "artifacts"),
        data_key=kms.Key.from_key_arn(base, "Key", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        logs_key=kms.Key.from_key_arn(base, "LogsKey", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ac"),
        serving_data_policy=iam.ManagedPolicy.from_managed_policy_name(base, "Data", "serving-data"),
        model_package_group="mlops-dev-churn",
        alarm_topic=sns.Topic.from_topic_arn(base, "Topic", "arn:aws:sns:eu-west-1:123456789012:alarms"),
    )  # fmt: skip
    template = Template.from_stack(serving)
    # SageMaker refuses to change a variant's instance type while it is registered for autoscaling.
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 2 if autoscaling else 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 2 if autoscaling else 0)
    template.resource_count_is("AWS::SageMaker::Endpoint", 1)
