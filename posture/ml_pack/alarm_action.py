"""Every alarm does something when it fires.

An alarm acts through its own actions (SNS, Auto Scaling...), through an EventBridge rule that
matches its state changes (the retraining rules), as a rollback alarm of an endpoint deployment,
or as a child of a composite alarm that acts. An alarm that does none of these is never seen.
"""

from __future__ import annotations

import json

from posture.contracts.model import Assembly, Resource
from posture.ml_pack import Rule, Settings

STATE_CHANGE = "CloudWatch Alarm State Change"


def _matches(values: object, name: str, arn: str) -> bool:
    for value in values if isinstance(values, list) else [values]:
        if value in (name, arn):
            return True
        prefix = value.get("prefix") if isinstance(value, dict) else None
        if isinstance(prefix, str) and (name.startswith(prefix) or arn.startswith(prefix)):
            return True
    return False


def _rule_matches(pattern: dict, name: str, arn: str) -> bool:
    if "aws.cloudwatch" not in json.dumps(pattern.get("source", [])) or STATE_CHANGE not in json.dumps(
        pattern.get("detail-type", [])
    ):
        return False
    if "resources" not in pattern and "alarmName" not in pattern.get("detail", {}):
        return True  # every alarm's state change
    return _matches(pattern.get("resources", []), name, arn) or _matches(
        pattern.get("detail", {}).get("alarmName", []), name, arn
    )


def _has_action(props: dict) -> bool:
    return props.get("ActionsEnabled", True) not in (False, "false") and bool(
        props.get("AlarmActions") or props.get("OKActions") or props.get("InsufficientDataActions")
    )


def alarm_problems(asm: Assembly, alarm: Resource) -> list[str]:
    props = asm.props(alarm)
    if _has_action(props):
        return []
    name = asm.resolve(alarm.stack, {"Ref": alarm.logical_id})
    arn = asm.get_att(alarm.stack, alarm.logical_id, "Arn")
    for rule in asm.resources("AWS::Events::Rule"):
        rule_props = asm.props(rule)
        if rule_props.get("State", "ENABLED") == "ENABLED" and _rule_matches(
            rule_props.get("EventPattern", {}), name, arn
        ):
            return []
    for cfn_type in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig"):
        for endpoint in asm.resources(cfn_type):
            rollback = asm.props(endpoint).get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {})
            if any(a.get("AlarmName") == name for a in rollback.get("Alarms", [])):
                return []
    for composite in asm.resources("AWS::CloudWatch::CompositeAlarm"):
        composite_props = asm.props(composite)
        if _has_action(composite_props) and (name in str(composite_props.get("AlarmRule", ""))):
            return []
    return ["no alarm action, no EventBridge rule on its state changes, no rollback or composite alarm uses it"]


def check(asm: Assembly, alarm: Resource, settings: Settings) -> list[str]:
    return alarm_problems(asm, alarm)


RULE = Rule(
    "AlarmAction",
    "Every alarm must act when it fires: an alarm action, an EventBridge rule, a deployment rollback or a "
    "composite alarm with actions.",
    ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"),
    check,
)
