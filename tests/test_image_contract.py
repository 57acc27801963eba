"""The pipeline and the endpoint against the built-in XGBoost 3.0-5 image they run in.

The image runs Python 3.10 with its own numpy, pandas, scipy, scikit-learn,
pyarrow and xgboost; ``make test`` builds ``.venv-image`` with those exact
versions (``requirements-image.txt``). Here:

- the checked-in pipeline definition runs end to end, each Processing step with
  its own entrypoint, arguments, environment and ``/opt/ml`` paths under the
  image's Python: what the quality gate reads and what the registered package
  names must exist;
- the tuning step's hyperparameters and channels pass the training container's
  own validation;
- the bootstrap model, served by the container's own loading, parsing and
  encoding code, answers the client's requests with the scores evaluation
  measured.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from config import get_profile
from ml_constructs.training_pipeline import DEFINITION, apply_profile, fill
from pipelines.data import spec as specs
from pipelines.serving import client
from pipelines.serving.bootstrap import ARTIFACT
from pipelines.training import evaluate, preprocess
from pipelines.training.features import DATASET
from tests.image.local_pipeline import LocalPipeline, StepFailed, sandbox_available

# The feature the simulated challenger traffic shifts (x2): the active data set's first numeric field.
SHIFTED = next(f.name for f in specs.active().fields if f.kind in specs.NUMERIC_KINDS)

ROOT = Path(__file__).resolve().parents[1]
IMAGE_BIN = ROOT / ".venv-image" / "bin"
IN_IMAGE = ROOT / "tests" / "image" / "in_image.py"
CODE_BUNDLE = ROOT / ".build" / "pipeline-code"


@pytest.fixture(scope="module")
def image_python() -> Path:
    python = IMAGE_BIN / "python3"
    if not python.exists():
        message = f"{python} is missing: `make test` builds it (needs Python 3.10, the image's version)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def in_image(python: Path, *args: str) -> str:
    result = subprocess.run([str(python), str(IN_IMAGE), *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"in_image {args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def definition_for(work: Path, profile: str = "dev") -> dict:
    """The definition as the training stack fills it, with this folder's fake S3 names."""
    bundle = work / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in sorted(CODE_BUNDLE.rglob("*")):
            if path.is_file() and path.name != ".built":  # the code and the data-set specs beside it
                archive.write(path, path.relative_to(CODE_BUNDLE).as_posix())
    definition = apply_profile(json.loads(DEFINITION.read_text()), get_profile(profile).training)
    return fill(
        definition,
        {
            "ARTIFACT_BUCKET": "artifacts", "CURATED_BUCKET": "curated", "CODE_BUNDLE_BUCKET": "assets",
            "CODE_BUNDLE_KEY": "0123abcd.zip", "KMS_KEY_ARN": "arn:aws:kms:eu-west-1:123456789012:key/k",
            "SUBNET_IDS": ["subnet-1"], "SECURITY_GROUP_IDS": ["sg-1"], "MODEL_PACKAGE_GROUP": "group",
            "XGBOOST_IMAGE": "xgboost:3.0-5", "REGION": "eu-west-1", "ROLE_ARN": "arn:aws:iam::123456789012:role/r",
            "DATASET": DATASET.name, "CURATED_TABLE": specs.curated_table(DATASET),
        },
    )  # fmt: skip


@pytest.fixture
def pipeline(image_python: Path, curated_dir: Path, tmp_path: Path):
    reason = sandbox_available(ROOT, image_python)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    def make(**parameters) -> LocalPipeline:
        run = LocalPipeline(definition_for(tmp_path), tmp_path, IMAGE_BIN, parameters)
        run.put("s3://assets/0123abcd.zip", tmp_path / "bundle.zip")
        for path in curated_dir.rglob("*.parquet"):
            run.put(f"s3://curated/{specs.curated_table(DATASET)}/{path.relative_to(curated_dir).as_posix()}", path)
        return run

    return make


def test_pipeline_definition_runs_end_to_end_in_the_image(pipeline) -> None:
    run = pipeline()
    executed = run.run()
    assert executed == ["Preprocess", "Tune", "Evaluate", "Baseline", "Register", "QualityGate"]
    report = run.properties["Evaluate"]["PropertyFiles"]["Evaluation"]
    assert 0.7 < report["binary_classification_metrics"]["auc"]["value"] <= 1
    registered = run.properties["Register"]["registered"]
    assert registered["ModelApprovalStatus"] == "PendingManualApproval"
    constraints = json.loads(
        run.local(registered["ModelMetrics"]["ModelDataQuality"]["Constraints"]["S3Uri"]).read_text()
    )
    assert constraints["features"], "the data-quality constraints describe no feature"


def test_quality_gate_stops_a_weak_model_before_registration(pipeline) -> None:
    run = pipeline(MinAuc=0.9999)
    with pytest.raises(StepFailed, match="is below MinAuc"):
        run.run()
    assert run.executed == ["Preprocess", "Tune", "Evaluate", "QualityGateFailed"]
    assert "Register" not in run.properties


