"""One typed description of an alarm, and the one place alarms are built from it.

A stack or construct lists its alarms as ``AlarmSpec`` values (what to watch, when it fires,
what missing data means, where it notifies) and calls ``spec.build(scope)``; every alarm then
has an action, a description and an explicit missing-data treatment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

ABOVE = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
AT_LEAST = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
BELOW = cw.ComparisonOperator.LESS_THAN_THRESHOLD


@dataclass(frozen=True)
class AlarmSpec:
    """An alarm on ``metric`` that notifies ``topic``.

    ``construct_id`` is the alarm's id in its scope (its logical id derives from it: keep it
    stable). ``alarm_name`` defaults to a generated one. Defaults: fires when the metric is above
    ``threshold`` for one period; missing data is not breaching.
    """

    construct_id: str
    description: str
    metric: cw.IMetric
    threshold: float
    topic: sns.ITopic
    periods: int = 1
    comparison: cw.ComparisonOperator = ABOVE
    missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING
    alarm_name: str | None = None

    def build(self, scope: Construct) -> cw.Alarm:
        """The alarm, in ``scope``, with the topic as its alarm action."""
        alarm = cw.Alarm(
            scope,
            self.construct_id,
            alarm_name=self.alarm_name,
            alarm_description=self.description,
            metric=self.metric,
            threshold=self.threshold,
            evaluation_periods=self.periods,
            comparison_operator=self.comparison,
            treat_missing_data=self.missing,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        return alarm


def build_alarms(scope: Construct, specs: Iterable[AlarmSpec]) -> list[cw.Alarm]:
    """Every alarm of ``specs``, in order."""
    return [spec.build(scope) for spec in specs]
