"""Construct tests in a bare stack: one construct, its template, no app and no CDK CLI.

The fast loop for a construct's contract (seconds, not the minute a whole-app synth takes);
the posture of the whole app (cdk-nag packs, cross-stack wiring) stays in the synth tests.
"""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from tests.conftest import app_with_project_flags

ACCOUNT = "123456789012"
REGION = "eu-west-1"


@pytest.fixture
def stack() -> cdk.Stack:
    """A minimal stack with a concrete environment (some constructs need the region at synth)."""
    return cdk.Stack(app_with_project_flags(), "Bare", env=cdk.Environment(account=ACCOUNT, region=REGION))


@pytest.fixture
def template() -> Callable[[cdk.Stack], Template]:
    return Template.from_stack
