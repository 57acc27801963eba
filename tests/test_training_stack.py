"""Training stack: the pipeline definition as deployed, its role, registry, and retraining triggers."""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from config import PROFILES
from ml_constructs import training_pipeline
from ml_constructs.training_pipeline import apply_profile, check_columns, fill
from pipelines.data import spec as specs
from pipelines.training import definition as definition_module
from pipelines.training.definition import DEFINITION
from pipelines.training.features import FEATURES, LABEL
from pipelines.training.hyperparameters import OBJECTIVE_METRIC, SEARCH_SPACE
from tests.conftest import ROOT, Assembly, hermetic_env, offline_prefix


def _pipeline(assembly: Assembly) -> tuple[dict, dict]:
    (resource,) = assembly.resources("training", "AWS::SageMaker::Pipeline").values()
    body = resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    text = "".join(p if isinstance(p, str) else "REF" for p in body["Fn::Join"][1])
    return resource["Properties"], json.loads(text)


def _steps(definition: dict) -> dict[str, dict]:
    steps = {s["Name"]: s for s in definition["Steps"]}
    gate = steps["QualityGate"]["Arguments"]
    for nested in (*gate["IfSteps"], *gate["ElseSteps"]):
        steps[nested["Name"]] = nested
    return steps


def test_pipeline_runs_preprocess_tune_evaluate_and_the_gate(assembly: Assembly) -> None:
    _, definition = _pipeline(assembly)
    assert [s["Name"] for s in definition["Steps"]] == ["Preprocess", "Tune", "Evaluate", "QualityGate"]
    steps = _steps(definition)
    condition = steps["QualityGate"]["Arguments"]["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert condition["RightValue"] == {"Get": "Parameters.MinAuc"}
    assert [s["Name"] for s in steps["QualityGate"]["Arguments"]["IfSteps"]] == ["Baseline", "Register"]
    assert steps["QualityGateFailed"]["Type"] == "Fail"
    assert steps["Evaluate"]["PropertyFiles"][0]["FilePath"] == "evaluation.json"


def test_parameter_defaults_come_from_the_profile(assembly: Assembly, dataset) -> None:
    settings = PROFILES[assembly.profile].training
    _, definition = _pipeline(assembly)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["MinAuc"] == settings.min_auc
    assert defaults["MaxTuningJobs"] == settings.max_tuning_jobs
    assert defaults["MaxParallelTuningJobs"] == settings.max_parallel_tuning_jobs
    assert defaults["TrainingInstanceType"] == settings.training_instance_type
    assert defaults["InputDataUri"] == f"s3://REF/{specs.curated_table(dataset)}/"


def test_tuning_is_bayesian_over_the_shared_space_and_locked_down(assembly: Assembly) -> None:
    settings = PROFILES[assembly.profile].training
    _, definition = _pipeline(assembly)
    tune = _steps(definition)["Tune"]["Arguments"]
    config, job = tune["HyperParameterTuningJobConfig"], tune["TrainingJobDefinition"]
    assert config["Strategy"] == "Bayesian" and config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": OBJECTIVE_METRIC, "Type": "Maximize"}
    assert config["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": {"Get": "Parameters.MaxTuningJobs"},
        "MaxParallelTrainingJobs": {"Get": "Parameters.MaxParallelTuningJobs"},
    }
    ranges = config["ParameterRanges"]
    names = {r["Name"] for kind in ranges.values() for r in kind}
    assert names == set(SEARCH_SPACE)
    assert job["EnableNetworkIsolation"] is True and job["EnableInterContainerTrafficEncryption"] is True
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == "REF" and job["OutputDataConfig"]["KmsKeyId"] == "REF"
    assert job["VpcConfig"]["Subnets"] == ["REF"] * len(PROFILES[assembly.profile].availability_zones)
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:3.0-5")
    assert job["EnableManagedSpotTraining"] is settings.spot
    # One CheckpointConfig would be shared by every trial and execution, which resume from it.
    assert "CheckpointConfig" not in job
    assert ("MaxWaitTimeInSeconds" in job["StoppingCondition"]) is settings.spot


def test_processing_jobs_are_isolated_encrypted_and_run_the_shipped_code(assembly: Assembly, dataset) -> None:
    _, definition = _pipeline(assembly)
    steps = _steps(definition)
    for name in ("Preprocess", "Evaluate", "Baseline"):
        args = steps[name]["Arguments"]
        network = args["NetworkConfig"]
        assert network["EnableNetworkIsolation"] is True and network["EnableInterContainerTrafficEncryption"] is True
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "REF"
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == "REF"
        entry = args["AppSpecification"]["ContainerEntrypoint"]
        assert entry == ["python3", "-m", f"pipelines.training.{name.lower()}"]
        code = next(i for i in args["ProcessingInputs"] if i["InputName"] == "code")
        assert args["Environment"]["PYTHONPATH"].endswith(code["S3Input"]["S3Uri"].rsplit("/", 1)[-1])
        assert args["Environment"]["DATASET"] == dataset.name  # the spec the steps' code reads


def test_registration_is_pending_approval_with_metrics_and_drift_baselines(assembly: Assembly) -> None:
    _, definition = _pipeline(assembly)
    register = _steps(definition)["Register"]
    args = register["Arguments"]
    assert register["Type"] == "RegisterModel" and register["DependsOn"] == ["Baseline"]
    assert args["ModelApprovalStatus"] == "PendingManualApproval"
    assert args["ModelPackageGroupName"] == f"mlops-{assembly.profile}-churn"
    assert set(args["ModelMetrics"]) == {"ModelQuality", "ModelDataQuality"}
    assert set(args["DriftCheckBaselines"]) == {"ModelQuality", "ModelDataQuality"}
    container = args["InferenceSpecification"]["Containers"][0]
    assert "SAGEMAKER_PROGRAM" not in container["Environment"]
    assert container["Environment"]["SAGEMAKER_REGION"] == PROFILES[assembly.profile].region


def test_registry_is_retained_and_the_role_trusts_sagemaker_only(assembly: Assembly) -> None:
    (group,) = assembly.resources("training", "AWS::SageMaker::ModelPackageGroup").values()
    # Retained where data is; in dev it goes, or its fixed name blocks the next deploy.
    assert group["DeletionPolicy"] == ("Retain" if PROFILES[assembly.profile].retain_data else "Delete")
    roles = assembly.resources("training", "AWS::IAM::Role")
    role = next(r for k, r in roles.items() if k.startswith("ExecutionRole"))
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    attached = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert "TrainingDataAccess" in attached and "PipelineArtifactsAccess" in attached


def test_every_trigger_goes_through_the_guard_with_retries_and_a_dead_letter_queue(assembly: Assembly) -> None:
    rules = assembly.resources("training", "AWS::Events::Rule")
    to_guard = {k: r["Properties"] for k, r in rules.items() if not k.startswith("OnPipelineFailure")}
    assert len(to_guard) == 3
    for props in to_guard.values():
        (target,) = props["Targets"]
        assert target["Arn"]["Fn::GetAtt"][0].startswith("GuardFunction")
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("TriggerDeadLetters")
    schedule = next(p for k, p in to_guard.items() if k.startswith("OnSchedule"))
    assert schedule["ScheduleExpression"] == PROFILES[assembly.profile].training.retrain_schedule
    alarm = next(p for k, p in to_guard.items() if k.startswith("OnRetrainAlarm"))
    assert alarm["EventPattern"]["detail"]["alarmName"] == [{"prefix": f"mlops-{assembly.profile}-retrain-"}]


def test_a_failed_execution_notifies_the_alarm_topic(assembly: Assembly) -> None:
    rules = assembly.resources("training", "AWS::Events::Rule")
    failure = next(r["Properties"] for k, r in rules.items() if k.startswith("OnPipelineFailure"))
    assert failure["EventPattern"]["detail"]["currentPipelineExecutionStatus"] == ["Failed"]
    assert "AlarmTopic" in json.dumps(failure["Targets"][0]["Arn"])


def test_guard_is_configured_from_the_profile(assembly: Assembly) -> None:
    (fn,) = assembly.resources("training", "AWS::Lambda::Function").values()
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["COOLDOWN_MINUTES"] == str(PROFILES[assembly.profile].training.cooldown_minutes)
    assert env["PIPELINE_NAME"] == f"mlops-{assembly.profile}-churn-training"
    (table,) = assembly.resources("training", "AWS::DynamoDB::GlobalTable").values()
    props = table["Properties"]
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_fill_replaces_lists_and_strings_and_refuses_leftovers() -> None:
    filled = fill({"a": ["@@IDS@@"], "b": "s3://@@BUCKET@@/x"}, {"IDS": ["s-1", "s-2"], "BUCKET": "bkt"})
    assert filled == {"a": ["s-1", "s-2"], "b": "s3://bkt/x"}
    with pytest.raises(ValueError, match="unfilled placeholder"):
        fill({"c": "@@MISSING@@"}, {})


def test_checked_in_definition_is_what_the_sdk_builds_offline() -> None:
    python = ROOT / ".venv-sdk" / "bin" / "python"
    assert python.exists(), "the SageMaker SDK virtualenv is missing: `make test` installs it"
    env = {**hermetic_env(), "PYTHONPATH": str(ROOT), "AWS_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run(
        [*offline_prefix(), str(python), "-m", "pipelines.training.definition", "--check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "matches the SDK" in result.stdout


def test_the_checked_in_definition_shares_no_checkpoint_between_trials() -> None:
    definition = json.loads(DEFINITION.read_text())
    jobs = [s["Arguments"]["TrainingJobDefinition"] for s in definition["Steps"] if s["Type"] == "Tuning"]
    assert jobs and all("CheckpointConfig" not in job for job in jobs)
    with_checkpoint = copy.deepcopy(definition)
    next(s for s in with_checkpoint["Steps"] if s["Type"] == "Tuning")["Arguments"]["TrainingJobDefinition"][
        "CheckpointConfig"
    ] = {"S3Uri": "s3://bucket/checkpoints"}
    with pytest.raises(ValueError, match="CheckpointConfig"):
        apply_profile(with_checkpoint, PROFILES["dev"].training)


def test_the_columns_the_steps_read_are_columns_of_the_curated_table(dataset) -> None:
    curated = [name for name, _ in specs.curated_columns(dataset)]
    check_columns(dataset, "table", curated)  # the shipped spec is consistent
    assert specs.features(dataset) == FEATURES and dataset.label == LABEL
    dropped = FEATURES[len(FEATURES) // 2]
    with pytest.raises(ValueError, match=rf"reads columns the curated table 'table' lacks: {dropped}\b"):
        check_columns(dataset, "table", [c for c in curated if c != dropped])
    with pytest.raises(ValueError, match=rf"lacks: {dataset.label}\b"):
        check_columns(dataset, "table", [c for c in curated if c != dataset.label])


def test_the_checked_in_definition_is_fresh_and_a_changed_input_fails_synth(monkeypatch, tmp_path) -> None:
    assert definition_module.stale() == []
    training_pipeline.check_fresh()
    # a search space edited after the build: synth must fail with the command to run
    edited = tmp_path / "hyperparameters.py"
    edited.write_text(
        definition_module.INPUTS[1]
        .read_text()
        .replace('"max_depth": ("integer", 2, 8', '"max_depth": ("integer", 2, 12')
    )
    assert edited.read_text() != definition_module.INPUTS[1].read_text()
    recorded = json.loads(definition_module.FINGERPRINT.read_text())
    monkeypatch.setattr(
        definition_module,
        "fingerprint",
        lambda: {**recorded, "pipelines/training/hyperparameters.py": definition_module._digest(edited.read_text())},
    )
    assert definition_module.stale() == ["pipelines/training/hyperparameters.py"]
    with pytest.raises(
        ValueError, match=r"hyperparameters.py changed since it was built. Run `make pipeline-definition`"
    ):
        training_pipeline.check_fresh()


def test_the_fingerprint_covers_the_build_inputs_and_outputs() -> None:
    recorded = json.loads(definition_module.FINGERPRINT.read_text())
    assert set(recorded) == {
        "pipelines/training/definition.py", "pipelines/training/hyperparameters.py", "requirements-sdk.txt",
        "constraints-sdk.txt", "pipelines/training/definition.json", "pipelines/training/xgboost_images.json",
    }  # fmt: skip
