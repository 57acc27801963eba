"""Profiles: typed, validated, and a bad value names its key and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from config import PROFILES, ProfileError, get_profile
from config.profiles import LOG_RETENTION_DAYS
from tests.conftest import run_synth


def test_default_profile_is_dev() -> None:
    assert get_profile(None) is PROFILES["dev"]


def test_profiles_differ_in_numbers_not_shape() -> None:
    dev, prod = PROFILES["dev"], PROFILES["prod"]
    assert len(dev.availability_zones) == 2 and len(prod.availability_zones) == 3
    assert dev.removal_policy == "destroy" and prod.removal_policy == "retain"
    assert prod.termination_protection and not dev.termination_protection
    assert set(dev.tags) == set(prod.tags) >= {"project", "profile", "owner", "cost-centre"}


@pytest.mark.parametrize(
    ("change", "key", "allowed"),
    [
        ({"account": "12345"}, "account", "12-digit"),
        ({"region": "Europe"}, "region", "region name"),
        ({"availability_zones": ("eu-west-1a",)}, "availability_zones", "2 or 3"),
        ({"availability_zones": ("eu-west-1a", "us-east-1b")}, "availability_zones", "zones of region eu-west-1"),
        ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr", "/16 to /20"),
        ({"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr", "private"),
        ({"vpc_cidr": "not-a-cidr"}, "vpc_cidr", "IPv4 CIDR"),
        ({"nat_gateways": 3}, "nat_gateways", "0 (no internet path) to 2"),
        ({"log_retention_days": 10}, "log_retention_days", str(LOG_RETENTION_DAYS[:3])[1:-1]),
        ({"removal_policy": "snapshot"}, "removal_policy", "destroy"),
        ({"termination_protection": True}, "termination_protection", "retain"),
        ({"owner": ""}, "owner", "1-256 characters"),
    ],
)
def test_bad_value_names_the_key_and_what_is_allowed(change: dict, key: str, allowed: str) -> None:
    with pytest.raises(ProfileError) as err:
        dataclasses.replace(PROFILES["dev"], **change)
    assert err.value.key == key
    assert f"key '{key}'" in str(err.value) and allowed in str(err.value)


def test_bad_lifecycle_value_names_the_nested_key() -> None:
    lifecycle = dataclasses.replace(PROFILES["dev"].lifecycle, glacier_after_days=40)
    with pytest.raises(
        ProfileError, match=r"key 'lifecycle.glacier_after_days'.*>= infrequent_access_after_days \+ 30"
    ):
        dataclasses.replace(PROFILES["dev"], lifecycle=lifecycle)


def test_unknown_profile_fails_synth_with_the_choices(tmp_path) -> None:
    result = run_synth(tmp_path, "profile=staging", offline=False)
    assert result.returncode != 0
    assert "key 'profile' is 'staging'; allowed: one of ['dev', 'prod']" in result.stderr
