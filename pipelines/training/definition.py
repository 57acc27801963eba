"""Build the SageMaker pipeline definition with the SageMaker Python SDK v3.

Run at build time, not at synth: the SDK reaches for AWS while it builds
(role validation, default bucket, telemetry), so this module turns each of those
off, builds the definition with placeholders (``@@NAME@@``) where a deployment
has its own values, and writes it to ``definition.json`` (checked in). The
training stack fills the placeholders with CDK tokens at synth.

    .venv-sdk/bin/python -m pipelines.training.definition           # write
    .venv-sdk/bin/python -m pipelines.training.definition --check   # compare

It also writes ``xgboost_images.json``: the built-in XGBoost image for every
region the SDK knows, so synth picks the stack's region without a lookup, and
``definition.fingerprint.json``: a hash of every input of the build (this file,
the search space and image version, the SDK's pins) and of both outputs. Synth
recomputes it (no SDK) and fails with the command to run when any differs.

The definition holds no data-set name or column: the curated table's prefix and the
data set (env ``DATASET`` of every processing step, which the steps' code reads its
spec by) are placeholders, so swapping the data-set spec needs no rebuild.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFINITION = HERE / "definition.json"
IMAGES = HERE / "xgboost_images.json"
FINGERPRINT = HERE / "definition.fingerprint.json"
# What the build reads (the SDK's version through its pins) and writes.
INPUTS = (
    HERE / "definition.py",
    HERE / "hyperparameters.py",
    ROOT / "requirements-sdk.txt",
    ROOT / "constraints-sdk.txt",
)
OUTPUTS = (DEFINITION, IMAGES)
PIPELINE_NAME = "training"
PREFIX = "pipelines/churn"

# Deployment values the stack fills in at synth.
P = {
    name: f"@@{name}@@"
    for name in (
        "ROLE_ARN", "ARTIFACT_BUCKET", "CURATED_BUCKET", "KMS_KEY_ARN", "SUBNET_IDS", "SECURITY_GROUP_IDS",
        "XGBOOST_IMAGE", "CODE_BUNDLE_BUCKET", "CODE_BUNDLE_KEY", "MODEL_PACKAGE_GROUP", "REGION",
        "DATASET", "CURATED_TABLE",
    )
}  # fmt: skip
# The SDK resolves a role that does not look like an ARN by name (an IAM call), and
# uploads an input that does not look like an S3 URI: placeholders take those shapes.
ROLE_ARN = "arn:aws:iam::000000000000:role/@@ROLE_ARN@@"
CODE_BUNDLE_URI = f"s3://{P['CODE_BUNDLE_BUCKET']}/{P['CODE_BUNDLE_KEY']}"
CODE_DIR = "/opt/ml/processing/input/code"
CURATED_URI = f"s3://{P['CURATED_BUCKET']}/{P['CURATED_TABLE']}/"
# The SDK's tuner does not accept pipeline parameters for job counts (pydantic rejects
# them); sentinels stand in and are replaced by parameter references after the build.
_MAX_JOBS_SENTINEL, _MAX_PARALLEL_SENTINEL = 900001, 900002


def _offline_session(region: str):
    """A PipelineSession that never calls AWS: fake credentials, no role validation,
    no default-bucket creation, no telemetry."""
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto = boto3.Session(aws_access_key_id="OFFLINE", aws_secret_access_key="OFFLINE", region_name=region)
    config = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    session = PipelineSession(boto_session=boto, default_bucket=P["ARTIFACT_BUCKET"], sagemaker_config=config)
    session._default_bucket = P["ARTIFACT_BUCKET"]  # skip the bucket-exists check
    return session


def build(region: str = "eu-west-1") -> dict:
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        OutputDataConfig,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
        StoppingCondition,
    )
    from sagemaker.core.training.configs import Compute, InputData, Networking
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep, Pipeline, ProcessingStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    from pipelines.training.hyperparameters import OBJECTIVE_METRIC, SEARCH_SPACE, STATIC

    session = _offline_session(region)
    input_uri = ParameterString(name="InputDataUri", default_value=CURATED_URI)
    processing_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.xlarge")
    training_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    max_jobs = ParameterInteger(name="MaxTuningJobs", default_value=20)
    max_parallel = ParameterInteger(name="MaxParallelTuningJobs", default_value=2)
    min_auc = ParameterFloat(name="MinAuc", default_value=0.75)
    parameters = [input_uri, processing_type, training_type, max_jobs, max_parallel, min_auc]

    run_prefix = Join(on="/", values=[f"s3://{P['ARTIFACT_BUCKET']}", PREFIX, ExecutionVariables.PIPELINE_EXECUTION_ID])

    def under_run(*parts: str):
        return Join(on="/", values=[run_prefix, *parts])

    network = NetworkConfig(
        enable_network_isolation=True,
        security_group_ids=[P["SECURITY_GROUP_IDS"]],
        subnets=[P["SUBNET_IDS"]],
        encrypt_inter_container_traffic=True,
    )

    def processor(module: str) -> Processor:
        return Processor(
            role=ROLE_ARN,
            image_uri=P["XGBOOST_IMAGE"],
            entrypoint=["python3", "-m", f"pipelines.training.{module}"],
            instance_count=1,
            instance_type=processing_type,
            volume_kms_key=P["KMS_KEY_ARN"],
            output_kms_key=P["KMS_KEY_ARN"],
            max_runtime_in_seconds=3600,
            network_config=network,
            # The code ships as one zip; Python imports straight from it. DATASET names its spec.
            env={"PYTHONPATH": f"{CODE_DIR}/{P['CODE_BUNDLE_KEY']}", "DATASET": P["DATASET"]},
            sagemaker_session=session,
        )

    def s3_in(name: str, uri, local: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File"),
        )

    def s3_out(name: str, local: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(s3_uri=under_run(name), local_path=local, s3_upload_mode="EndOfJob"),
        )

    code = s3_in("code", CODE_BUNDLE_URI, CODE_DIR)

    # 1. preprocess: split and describe the curated data
    preprocess = ProcessingStep(
        name="Preprocess",
        description="Split the curated table into train/validation/test; describe it",
        step_args=processor("preprocess").run(
            inputs=[code, s3_in("curated", input_uri, "/opt/ml/processing/input/curated")],
            outputs=[
                s3_out(n, f"/opt/ml/processing/{n}") for n in ("train", "validation", "test", "baseline", "report")
            ],
            arguments=["--input", "/opt/ml/processing/input/curated"],
        ),
    )
    split_uri = {
        name: preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        for name in ("train", "validation", "test", "baseline")
    }

    # 2. tune: Bayesian search over built-in XGBoost, objective validation AUC.
    # No checkpoints: a tuning job's one CheckpointConfig is shared by every trial (and every
    # execution), and built-in XGBoost resumes from whatever it finds there. A spot trial that is
    # interrupted restarts from scratch, which a short trial (at most an hour) can afford.
    trainer = ModelTrainer(
        training_image=P["XGBOOST_IMAGE"],
        role=ROLE_ARN,
        sagemaker_session=session,
        compute=Compute(instance_type=training_type, instance_count=1, volume_size_in_gb=30,
                        volume_kms_key_id=P["KMS_KEY_ARN"], enable_managed_spot_training=True),
        networking=Networking(subnets=[P["SUBNET_IDS"]], security_group_ids=[P["SECURITY_GROUP_IDS"]],
                              enable_network_isolation=True, enable_inter_container_traffic_encryption=True),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600, max_wait_time_in_seconds=7200),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{P['ARTIFACT_BUCKET']}/{PREFIX}/models",
                                            kms_key_id=P["KMS_KEY_ARN"]),
        hyperparameters=dict(STATIC),
    )  # fmt: skip
    ranges = {
        name: (IntegerParameter if kind == "integer" else ContinuousParameter)(low, high, scaling_type=scale)
        for name, (kind, low, high, scale) in SEARCH_SPACE.items()
    }
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=OBJECTIVE_METRIC,
        hyperparameter_ranges=ranges,
        strategy="Bayesian",
        objective_type="Maximize",
        max_jobs=_MAX_JOBS_SENTINEL,
        max_parallel_jobs=_MAX_PARALLEL_SENTINEL,
        early_stopping_type="Auto",
    )
    tune = TuningStep(
        name="Tune",
        description="Bayesian hyperparameter search over built-in XGBoost (validation AUC)",
        step_args=tuner.tune(
            inputs=[
                InputData(channel_name="train", data_source=split_uri["train"], content_type="text/csv"),
                InputData(channel_name="validation", data_source=split_uri["validation"], content_type="text/csv"),
            ]
        ),
    )
    best_model = tune.get_top_model_s3_uri(top_k=0, s3_bucket=P["ARTIFACT_BUCKET"], prefix=f"{PREFIX}/models")

    # 3. evaluate on the held-out test split
    evaluation_file = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        description="AUC, accuracy, precision, recall, F1 and confusion matrix on the test split",
        step_args=processor("evaluate").run(
            inputs=[code, s3_in("model", best_model, "/opt/ml/processing/model"),
                    s3_in("test", split_uri["test"], "/opt/ml/processing/test")],
            outputs=[s3_out("evaluation", "/opt/ml/processing/evaluation")],
        ),
        property_files=[evaluation_file],
    )  # fmt: skip

    # 4a. baselines for monitoring, then 4b. register, pending approval
    baseline = ProcessingStep(
        name="Baseline",
        description="Data-quality and model-quality baselines for Model Monitor",
        step_args=processor("baseline").run(
            inputs=[code, s3_in("baseline", split_uri["baseline"], "/opt/ml/processing/baseline"),
                    s3_in("evaluation", under_run("evaluation"), "/opt/ml/processing/evaluation")],
            outputs=[s3_out("baselines", "/opt/ml/processing/baselines")],
        ),
    )  # fmt: skip

    def json_source(*parts: str) -> MetricsSource:
        return MetricsSource(content_type="application/json", s3_uri=under_run(*parts))

    register = ModelStep(
        name="Register",
        depends_on=[baseline],
        step_args=ModelBuilder(
            image_uri=P["XGBOOST_IMAGE"], s3_model_data_url=best_model, role_arn=ROLE_ARN, sagemaker_session=session
        ).register(
            model_package_group_name=P["MODEL_PACKAGE_GROUP"],
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"],
            transform_instances=["ml.m5.xlarge"],
            approval_status="PendingManualApproval",
            description="Binary classifier (built-in XGBoost) that passed the AUC gate",
            model_metrics=ModelMetrics(
                model_statistics=json_source("evaluation", "evaluation.json"),
                model_data_statistics=json_source("baselines", "data-quality", "statistics.json"),
                model_data_constraints=json_source("baselines", "data-quality", "constraints.json"),
                model_constraints=json_source("baselines", "model-quality", "constraints.json"),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=json_source("baselines", "data-quality", "statistics.json"),
                model_data_constraints=json_source("baselines", "data-quality", "constraints.json"),
                model_statistics=json_source("baselines", "model-quality", "statistics.json"),
                model_constraints=json_source("baselines", "model-quality", "constraints.json"),
            ),
        ),
    )
    auc = JsonGet(
        step_name=evaluate.name, property_file=evaluation_file, json_path="binary_classification_metrics.auc.value"
    )
    fail = FailStep(
        name="QualityGateFailed",
        error_message=Join(
            on=" ", values=["Test AUC", auc, "is below MinAuc", min_auc, "- the model is not registered"]
        ),
    )
    gate = ConditionStep(
        name="QualityGate",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=min_auc)],
        if_steps=[baseline, register],
        else_steps=[fail],
    )
    pipeline = Pipeline(
        name=PIPELINE_NAME, parameters=parameters, steps=[preprocess, tune, evaluate, gate], sagemaker_session=session
    )
    return harden(json.loads(pipeline.definition()))


def _walk(node, visit):
    if isinstance(node, dict):
        for value in node.values():
            _walk(value, visit)
        visit(node)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def harden(definition: dict) -> dict:
    """Fill what the SDK's offline build leaves out or gets wrong; each fix is tested."""

    def fix(node: dict) -> None:
        limits = node.get("ResourceLimits")
        if isinstance(limits, dict) and limits.get("MaxNumberOfTrainingJobs") == _MAX_JOBS_SENTINEL:
            limits["MaxNumberOfTrainingJobs"] = {"Get": "Parameters.MaxTuningJobs"}
            limits["MaxParallelTrainingJobs"] = {"Get": "Parameters.MaxParallelTuningJobs"}
        if "AlgorithmSpecification" in node and "ResourceConfig" in node:  # tuning job definition
            node["EnableNetworkIsolation"] = True
            node["EnableInterContainerTrafficEncryption"] = True
            node["ResourceConfig"]["VolumeKmsKeyId"] = P["KMS_KEY_ARN"]
        metrics = node.get("ModelMetrics")
        if isinstance(metrics, dict):  # the SDK writes empty sections the API has no use for
            for key in [k for k, v in metrics.items() if v == {}]:
                metrics.pop(key)
        environment = node.get("Environment")
        if "ModelDataUrl" in node and isinstance(environment, dict):  # registered inference container
            for key in ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY"):
                if environment.get(key) == "":
                    environment.pop(key)
            if "SAGEMAKER_REGION" in environment:
                environment["SAGEMAKER_REGION"] = P["REGION"]

    _walk(definition, fix)
    return definition


