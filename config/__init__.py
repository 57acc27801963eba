"""Typed deployment profiles (see ``profiles.py``)."""

from config.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    AuditSettings,
    EtlSettings,
    IngestSettings,
    LifecycleSettings,
    MonitoringSettings,
    Profile,
    ProfileError,
    ServingSettings,
    TrainingSettings,
    get_profile,
)

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "AuditSettings",
    "EtlSettings",
    "IngestSettings",
    "LifecycleSettings",
    "MonitoringSettings",
    "Profile",
    "ProfileError",
    "ServingSettings",
    "TrainingSettings",
    "get_profile",
]
