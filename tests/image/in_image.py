"""Runs inside `.venv-image` (the built-in XGBoost 3.0-5 image's Python and libraries).

Calls the image's own code, vendored from its public source in
``tests/vendor/sagemaker_xgboost_container_3_0_5``, the way the image does:

    python in_image.py serve MODEL_TAR PAYLOAD CONTENT_TYPE ACCEPT
        -> the response body the endpoint would send (stdout)
    python in_image.py hyperparameters DEFINITION_JSON
        -> every tuning step's static hyperparameters, with each range's ends, and its
           channels, validated as the training container validates them

Only ``mlio`` (a conda-only reader the image uses for RecordIO/Parquet training
input) is replaced by a stand-in that fails if anything calls it.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
import types
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "vendor" / "sagemaker_xgboost_container_3_0_5"


def _stub_mlio() -> None:
    def unavailable(*_args, **_kwargs):
        raise RuntimeError("mlio is not available outside the image; this path must not be used here")

    for name in ("mlio", "mlio.integ", "mlio.integ.arrow", "mlio.integ.numpy", "mlio.integ.scipy"):
        module = types.ModuleType(name)
        module.__getattr__ = lambda attr, _u=unavailable: _u  # type: ignore[method-assign]
        sys.modules[name] = module


def _import_container():
    _stub_mlio()
    sys.path.insert(0, str(VENDOR))
    from sagemaker_containers import _encoders
    from sagemaker_xgboost_container.algorithm_mode import serve_utils

    return serve_utils, _encoders


def serve(model_tar: str, payload: str, content_type: str, accept: str) -> None:
    """What /invocations does for one request (serve.py of the image, without Flask)."""
    serve_utils, encoders = _import_container()
    with tempfile.TemporaryDirectory() as model_dir:
        with tarfile.open(model_tar) as tar:
            tar.extractall(model_dir)
        booster, model_format = serve_utils.get_loaded_booster(model_dir)
        dtest, parsed_type = serve_utils.parse_content_data(Path(payload).read_bytes(), content_type)
        predictions = serve_utils.predict(booster, model_format, dtest, parsed_type)
    body = encoders.encode(predictions.tolist(), accept)
    sys.stdout.write(body if isinstance(body, str) else body.decode())


def hyperparameters(definition: str) -> None:
    _import_container()
    from sagemaker_xgboost_container.algorithm_mode import channel_validation as cv
    from sagemaker_xgboost_container.algorithm_mode import hyperparameter_validation as hpv
    from sagemaker_xgboost_container.algorithm_mode import metrics as metrics_mod

    checked = []
    steps = json.loads(Path(definition).read_text())["Steps"]
    for step in steps:
        if step["Type"] != "Tuning":
            continue
        job = step["Arguments"]["TrainingJobDefinition"]
        config = step["Arguments"]["HyperParameterTuningJobConfig"]
        static = dict(job["StaticHyperParameters"])
        ranges = config["ParameterRanges"]
        # The tuner adds the objective to the hyperparameters it passes each training job.
        static["_tuning_objective_metric"] = config["HyperParameterTuningJobObjective"]["MetricName"]
        candidates = []
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
            for item in ranges.get(kind, []):
                for end in ("MinValue", "MaxValue"):
                    candidates.append({**static, item["Name"]: item[end]})
        for item in ranges.get("CategoricalParameterRanges", []):
            candidates += [{**static, item["Name"]: value} for value in item["Values"]]
        validator = hpv.initialize(metrics_mod.initialize())
        for candidate in candidates or [static]:
            validator.validate(candidate)
        channels = {
            channel["ChannelName"]: {
                "ContentType": channel["ContentType"],
                "TrainingInputMode": job["AlgorithmSpecification"]["TrainingInputMode"],
                "S3DistributionType": channel["DataSource"]["S3DataSource"]["S3DataDistributionType"],
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            for channel in job["InputDataConfig"]
        }
        cv.initialize().validate(channels)
        checked.append({"step": step["Name"], "candidates": len(candidates), "channels": sorted(channels)})
    print(json.dumps(checked))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"serve": serve, "hyperparameters": hyperparameters}[command](*args)