def xgboost_images() -> dict[str, str]:
    from sagemaker.core import image_uris

    from pipelines.training.hyperparameters import XGBOOST_VERSION

    config = image_uris.config_for_framework("xgboost")["training"]["versions"][XGBOOST_VERSION]
    return {
        region: image_uris.retrieve("xgboost", region=region, version=XGBOOST_VERSION)
        for region in sorted(config["registries"])
    }


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def fingerprint(outputs: dict[Path, str] | None = None) -> dict[str, str]:
    """sha256 of every input of the build and of its outputs (``outputs``: their new text, else the
    files), by path relative to the repo: cheap, and no SDK."""
    texts = {path: path.read_text() if path.exists() else "" for path in (*INPUTS, *OUTPUTS)}
    texts.update(outputs or {})
    return {path.relative_to(ROOT).as_posix(): _digest(text) for path, text in texts.items()}


def stale() -> list[str]:
    """Inputs or outputs that changed since the definition was built (empty: fresh)."""
    try:
        recorded = json.loads(FINGERPRINT.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return [FINGERPRINT.name]
    current = fingerprint()
    return sorted(name for name in current.keys() | recorded.keys() if current.get(name) != recorded.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the SageMaker pipeline definition.")
    parser.add_argument("--check", action="store_true", help="fail if the checked-in files differ")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    outputs = {DEFINITION: render(build()), IMAGES: render(xgboost_images())}
    outputs[FINGERPRINT] = render(fingerprint(outputs))
    changed = []
    for path, text in outputs.items():
        current = path.read_text() if path.exists() else ""
        if args.check:
            if current != text:
                changed.append(path.name)
                sys.stderr.writelines(
                    difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(path), "regenerated", n=2)
                )
        else:
            path.write_text(text)
    if changed:
        print(f"stale: {', '.join(changed)}; run `make pipeline-definition`", file=sys.stderr)
        return 1
    print("pipeline definition " + ("matches the SDK" if args.check else "written"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
