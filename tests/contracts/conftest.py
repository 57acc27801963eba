"""The contract model of each synthesized profile, built once per session from the `assemblies` fixture.

``CONTRACTS_SYNTH_DIR=/path`` (holding ``dev/`` and ``prod/`` assemblies) reuses an earlier synth
while working on the contracts themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posture.contracts.model import Assembly
from tests.conftest import PROFILES


@pytest.fixture(scope="session")
def models(request: pytest.FixtureRequest) -> dict[str, Assembly]:
    if reuse := os.environ.get("CONTRACTS_SYNTH_DIR"):
        return {profile: Assembly(Path(reuse) / profile) for profile in PROFILES}
    assemblies = request.getfixturevalue("assemblies")
    return {profile: Assembly(assemblies[profile].outdir) for profile in PROFILES}


@pytest.fixture(params=PROFILES)
def model(request: pytest.FixtureRequest, models: dict[str, Assembly]) -> Assembly:
    return models[request.param]
