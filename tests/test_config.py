"""Profiles: typed, validated, and a bad value names its key and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from config import PROFILES, ProfileError, get_profile
from config.profiles import LOG_RETENTION_DAYS, derive, registry
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
        ({"vpc_workloads": "lambda"}, "vpc_workloads", "one of ('all', 'sagemaker')"),
    ],
)
def test_bad_value_names_the_key_and_what_is_allowed(change: dict, key: str, allowed: str) -> None:
    with pytest.raises(ProfileError) as err:
        dataclasses.replace(PROFILES["dev"], **change)
    assert err.value.key == key
    assert f"key '{key}'" in str(err.value) and allowed in str(err.value)


def test_a_profile_that_keeps_data_keeps_its_functions_in_the_vpc() -> None:
    with pytest.raises(ProfileError) as err:
        derive(PROFILES["prod"], name="cheapprod", vpc_workloads="sagemaker")
    assert err.value.key == "vpc_workloads" and "retain" in str(err.value)
    assert derive(PROFILES["dev"], name="lean2", vpc_workloads="sagemaker").functions_in_vpc is False


@pytest.mark.parametrize("shards", [0, 501, True, 1.5])
def test_a_provisioned_stream_needs_1_to_500_shards(shards: object) -> None:
    with pytest.raises(ProfileError) as err:
        derive(PROFILES["dev"], name="shards", ingest={"stream_shards": shards})
    assert err.value.key == "ingest.stream_shards"


def test_lean_is_dev_with_its_overrides() -> None:
    lean, dev = PROFILES["lean"], PROFILES["dev"]
    assert not lean.functions_in_vpc and not lean.serving.challenger and lean.ingest.stream_shards == 1
    assert lean.removal_policy == dev.removal_policy == "destroy"
    assert lean.availability_zones == dev.availability_zones and lean.vpc_cidr != dev.vpc_cidr


def test_bad_lifecycle_value_names_the_nested_key() -> None:
    lifecycle = dataclasses.replace(PROFILES["dev"].lifecycle, glacier_after_days=40)
    with pytest.raises(
        ProfileError, match=r"key 'lifecycle.glacier_after_days'.*>= infrequent_access_after_days \+ 30"
    ):
        dataclasses.replace(PROFILES["dev"], lifecycle=lifecycle)


def test_unknown_profile_fails_synth_with_the_choices(tmp_path) -> None:
    # Profile names are lower-case letters and digits (validated), so this one can never exist.
    result = run_synth(tmp_path, "profile=no such profile", offline=False)
    assert result.returncode != 0
    assert f"key 'profile' is 'no such profile'; allowed: one of {sorted(PROFILES)}" in result.stderr


def test_a_derived_profile_changes_only_what_it_overrides() -> None:
    dev = PROFILES["dev"]
    derived = derive(dev, name="derived", vpc_cidr="10.30.0.0/16", serving={"instance_count": 2})
    assert derived.serving.instance_count == 2 and derived.vpc_cidr == "10.30.0.0/16"
    assert derived.serving.instance_type == dev.serving.instance_type
    assert dataclasses.replace(derived, name="dev", vpc_cidr=dev.vpc_cidr, serving=dev.serving) == dev
    assert registry(dev, derived)["derived"] is derived


def test_prod_is_dev_with_its_overrides() -> None:
    assert PROFILES["prod"].ingest != PROFILES["dev"].ingest
    assert PROFILES["prod"].serving.promotion_schedule == PROFILES["dev"].serving.promotion_schedule


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"vpc": "10.30.0.0/16"}, "vpc"),
        ({"serving": {"instance_cout": 2}}, "serving.instance_cout"),
        ({"serving": {"instance_count": 0}}, "serving.instance_count"),
    ],
)
def test_a_bad_derivation_names_the_key(overrides: dict, key: str) -> None:
    with pytest.raises(ProfileError) as err:
        derive(PROFILES["dev"], name="derived", **overrides)
    assert err.value.key == key and err.value.profile == "derived"


def test_two_profiles_cannot_share_a_name() -> None:
    with pytest.raises(ProfileError, match="a name no other profile has"):
        registry(PROFILES["dev"], derive(PROFILES["prod"], name="dev"))


def test_a_profile_name_that_cannot_name_a_glue_database_is_refused() -> None:
    with pytest.raises(ProfileError, match="key 'name'"):
        derive(PROFILES["dev"], name="no such profile")
