"""The command-line entry points a person runs (data generator, local tuning, endpoint client) run here."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pipelines.data import generate
from pipelines.serving import client
from pipelines.training import preprocess, tune_local
from pipelines.training.features import FEATURES


def test_generator_cli_writes_the_rows_it_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "raw" / "events.jsonl"
    assert generate.main(["--rows", "250", "--seed", "3", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 250
    assert "wrote 250 rows" in capsys.readouterr().out


def test_local_tuning_cli_writes_a_model_the_image_can_load(curated_dir: Path, tmp_path: Path) -> None:
    preprocess.run(curated_dir, tmp_path / "splits", seed=5)
    output = tmp_path / "model"
    code = tune_local.main(
        ["--train", str(tmp_path / "splits" / "train"), "--validation", str(tmp_path / "splits" / "validation"),
         "--output", str(output), "--trials", "2"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((output / "tuning.json").read_text())
    assert summary["trials"] == 2
    with tarfile.open(output / "model.tar.gz") as tar:
        assert tar.getnames() == ["xgboost-model"]
        model = json.loads(tar.extractfile("xgboost-model").read())
    # Saved by the image's XGBoost version (see requirements-image.txt): what the endpoint reads.
    assert model["version"][:2] == [3, 0]


def test_client_cli_sends_feature_rows_and_prints_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "test.csv"
    rows.write_text("\n".join(",".join(["1"] + ["0.5"] * len(FEATURES)) for _ in range(3)) + "\n")
    sent = {}

    class Runtime:
        def invoke_endpoint(self, **request):
            sent.update(request)
            return {"Body": io.BytesIO(b"0.1\n0.7\n0.4\n"), "InvokedProductionVariant": "challenger"}

    monkeypatch.setattr("boto3.client", lambda name, **_: Runtime() if name == "sagemaker-runtime" else None)
    code = client.main(["--endpoint", "e", "--csv", str(rows), "--has-label", "--variant", "challenger"])
    assert code == 0 and sent["TargetVariant"] == "challenger" and sent["ContentType"] == "text/csv"
    assert all(len(line.split(",")) == len(FEATURES) for line in sent["Body"].splitlines())
    printed = json.loads(capsys.readouterr().out)
    assert printed["scores"] == [0.1, 0.7, 0.4] and printed["positive"] == [False, True, False]
