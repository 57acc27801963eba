"""Deployment profiles: one typed, validated record per environment.

Profiles differ in numbers, not in shape. Every value a stack needs to decide
something at synth time lives here, so synth never looks anything up.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal, cast

from pipelines.data.spec import known as known_datasets

DEFAULT_PROFILE = "dev"

# The values CloudWatch Logs accepts for a log group's retention, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
    731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

REMOVAL_POLICIES = ("destroy", "retain")
# Template metadata key on a resource kept in every profile on purpose (audit evidence): teardown
# leaves it, so it must have a generated name (a fixed one would block the next deploy).
KEPT_ON_TEARDOWN = "mlops:kept-on-teardown"

_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PACKAGE_ARN = re.compile(r"^arn:aws[\w-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w-]+/\d+$")
# How late a retraining trigger can reach the guard: EventBridge retries delivery for up to an hour
# (the rules' max_event_age), then Lambda keeps the asynchronous event for up to another hour.
TRIGGER_DELAY_MINUTES = 120
_SCHEDULE = re.compile(r"^(cron\([^)]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")

# vCPUs of the endpoint instance types a profile may use. SageMaker's CPUUtilization sums its
# cores (0-100% per vCPU), so CPU alarm thresholds scale by this. Types with local NVMe storage
# (m5d, c5d...) are left out on purpose: their endpoint configs cannot take a KMS volume key.
INSTANCE_VCPUS: dict[str, int] = {
    "ml.t2.medium": 2, "ml.t2.large": 2, "ml.t2.xlarge": 4,
    "ml.m5.large": 2, "ml.m5.xlarge": 4, "ml.m5.2xlarge": 8, "ml.m5.4xlarge": 16,
    "ml.c5.large": 2, "ml.c5.xlarge": 4, "ml.c5.2xlarge": 8, "ml.c5.4xlarge": 16,
    "ml.m6i.large": 2, "ml.m6i.xlarge": 4, "ml.m6i.2xlarge": 8,
    "ml.c6i.large": 2, "ml.c6i.xlarge": 4, "ml.c6i.2xlarge": 8,
}  # fmt: skip


class ProfileError(ValueError):
    """A profile value is out of range; the message names the key and what is allowed."""

    def __init__(self, profile: str, key: str, value: object, allowed: str) -> None:
        super().__init__(f"profile '{profile}': key '{key}' is {value!r}; allowed: {allowed}")
        self.profile = profile
        self.key = key


@dataclass(frozen=True, kw_only=True)
class LifecycleSettings:
    """How long object versions live and when cold data moves to cheaper tiers."""

    noncurrent_version_expiry_days: int
    infrequent_access_after_days: int
    glacier_after_days: int
    abort_incomplete_upload_days: int = 7
    access_log_expiry_days: int


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    """Stream retention, Firehose buffering and the alarm thresholds of the ingest path."""

    stream_retention_hours: int
    buffer_seconds: int
    buffer_mb: int
    iterator_age_alarm_seconds: int
    # Alarm when more than this share of records fails validation over 15 minutes.
    failed_record_ratio_alarm: float
    # The transform rejects event times older than this, or further ahead of its clock than this.
    event_max_age_days: int = 3650
    event_max_ahead_minutes: int = 15
    # MiB of records Firehose hands the transform per invocation (its processor buffer, 1-3).
    transform_buffer_mb: int = 1
    # None: an on-demand stream (scales itself, $0.04 an hour idle). N: a provisioned stream of N
    # shards ($0.015 a shard-hour; each takes 1 MB/s or 1,000 records/s in), with a throttling alarm.
    stream_shards: int | None = None


@dataclass(frozen=True, kw_only=True)
class EtlSettings:
    """When the raw -> curated workflow runs and on what capacity."""

    # EventBridge schedule expression, for example "cron(0 3 * * ? *)".
    schedule: str
    # Start after this many new raw objects, or when the window closes with at least one.
    batch_size: int
    batch_window_seconds: int
    worker_type: Literal["G.1X", "G.2X", "G.4X"]
    number_of_workers: int
    timeout_minutes: int


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """Defaults of the training pipeline's parameters and when retraining may start."""

    processing_instance_type: str
    training_instance_type: str
    max_tuning_jobs: int
    max_parallel_tuning_jobs: int
    min_auc: float
    # Managed spot training (with checkpoints) where interruptions are acceptable.
    spot: bool
    retrain_schedule: str
    # No new execution within this many minutes of the last start.
    cooldown_minutes: int


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    """The A/B endpoint: variants, capacity, deployment guardrails, alarms, promotion rule."""

    # False: one production variant, the champion; an approved package replaces it (blue/green, under
    # the rollback alarms) and there is nothing to promote: challenger_weight, min_challenger_invocations,
    # max_error_rate_increase, max_latency_ratio and promotion_* are then ignored.
    challenger: bool = True
    # Defaults of the serving stack's package parameters (approved model package ARNs); None means
    # the project's bootstrap model. Only a first deploy uses them: later deploys keep the
    # parameters' previous values (what the approval flow set).
    champion_package_arn: str | None = None
    challenger_package_arn: str | None = None
    # A third model that gets a copy of the traffic and answers nobody.
    shadow_package_arn: str | None = None
    challenger_weight: float
    instance_type: str
    instance_count: int
    max_instance_count: int
    target_invocations_per_instance: int
    data_capture_percent: int
    # Blue/green routing of endpoint updates: 0 shifts all traffic at once, then bakes; N > 0 sends a
    # canary of N instances first (at most half of instance_count, so it needs 2 instances or more).
    canary_instances: int
    # How long the new fleet serves under the rollback alarms before the next step (and the end).
    bake_minutes: int
    p99_latency_alarm_ms: int
    # CPU alarm per vCPU (scaled by the instance type's vCPUs, see INSTANCE_VCPUS).
    cpu_alarm_percent: int = 80
    # Alarm when a variant gets no request for an hour: right where clients always call, noise on an
    # endpoint that may sit idle (dev).
    idle_alarm: bool
    # Register the variants for autoscaling. Turn off for one deploy before changing instance_type:
    # SageMaker refuses to change the instance type of a variant registered for autoscaling.
    autoscaling: bool = True
    # Promotion: evidence needed, and how far a healthy challenger moves per decision.
    min_challenger_invocations: int
    max_error_rate_increase: float
    max_latency_ratio: float
    promotion_step: float
    promotion_dry_run: bool
    promotion_schedule: str


