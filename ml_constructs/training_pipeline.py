"""The SageMaker pipeline from its checked-in definition, filled in for this deployment.

``pipelines/training/definition.json`` is built with the SageMaker SDK at build
time (``make pipeline-definition``) with ``@@NAME@@`` placeholders; here they
become CDK tokens (role, buckets, key, subnets, image, code bundle), the data
set's name and curated table, the parameters' defaults come from the profile,
and spot training is switched to what the profile allows. Synth reads a file:
no SDK, no AWS call.

Two checks fail synth before a wrong pipeline deploys: the definition's
fingerprint (its inputs changed since it was built: a changed search space would
deploy the old ranges), and every column the training steps read (the spec's
label and features) being a column of the curated table.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config import TrainingSettings
from pipelines.data import spec as specs
from pipelines.training.definition import DEFINITION, IMAGES, PREFIX, ROLE_ARN, stale
from pipelines.training.features import missing_columns

ROOT = Path(__file__).resolve().parents[1]
CODE_BUNDLE = ROOT / ".build" / "pipeline-code"
PIPELINE_PREFIX = f"{PREFIX}/"


def xgboost_image(region: str) -> str:
    images = json.loads(IMAGES.read_text())
    if region not in images:
        raise ValueError(f"no built-in XGBoost image known for region {region}; known: {sorted(images)}")
    return images[region]


def fill(definition: object, values: dict[str, str | list[str]]) -> object:
    """Replace placeholders: a list holding only ``@@NAME@@`` becomes the list value,
    and ``@@NAME@@`` inside any string becomes the (token) string."""
    if isinstance(definition, dict):
        return {k: fill(v, values) for k, v in definition.items()}
    if isinstance(definition, list):
        if len(definition) == 1 and isinstance(definition[0], str):
            name = definition[0].strip("@")
            if definition[0] == f"@@{name}@@" and isinstance(values.get(name), list):
                return list(values[name])
        return [fill(v, values) for v in definition]
    if isinstance(definition, str) and "@@" in definition:
        for name, value in values.items():
            if isinstance(value, str):
                definition = definition.replace(f"@@{name}@@", value)
        if "@@" in definition:
            raise ValueError(f"unfilled placeholder in pipeline definition: {definition}")
    return definition


def check_fresh() -> None:
    """Fail when the checked-in definition is older than its inputs."""
    if changed := stale():
        raise ValueError(
            f"{DEFINITION.name} is stale: {', '.join(changed)} changed since it was built. "
            "Run `make pipeline-definition` and commit the regenerated files."
        )


def check_columns(dataset: specs.DataSet, table: str, curated_columns: list[str] | tuple[str, ...]) -> None:
    """Fail when the training steps read a column (label or feature) the curated table lacks."""
    if missing := missing_columns(dataset, curated_columns):
        raise ValueError(
            f"the training pipeline of data set {dataset.name!r} reads columns the curated table {table!r} "
            f"lacks: {', '.join(missing)}. Fix pipelines/data/datasets/{dataset.name}.json (features are "
            "numeric fields, engineered columns, missing/capped flags and one-hot columns of the curated table)."
        )


def apply_profile(definition: dict, settings: TrainingSettings) -> dict:
    defaults = {
        "ProcessingInstanceType": settings.processing_instance_type,
        "TrainingInstanceType": settings.training_instance_type,
        "MaxTuningJobs": settings.max_tuning_jobs,
        "MaxParallelTuningJobs": settings.max_parallel_tuning_jobs,
        "MinAuc": settings.min_auc,
    }
    for parameter in definition["Parameters"]:
        if parameter["Name"] in defaults:
            parameter["DefaultValue"] = defaults[parameter["Name"]]
    for step in definition["Steps"]:
        job = step.get("Arguments", {}).get("TrainingJobDefinition")
        if job:
            # A tuning job's one checkpoint path would be shared by every trial, which resume from it.
            if "CheckpointConfig" in job:
                raise ValueError(f"tuning step {step['Name']} has a CheckpointConfig; trials must not share one")
            if not settings.spot:
                job["EnableManagedSpotTraining"] = False
                job["StoppingCondition"].pop("MaxWaitTimeInSeconds", None)
    return definition


class TrainingPipeline(Construct):
    """An ``AWS::SageMaker::Pipeline`` built from the checked-in definition.

    Attributes: ``pipeline``, ``pipeline_name``, ``code_bundle`` (the asset the
    processing steps import their code from).

    :param pipeline_name: physical name (part of the interface: triggers start it by name).
    :param role_arn: the one role the pipeline and its jobs run as.
    :param values: placeholder values (tokens) other than the code bundle's, the image and the data set's.
    :param settings: parameter defaults and spot training (from the profile).
    :param dataset: the data-set spec the steps train on (their ``DATASET``).
    :param curated_table: the curated table the steps read (its S3 prefix is the input's default).
    :param curated_columns: that table's columns: every column the steps read must be one.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        role_arn: str,
        values: dict[str, str | list[str]],
        settings: TrainingSettings,
        dataset: specs.DataSet,
        curated_table: str,
        curated_columns: list[str] | tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        check_fresh()
        check_columns(dataset, curated_table, curated_columns)
        if not (CODE_BUNDLE / ".built").exists():
            raise FileNotFoundError(f"{CODE_BUNDLE} is missing: run `make install` to build the pipeline code bundle")
        stack = Stack.of(self)
        self.code_bundle = assets.Asset(self, "CodeBundle", path=str(CODE_BUNDLE), exclude=[".built"])
        # The SDK needed an ARN-shaped stand-in for the role; make it a plain placeholder.
        definition = json.loads(DEFINITION.read_text().replace(ROLE_ARN, "@@ROLE_ARN@@"))
        filled = fill(
            apply_profile(definition, settings),
            {
                **values,
                "ROLE_ARN": role_arn,
                "XGBOOST_IMAGE": xgboost_image(stack.region),
                "CODE_BUNDLE_BUCKET": self.code_bundle.s3_bucket_name,
                "CODE_BUNDLE_KEY": self.code_bundle.s3_object_key,
                "REGION": stack.region,
                "DATASET": dataset.name,
                "CURATED_TABLE": curated_table,
            },
        )
        self.pipeline_name = pipeline_name
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description=f"{dataset.name}: preprocess, Bayesian HPO of XGBoost, evaluate, AUC gate, "
            "baselines, register",
            role_arn=role_arn,
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(filled)},
        )
        # Set raw: the L1's ParallelismConfiguration serializes in camelCase, which CloudFormation rejects.
        self.pipeline.add_property_override("ParallelismConfiguration.MaxParallelExecutionSteps", 4)
