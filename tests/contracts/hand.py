"""Small hand-written assemblies, so each contract rule can be shown to fail on its own."""

from __future__ import annotations

import json
from pathlib import Path

from posture.contracts.model import Assembly


def assembly(tmp_path: Path, templates: dict[str, dict]) -> Assembly:
    artifacts = {}
    for name, template in templates.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/eu-west-1",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return Assembly(tmp_path)
