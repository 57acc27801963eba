"""Synth prints no deprecation banner: a deprecated API is removed in the next major release."""

from __future__ import annotations

from tests.conftest import Assembly


def test_synth_calls_no_deprecated_api(assembly: Assembly) -> None:
    output = assembly.result.stdout + assembly.result.stderr
    assert "is deprecated" not in output, output[:2000]