def test_tuning_hyperparameters_and_channels_pass_the_training_containers_validation(
    image_python: Path, tmp_path: Path
) -> None:
    checked = json.loads(in_image(image_python, "hyperparameters", str(DEFINITION)))
    assert [c["step"] for c in checked] == ["Tune"] and checked[0]["channels"] == ["train", "validation"]
    assert checked[0]["candidates"] >= 2

    # The same check refuses a range the container would reject (eta is a fraction).
    broken = json.loads(DEFINITION.read_text())
    tune = next(s for s in broken["Steps"] if s["Type"] == "Tuning")
    eta = next(r for r in tune["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
               if r["Name"] == "eta")  # fmt: skip
    eta["MaxValue"] = "5"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(AssertionError, match="eta"):
        in_image(image_python, "hyperparameters", str(tmp_path / "broken.json"))


def test_bootstrap_model_served_by_the_container_matches_evaluation(
    image_python: Path, curated_dir: Path, tmp_path: Path
) -> None:
    preprocess.run(curated_dir, tmp_path / "splits", seed=3)
    test = pd.read_csv(tmp_path / "splits" / "test" / "test.csv", header=None).head(50)
    rows = test.iloc[:, 1:].to_numpy(dtype=float).tolist()
    payload = tmp_path / "payload.csv"
    payload.write_text(client.to_csv(rows))
    body = in_image(image_python, "serve", str(ARTIFACT), str(payload), "text/csv", "text/csv")

    class Runtime:
        def invoke_endpoint(self, **request):
            assert request["Body"] == payload.read_text() and request["ContentType"] == "text/csv"
            return {"Body": io.BytesIO(body.encode()), "InvokedProductionVariant": "champion"}

    served = client.invoke(Runtime(), "endpoint", rows)
    models = tmp_path / "model"
    models.mkdir()
    shutil.copyfile(ARTIFACT, models / "model.tar.gz")
    evaluate.evaluate(models, tmp_path / "splits" / "test", tmp_path / "evaluation")
    measured = pd.read_csv(tmp_path / "evaluation" / "predictions.csv")["probability"].head(50).to_numpy()
    np.testing.assert_allclose(served["scores"], measured, rtol=1e-6)
    assert served["variant"] == "champion"


def scheduled_drift_request(image_python: Path, dev) -> dict:
    """The monitoring schedule's own CreateProcessingJob request (what it hands the starter), for one run."""
    from pipelines.monitoring import simulate
    from posture.contracts.model import Assembly as ContractModel

    reason = sandbox_available(ROOT, image_python)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    model = ContractModel(dev.outdir)
    (schedule,) = [s for s in model.resources("AWS::Scheduler::Schedule") if "monitoring" in s.stack]
    text = model.props(schedule)["Target"]["Input"]
    end = simulate.END.strftime("%Y-%m-%dT%H:%M:%SZ")
    event = json.loads(
        text.replace("<aws.scheduler.scheduled-time>", end).replace("<aws.scheduler.execution-id>", "run1")
    )
    return event["request"]


def test_a_first_monitoring_run_without_baselines_or_labels_reports_so_in_the_image(
    image_python: Path, dev, tmp_path: Path
) -> None:
    """Before the first approval (no baselines) and the first labels: the request as the starter sends it."""
    from lambdas.monitoring_starter.logic import with_data
    from pipelines.monitoring import simulate

    request = scheduled_drift_request(image_python, dev)
    arguments = request["AppSpecification"]["ContainerArguments"]
    endpoint = arguments[arguments.index("--endpoint") + 1]
    simulate.main(["--out", str(tmp_path / "sim"), "--endpoint", endpoint, "--rows", "600"])
    run = LocalPipeline({"Parameters": [], "Steps": []}, tmp_path / "run", IMAGE_BIN)
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}
    definition_for(tmp_path)
    run.put(inputs["code"], tmp_path / "bundle.zip")
    run.upload_folder(tmp_path / "sim" / "capture" / endpoint, inputs["capture"])
    # As scheduled, SageMaker refuses the empty prefixes (the local runner does the same).
    with pytest.raises(StepFailed, match="finds nothing"):
        run._processing({"Name": "Drift", "Type": "Processing", "Arguments": request})
    started, dropped = with_data(request, lambda uri: run.download_prefix(uri, tmp_path / "listed") > 0)
    assert dropped == ["ground-truth", "baseline"]
    run._processing({"Name": "Drift", "Type": "Processing", "Arguments": started})
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    report = json.loads(run.local(f"{output['S3Output']['S3Uri'].rstrip('/')}/report.json").read_text())
    assert report["status"] == "no-baseline"
    assert {v["status"] for v in report["variants"].values()} == {"no-baseline"}
    assert {v["model_quality"]["status"] for v in report["variants"].values()} == {"no-ground-truth"}


def test_the_scheduled_drift_job_runs_in_the_image_as_the_schedule_starts_it(
    image_python: Path, dev, tmp_path: Path
) -> None:
    """The monitoring schedule's own CreateProcessingJob request, run on simulated capture in the image."""
    from pipelines.monitoring import simulate

    request = scheduled_drift_request(image_python, dev)
    arguments = request["AppSpecification"]["ContainerArguments"]
    endpoint = arguments[arguments.index("--endpoint") + 1]

    simulate.main(["--out", str(tmp_path / "sim"), "--endpoint", endpoint, "--rows", "1500",
                   "--shift-feature", SHIFTED])  # fmt: skip
    run = LocalPipeline({"Parameters": [], "Steps": []}, tmp_path / "run", IMAGE_BIN)
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}
    definition_for(tmp_path)  # writes bundle.zip: the same code bundle the job ships
    run.put(inputs["code"], tmp_path / "bundle.zip")
    for name, folder in (
        ("capture", tmp_path / "sim" / "capture" / endpoint),
        ("ground-truth", tmp_path / "sim" / "ground-truth"),
        ("baseline", tmp_path / "sim" / "baselines"),
    ):
        run.upload_folder(folder, inputs[name])
    run._processing({"Name": "Drift", "Type": "Processing", "Arguments": request})

    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    report = json.loads(run.local(f"{output['S3Output']['S3Uri'].rstrip('/')}/report.json").read_text())
    assert report["endpoint"] == endpoint and set(report["variants"]) == {"champion", "challenger"}
    assert report["variants"]["challenger"]["data_drift"]["drifted_features"] == [SHIFTED]
    assert report["variants"]["champion"]["data_drift"]["drifted_features"] == []
