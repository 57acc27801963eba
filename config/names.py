"""Names and prefixes the stacks, constructs and operations share: change them here only.

Stack, alarm and key names derive from the project and the profile; the S3 prefixes are the
layout of the data-lake buckets, which the writers (Firehose, ETL, endpoint capture) and the
readers (crawler, training, monitoring) must agree on.
"""

from __future__ import annotations

PROJECT = "mlops"

# Raw zone
RAW_EVENTS_PREFIX = "events/"
RAW_ERRORS_PREFIX = "errors/"
RAW_REJECTS_PREFIX = "rejects/"
# Artifact bucket
ATHENA_RESULTS_PREFIX = "athena-results/"
ARTIFACT_GLUE_PREFIX = "glue/"
MONITORING_PREFIX = "monitoring/"
DATA_CAPTURE_PREFIX = f"{MONITORING_PREFIX}data-capture/"
GROUND_TRUTH_PREFIX = f"{MONITORING_PREFIX}ground-truth/"
BASELINE_PREFIX = f"{MONITORING_PREFIX}baselines/current/"
REPORTS_PREFIX = f"{MONITORING_PREFIX}reports/"


def resource_prefix(profile: str) -> str:
    """``mlops-<profile>``: the start of every stack, alarm, endpoint and pipeline name."""
    return f"{PROJECT}-{profile}"


def stack_name(profile: str, stack: str) -> str:
    """``mlops-<profile>-<stack>``."""
    return f"{resource_prefix(profile)}-{stack}"


def alarm_name(profile: str, *parts: str) -> str:
    """``mlops-<profile>-<part>-<part>...``."""
    return "-".join((resource_prefix(profile), *parts))


def retrain_alarm_prefix(profile: str) -> str:
    """Alarms whose names start with this trigger retraining (``mlops-<profile>-retrain-``)."""
    return f"{resource_prefix(profile)}-retrain-"


def key_alias(profile: str, alias: str) -> str:
    """``alias/mlops/<profile>/<alias>``."""
    return f"alias/{PROJECT}/{profile}/{alias}"


def metric_namespace(profile: str, area: str) -> str:
    """``mlops/<profile>/<area>``, for the project's own metric filters."""
    return f"{PROJECT}/{profile}/{area}"
