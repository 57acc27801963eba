"""The quality gate and the local stand-in for the model registry."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

PENDING = "PendingManualApproval"


def gate(evaluation: dict, min_auc: float) -> tuple[bool, str]:
    """(passes, reason): the pipeline's condition step, AUC against a threshold."""
    auc = evaluation["binary_classification_metrics"]["auc"]["value"]
    if auc >= min_auc:
        return True, f"AUC {auc:.4f} >= {min_auc:.4f}"
    return False, f"AUC {auc:.4f} is below the required {min_auc:.4f}; the model is not registered"


def register_local(
    registry: Path, group: str, model_archive: Path, evaluation_dir: Path, baselines: Path, extra: dict
) -> Path:
    """Copy the model, its metrics and baselines into ``registry/group/<version>/``, pending approval."""
    group_dir = registry / group
    group_dir.mkdir(parents=True, exist_ok=True)
    version = 1 + max((int(p.name) for p in group_dir.iterdir() if p.name.isdigit()), default=0)
    target = group_dir / str(version)
    target.mkdir()
    shutil.copy(model_archive, target / "model.tar.gz")
    shutil.copy(evaluation_dir / "evaluation.json", target / "evaluation.json")
    shutil.copytree(baselines, target / "baselines")
    package = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelApprovalStatus": PENDING,
        "CreationTime": datetime.now(UTC).isoformat(),
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "evaluation.json"}}
        },
        **extra,
    }
    (target / "model_package.json").write_text(json.dumps(package, indent=2))
    return target
