"""What every stack of the platform shares: profile, tags, zones without lookups."""

from __future__ import annotations

from aws_cdk import Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct

from config import Profile, names
from config.profiles import LOG_RETENTION_DAYS
from ml_constructs.keys import ServiceKey

_R = logs.RetentionDays
_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        (
            _R.ONE_DAY, _R.THREE_DAYS, _R.FIVE_DAYS, _R.ONE_WEEK, _R.TWO_WEEKS, _R.ONE_MONTH, _R.TWO_MONTHS,
            _R.THREE_MONTHS, _R.FOUR_MONTHS, _R.FIVE_MONTHS, _R.SIX_MONTHS, _R.ONE_YEAR, _R.THIRTEEN_MONTHS,
            _R.EIGHTEEN_MONTHS, _R.TWO_YEARS, _R.THREE_YEARS, _R.FIVE_YEARS, _R.SIX_YEARS, _R.SEVEN_YEARS,
            _R.EIGHT_YEARS, _R.NINE_YEARS, _R.TEN_YEARS,
        ),
        strict=True,
    )
)  # fmt: skip


class PlatformStack(Stack):
    """A stack bound to a profile.

    Its availability zones are the profile's, so neither the stack nor a
    construct in it ever asks the account (no context lookup at synth).
    Stateful stacks get termination protection where the profile asks for it.

    :param profile: the deployment profile.
    :param env: account and region (resolved once in ``app.py``).
    :param stateful: the stack holds data that must outlive it (default False).
    :param description: the CloudFormation stack description.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        profile: Profile,
        env: Environment,
        description: str,
        stateful: bool = False,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=description,
            termination_protection=stateful and profile.termination_protection,
        )
        self.profile = profile
        for key, value in profile.tags.items():
            Tags.of(self).add(key, value)

    @property
    def availability_zones(self) -> list[str]:
        return list(self.profile.availability_zones)

    @property
    def data_removal_policy(self) -> RemovalPolicy:
        """RETAIN or DESTROY for stateful resources, from the profile."""
        return RemovalPolicy.RETAIN if self.profile.retain_data else RemovalPolicy.DESTROY

    def service_key(self, construct_id: str, *, description: str, alias_name: str) -> ServiceKey:
        """A rotating customer key named ``alias/mlops/<profile>/<alias_name>``.

        Removal follows the profile; a deleted key makes its data unreadable, so
        the deletion window is 30 days where data is retained (7 otherwise).
        """
        return ServiceKey(
            self,
            construct_id,
            description=f"{description} ({self.profile.name} ML platform)",
            alias=names.key_alias(self.profile.name, alias_name),
            removal_policy=self.data_removal_policy,
            pending_window_days=30 if self.profile.retain_data else 7,
        )

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.profile.log_retention_days]

    @property
    def function_settings(self) -> dict:
        """What every platform ``PythonFunction`` takes from the profile: log retention and
        removal, reserved concurrency, whether it runs in the VPC (keyword arguments)."""
        return {
            "in_vpc": self.profile.functions_in_vpc,
            "log_retention": self.log_retention,
            "removal_policy": self.data_removal_policy,
            "reserved_concurrency": self.profile.lambda_reserved_concurrency,
        }