MONITORING_ENGINES = ("portable", "model-monitor")
VPC_WORKLOADS = ("all", "sagemaker")


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """Drift and model-quality monitoring of the endpoint.

    ``engine`` "portable" runs the project's drift job (pipelines/monitoring) as a
    Processing job; "model-monitor" uses SageMaker Model Monitor schedules instead
    (for accounts that still have it; AWS closed it to new customers in 2026).
    """

    engine: Literal["portable", "model-monitor"] = "portable"
    # EventBridge Scheduler expression; the job judges the window that ends at its start.
    schedule: str = "cron(0 1 * * ? *)"
    window_hours: int = 24
    js_threshold: float = 0.1
    psi_threshold: float = 0.2
    # Share of a feature's values that may break its type or range before it is flagged.
    violation_rate: float = 0.01
    auc_floor: float = 0.75
    # Labels arrive this long after the inference: model quality looks that far back.
    label_delay_hours: int = 24
    # Fewer joined labels than this and model quality is not judged (and the alarm says so).
    min_samples: int = 200
    instance_type: str = "ml.m5.large"
    max_runtime_minutes: int = 60


@dataclass(frozen=True, kw_only=True)
class AuditSettings:
    """Who records the account's API calls, how long the records live, who hears of security events."""

    # "own": this platform's multi-region trail; "organization": an organization trail (Control
    # Tower) already records this account, so no second paid trail (and no CIS metric filters here).
    trail: Literal["own", "organization"]
    # Trail log files move to Glacier Flexible Retrieval after cold_after_days and expire after expiry_days.
    cold_after_days: int
    expiry_days: int
    # Object lock (governance mode) on the trail bucket, in days; None for no lock.
    object_lock_days: int | None = None
    # IAM roles (session issuers) that approve model packages; approvals by anyone else alert.
    approver_arns: tuple[str, ...] = ()
    # Email addresses subscribed to the security topic (separate from the alarm topic).
    security_emails: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Everything that differs between environments.

    ``account`` may be None: the account then comes from ``CDK_DEFAULT_ACCOUNT``
    (what the CDK CLI sets from your credentials) or stays unresolved, which is
    fine for synth. ``region`` and ``availability_zones`` are always explicit so
    that synth needs no lookup.
    """

    name: str
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    vpc_cidr: str
    # NAT gateways give workloads an internet path; 0 means none at all.
    nat_gateways: int
    # What runs in the VPC's workload subnets. "all": every Lambda function, the Glue job and
    # crawler, and the SageMaker jobs and endpoint, with interface endpoints for the AWS APIs the
    # functions and Glue call. "sagemaker": only the SageMaker jobs and endpoint models (they need
    # nothing but the free S3 gateway endpoint); functions and Glue run in their services' own
    # networks and no interface endpoint is made (about $8 per endpoint and zone a month saved).
    vpc_workloads: Literal["all", "sagemaker"] = "all"
    log_retention_days: int
    removal_policy: Literal["destroy", "retain"]
    termination_protection: bool
    lifecycle: LifecycleSettings
    ingest: IngestSettings
    etl: EtlSettings
    training: TrainingSettings
    serving: ServingSettings
    audit: AuditSettings
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    # Lake Formation administrators (IAM role or user ARNs) appended to the account's
    # existing ones; the CDK deployment role is always added so grants can be made.
    lake_admin_arns: tuple[str, ...] = ()
    # Email addresses subscribed to the alarm topic (confirmations are sent on deploy).
    alarm_emails: tuple[str, ...] = ()
    # Concurrency reserved for each platform Lambda; None reserves none. A new account's
    # Lambda quota can be as low as 10, with nothing left to reserve: raise the quota first.
    lambda_reserved_concurrency: int | None = None
    # The data set (pipelines/data/datasets/<name>.json) the platform ingests, curates and learns.
    dataset: str = "churn"
    owner: str
    cost_centre: str
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate()

    @property
    def internet_egress(self) -> bool:
        return self.nat_gateways > 0

    @property
    def functions_in_vpc(self) -> bool:
        """Lambda functions and the Glue job run in the workload subnets (``vpc_workloads`` "all")."""
        return self.vpc_workloads == "all"

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"

    @property
    def tags(self) -> dict[str, str]:
        return {
            "project": "mlops-reference",
            "profile": self.name,
            "owner": self.owner,
            "cost-centre": self.cost_centre,
            **self.extra_tags,
        }

    def _fail(self, key: str, value: object, allowed: str) -> None:
        raise ProfileError(self.name, key, value, allowed)

    def _range(self, key: str, value: object, lo: int, hi: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            self._fail(key, value, f"a whole number from {lo} to {hi}")

    def _validate(self) -> None:
        # It names stacks, buckets and Glue databases (mlops_<name>): lower-case letters and digits only.
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            self._fail("name", self.name, "1-12 lower-case letters and digits, starting with a letter")
        if self.dataset not in known_datasets():
            self._fail("dataset", self.dataset, f"one of the data-set specs {list(known_datasets())}")
        if self.account is not None and not _ACCOUNT.match(self.account):
            self._fail("account", self.account, "a 12-digit AWS account id or None")
        if not _REGION.match(self.region):
            self._fail("region", self.region, "an AWS region name such as 'eu-west-1'")
        azs = self.availability_zones
        if not 2 <= len(azs) <= 3 or len(set(azs)) != len(azs):
            self._fail("availability_zones", azs, "2 or 3 distinct zones")
        for az in azs:
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", az):
                self._fail("availability_zones", az, f"zones of region {self.region}, such as '{self.region}a'")
        try:
            network = ipaddress.ip_network(self.vpc_cidr)
        except ValueError:
            self._fail("vpc_cidr", self.vpc_cidr, "an IPv4 CIDR block such as '10.20.0.0/16'")
        if network.version != 4 or not 16 <= network.prefixlen <= 20 or not network.is_private:
            self._fail("vpc_cidr", self.vpc_cidr, "a private IPv4 block from /16 to /20")
        if not 0 <= self.nat_gateways <= len(azs):
            self._fail("nat_gateways", self.nat_gateways, f"0 (no internet path) to {len(azs)} (one per zone)")
        if self.vpc_workloads not in VPC_WORKLOADS:
            self._fail("vpc_workloads", self.vpc_workloads, f"one of {VPC_WORKLOADS}")
        if self.retain_data and not self.functions_in_vpc:
            self._fail(
                "vpc_workloads", self.vpc_workloads, "'all' in a profile that keeps data (removal_policy 'retain')"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            self._fail("log_retention_days", self.log_retention_days, f"one of {LOG_RETENTION_DAYS}")
        if self.removal_policy not in REMOVAL_POLICIES:
            self._fail("removal_policy", self.removal_policy, f"one of {REMOVAL_POLICIES}")
        if self.termination_protection and not self.retain_data:
            self._fail("termination_protection", True, "True only with removal_policy 'retain'")
        lc = self.lifecycle
        for f in fields(lc):
            value = getattr(lc, f.name)
            if not isinstance(value, int) or value < 1:
                self._fail(f"lifecycle.{f.name}", value, "a whole number of days >= 1")
        # S3 requires 30 days in STANDARD before STANDARD_IA, and 30 more before
        # a later transition is worth the minimum-storage charge.
        if lc.infrequent_access_after_days < 30:
            self._fail("lifecycle.infrequent_access_after_days", lc.infrequent_access_after_days, ">= 30")
        if lc.glacier_after_days < lc.infrequent_access_after_days + 30:
            self._fail(
                "lifecycle.glacier_after_days",
                lc.glacier_after_days,
                f">= infrequent_access_after_days + 30 ({lc.infrequent_access_after_days + 30})",
            )
        ing = self.ingest
        self._range("ingest.stream_retention_hours", ing.stream_retention_hours, 24, 8760)
        self._range("ingest.buffer_seconds", ing.buffer_seconds, 0, 900)
        self._range("ingest.buffer_mb", ing.buffer_mb, 1, 128)
        self._range("ingest.iterator_age_alarm_seconds", ing.iterator_age_alarm_seconds, 60, 86_400)
        if not 0 < ing.failed_record_ratio_alarm < 1:
            self._fail("ingest.failed_record_ratio_alarm", ing.failed_record_ratio_alarm, "a fraction between 0 and 1")
        self._range("ingest.event_max_age_days", ing.event_max_age_days, 1, 36_500)
        self._range("ingest.event_max_ahead_minutes", ing.event_max_ahead_minutes, 0, 1440)
        self._range("ingest.transform_buffer_mb", ing.transform_buffer_mb, 1, 3)
        if ing.stream_shards is not None:
            self._range("ingest.stream_shards", ing.stream_shards, 1, 500)
        etl = self.etl
        if not _SCHEDULE.match(etl.schedule):
            self._fail("etl.schedule", etl.schedule, "an EventBridge expression: cron(...) or rate(N unit)")
        self._range("etl.batch_size", etl.batch_size, 1, 100)
        self._range("etl.batch_window_seconds", etl.batch_window_seconds, 1, 900)
        if etl.worker_type not in ("G.1X", "G.2X", "G.4X"):
            self._fail("etl.worker_type", etl.worker_type, "G.1X, G.2X or G.4X")
        self._range("etl.number_of_workers", etl.number_of_workers, 2, 100)
        self._range("etl.timeout_minutes", etl.timeout_minutes, 5, 2880)
        if self.lambda_reserved_concurrency is not None:
            self._range("lambda_reserved_concurrency", self.lambda_reserved_concurrency, 1, 1000)
        tr = self.training
        for key in ("processing_instance_type", "training_instance_type"):
            if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", getattr(tr, key)):
                self._fail(f"training.{key}", getattr(tr, key), "a SageMaker instance type such as ml.m5.xlarge")
        self._range("training.max_tuning_jobs", tr.max_tuning_jobs, 1, 500)
        self._range("training.max_parallel_tuning_jobs", tr.max_parallel_tuning_jobs, 1, min(tr.max_tuning_jobs, 100))
        if not 0.5 <= tr.min_auc < 1:
            self._fail("training.min_auc", tr.min_auc, "a number from 0.5 (chance) to below 1")
        if not _SCHEDULE.match(tr.retrain_schedule):
            self._fail(
                "training.retrain_schedule", tr.retrain_schedule, "an EventBridge expression: cron(...) or rate(N unit)"
            )
        # "A storm starts exactly one execution": every trigger of one ETL run (its objects, delivered up to
        # TRIGGER_DELAY_MINUTES late) must fall within one cool-down.
        least = self.etl.timeout_minutes + TRIGGER_DELAY_MINUTES
        self._range("training.cooldown_minutes", tr.cooldown_minutes, least, 10_080)
        sv = self.serving
        for key in ("champion_package_arn", "challenger_package_arn", "shadow_package_arn"):
            value = getattr(sv, key)
            if value is not None and not _PACKAGE_ARN.match(value):
                self._fail(
                    f"serving.{key}", value, "None or a model package ARN (arn:aws:sagemaker:...:model-package/group/N)"
                )
        if not sv.challenger and sv.challenger_package_arn is not None:
            # A default the template would have no parameter for: the model would never serve.
            self._fail("serving.challenger_package_arn", sv.challenger_package_arn, "None without a challenger")
        if not 0 <= sv.challenger_weight <= 0.5:
            self._fail("serving.challenger_weight", sv.challenger_weight, "a share of traffic from 0 to 0.5")
        if sv.instance_type not in INSTANCE_VCPUS:
            self._fail(
                "serving.instance_type",
                sv.instance_type,
                f"an instance type with a known vCPU count (add it to INSTANCE_VCPUS): {sorted(INSTANCE_VCPUS)}",
            )
        # Production (data retained) runs two instances per variant, which SageMaker spreads over zones.
        least = 2 if self.retain_data else 1
        self._range("serving.instance_count", sv.instance_count, least, 100)
        self._range("serving.max_instance_count", sv.max_instance_count, sv.instance_count, 100)
        self._range("serving.target_invocations_per_instance", sv.target_invocations_per_instance, 1, 100_000)
        self._range("serving.data_capture_percent", sv.data_capture_percent, 0, 100)
        # SageMaker: a canary is at most 50% of the variant's instances.
        self._range("serving.canary_instances", sv.canary_instances, 0, sv.instance_count // 2)
        self._range("serving.bake_minutes", sv.bake_minutes, 1, 60)
        self._range("serving.cpu_alarm_percent", sv.cpu_alarm_percent, 1, 100)
        self._range("serving.p99_latency_alarm_ms", sv.p99_latency_alarm_ms, 1, 60_000)
        self._range("serving.min_challenger_invocations", sv.min_challenger_invocations, 1, 10_000_000)
        if not 0 <= sv.max_error_rate_increase < 1:
            self._fail("serving.max_error_rate_increase", sv.max_error_rate_increase, "a fraction from 0 to below 1")
        if not 1 <= sv.max_latency_ratio <= 10:
            self._fail("serving.max_latency_ratio", sv.max_latency_ratio, "a ratio from 1 to 10")
        if not 0 < sv.promotion_step <= 0.5:
            self._fail("serving.promotion_step", sv.promotion_step, "a share of traffic above 0, at most 0.5")
        if not _SCHEDULE.match(sv.promotion_schedule):
            self._fail(
                "serving.promotion_schedule",
                sv.promotion_schedule,
                "an EventBridge expression: cron(...) or rate(N unit)",
            )
        self._validate_audit()
        mon = self.monitoring
        if mon.engine not in MONITORING_ENGINES:
            self._fail("monitoring.engine", mon.engine, f"one of {MONITORING_ENGINES}")
        if not _SCHEDULE.match(mon.schedule):
            self._fail("monitoring.schedule", mon.schedule, "an EventBridge expression: cron(...) or rate(N unit)")
        self._range("monitoring.window_hours", mon.window_hours, 1, 168)
        self._range("monitoring.label_delay_hours", mon.label_delay_hours, 0, 720)
        self._range("monitoring.min_samples", mon.min_samples, 10, 10_000_000)
        self._range("monitoring.max_runtime_minutes", mon.max_runtime_minutes, 5, 1440)
        for key in ("js_threshold", "psi_threshold", "violation_rate"):
            if not 0 < getattr(mon, key) < 1:
                self._fail(f"monitoring.{key}", getattr(mon, key), "a number between 0 and 1")
        if not 0.5 <= mon.auc_floor < 1:
            self._fail("monitoring.auc_floor", mon.auc_floor, "a number from 0.5 (chance) to below 1")
        if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", mon.instance_type):
            self._fail("monitoring.instance_type", mon.instance_type, "a SageMaker instance type such as ml.m5.large")
        for arn in self.lake_admin_arns:
            if not _PRINCIPAL_ARN.match(arn):
                self._fail(
                    "lake_admin_arns", arn, "IAM role or user ARNs, such as arn:aws:iam::111122223333:role/Admin"
                )
        for email in self.alarm_emails:
            if not _EMAIL.match(email):
                self._fail("alarm_emails", email, "email addresses")
        for key, value in (("owner", self.owner), ("cost_centre", self.cost_centre), *self.extra_tags.items()):
            if not isinstance(value, str) or not _TAG_VALUE.match(value):
                self._fail(key, value, "1-256 characters of letters, digits, spaces and _.:/=+-@")

    def _validate_audit(self) -> None:
        au = self.audit
        if au.trail not in ("own", "organization"):
            self._fail("audit.trail", au.trail, "'own' or 'organization'")
        self._range("audit.cold_after_days", au.cold_after_days, 1, 3650)
        # Glacier Flexible Retrieval bills at least 90 days per object.
        self._range("audit.expiry_days", au.expiry_days, max(365, au.cold_after_days + 90), 36_500)
        if au.object_lock_days is not None:
            self._range("audit.object_lock_days", au.object_lock_days, 1, au.expiry_days)
        for arn in au.approver_arns:
            if not _PRINCIPAL_ARN.match(arn) or ":role/" not in arn:
                self._fail(
                    "audit.approver_arns", arn, "IAM role ARNs, such as arn:aws:iam::111122223333:role/MlApprover"
                )
        for email in au.security_emails:
            if not _EMAIL.match(email):
                self._fail("audit.security_emails", email, "email addresses")


def derive(base: Profile, *, name: str, **overrides: object) -> Profile:
    """A profile equal to ``base`` except for ``name`` and ``overrides``, validated like any other.

    A dict given for a settings group (``serving={"instance_count": 2}``) changes only
    those keys of the group; any other value replaces the base's. An unknown key is a
    ``ProfileError`` that names it.
    """
    known = {f.name: f for f in fields(Profile)}
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in known or key == "name":
            raise ProfileError(name, key, value, f"a key of Profile other than name: {sorted(set(known) - {'name'})}")
        current = getattr(base, key)
        if isinstance(value, dict) and is_dataclass(current):
            group = {f.name for f in fields(current)}
            for sub in value:
                if sub not in group:
                    raise ProfileError(name, f"{key}.{sub}", value[sub], f"a key of {key}: {sorted(group)}")
            value = replace(cast(Any, current), **value)
        changes[key] = value
    return replace(base, name=name, **cast(dict[str, Any], changes))


def registry(*profiles: Profile) -> dict[str, Profile]:
    """Profiles by name; two profiles with one name are a mistake, not an override."""
    out: dict[str, Profile] = {}
    for profile in profiles:
        if profile.name in out:
            raise ProfileError(profile.name, "name", profile.name, "a name no other profile has")
        out[profile.name] = profile
    return out


def missing_contacts(profile: Profile) -> dict[str, str]:
    """Who is missing to run ``profile`` for real: key -> what to set. Synth warns; deploy and pre-flight refuse."""
    missing = {}
    if not profile.alarm_emails:
        missing["alarm_emails"] = "nobody is subscribed to the alarm topic: add your team's addresses to alarm_emails"
    if not profile.lake_admin_arns:
        missing["lake_admin_arns"] = (
            "only the CDK deployment role would administer the data lake: add your administrators' IAM role ARNs "
            "to lake_admin_arns"
        )
    return missing


DEV = Profile(
    name="dev",
    account=None,
    region="eu-west-1",
    availability_zones=("eu-west-1a", "eu-west-1b"),
    vpc_cidr="10.20.0.0/16",
    nat_gateways=0,
    log_retention_days=30,
    removal_policy="destroy",
    termination_protection=False,
    lifecycle=LifecycleSettings(
        noncurrent_version_expiry_days=30,
        infrequent_access_after_days=30,
        glacier_after_days=90,
        access_log_expiry_days=90,
    ),
    ingest=IngestSettings(
        stream_retention_hours=24,
        buffer_seconds=60,
        buffer_mb=5,
        iterator_age_alarm_seconds=600,
        failed_record_ratio_alarm=0.05,
    ),
    etl=EtlSettings(
        schedule="cron(0 3 * * ? *)",
        batch_size=10,
        batch_window_seconds=900,
        worker_type="G.1X",
        number_of_workers=2,
        timeout_minutes=60,
    ),
    training=TrainingSettings(
        processing_instance_type="ml.m5.large",
        training_instance_type="ml.m5.large",
        max_tuning_jobs=6,
        max_parallel_tuning_jobs=2,
        min_auc=0.75,
        spot=True,
        retrain_schedule="cron(0 6 ? * MON *)",
        cooldown_minutes=360,
    ),
    serving=ServingSettings(
        challenger_weight=0.1,
        instance_type="ml.m5.large",
        instance_count=1,
        max_instance_count=2,
        target_invocations_per_instance=200,
        data_capture_percent=100,
        canary_instances=0,
        bake_minutes=5,
        p99_latency_alarm_ms=300,
        idle_alarm=False,
        min_challenger_invocations=100,
        max_error_rate_increase=0.01,
        max_latency_ratio=1.5,
        promotion_step=0.2,
        promotion_dry_run=True,
        promotion_schedule="rate(1 hour)",
    ),
    audit=AuditSettings(trail="own", cold_after_days=90, expiry_days=400),
    monitoring=MonitoringSettings(
        engine="portable",
        schedule="cron(0 1 * * ? *)",
        window_hours=24,
        auc_floor=0.75,
        label_delay_hours=24,
        min_samples=200,
        instance_type="ml.m5.large",
    ),
    owner="ml-platform",
    cost_centre="ml-dev",
)

# Production: what differs from dev. Data is retained, so deploying it needs alarm_emails and
# lake_admin_arns (see required_contacts).
PROD = derive(
    DEV,
    name="prod",
    availability_zones=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    vpc_cidr="10.40.0.0/16",
    log_retention_days=365,
    removal_policy="retain",
    termination_protection=True,
    lifecycle={
        "noncurrent_version_expiry_days": 90,
        "infrequent_access_after_days": 60,
        "glacier_after_days": 180,
        "access_log_expiry_days": 400,
    },
    ingest={
        "stream_retention_hours": 168,
        "buffer_seconds": 300,
        "buffer_mb": 64,
        "iterator_age_alarm_seconds": 300,
        "failed_record_ratio_alarm": 0.01,
    },
    etl={
        "schedule": "cron(0 2 * * ? *)",
        "batch_size": 50,
        "worker_type": "G.2X",
        "number_of_workers": 10,
        "timeout_minutes": 180,
    },
    training={
        "processing_instance_type": "ml.m5.xlarge",
        "training_instance_type": "ml.m5.2xlarge",
        "max_tuning_jobs": 30,
        "max_parallel_tuning_jobs": 3,
        "min_auc": 0.8,
        "spot": False,
        "retrain_schedule": "cron(0 4 ? * MON *)",
        "cooldown_minutes": 720,
    },
    serving={
        "instance_type": "ml.m5.xlarge",
        "instance_count": 2,
        "max_instance_count": 8,
        "target_invocations_per_instance": 1000,
        "data_capture_percent": 20,
        "canary_instances": 1,
        "bake_minutes": 10,
        "p99_latency_alarm_ms": 200,
        "idle_alarm": True,
        "min_challenger_invocations": 5000,
        "max_error_rate_increase": 0.002,
        "max_latency_ratio": 1.2,
        "promotion_step": 0.1,
        "promotion_dry_run": False,
    },
    audit={"expiry_days": 2557, "object_lock_days": 365},
    monitoring={
        "schedule": "cron(0 */6 * * ? *)",
        "auc_floor": 0.8,
        "label_delay_hours": 48,
        "min_samples": 1000,
        "instance_type": "ml.m5.xlarge",
    },
    lambda_reserved_concurrency=20,
    cost_centre="ml-prod",
)

# Development at the least idle cost (make cost: under $100 a month): what differs from dev. Only
# SageMaker compute runs in the VPC (no interface endpoints), the stream has one provisioned shard,
# and one small instance serves. What it gives up is listed in the README (Cost).
LEAN = derive(
    DEV,
    name="lean",
    vpc_cidr="10.30.0.0/16",
    vpc_workloads="sagemaker",
    ingest={"stream_shards": 1},
    serving={"instance_type": "ml.t2.medium", "challenger": False},
    monitoring={"instance_type": "ml.t3.medium"},
)

# Every profile that exists: `make ... PROFILE=<name>`, and the tests synthesize each one.
PROFILES: dict[str, Profile] = registry(DEV, LEAN, PROD)


def get_profile(name: str | None) -> Profile:
    """Return the profile called ``name`` (``dev`` when None)."""
    key = name or DEFAULT_PROFILE
    if key not in PROFILES:
        raise ProfileError(key, "profile", key, f"one of {sorted(PROFILES)}")
    return PROFILES[key]
