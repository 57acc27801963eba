"""Decide whether a retraining trigger starts the pipeline, and record why.

Every trigger (schedule, new curated data, a drift or model-quality alarm)
comes here. The guard refuses while an execution is running or during the
cool-down after the last start; otherwise it starts the pipeline with the
configured parameters. The cool-down is a conditional write on one DynamoDB
item, so a storm of simultaneous triggers starts exactly one execution. Each
decision, start or refusal, is written to the same table with its reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

LOCK_KEY = "lock#pipeline"
RUNNING = ("Executing", "Stopping")
DECISION_TTL_DAYS = 90


@dataclass(frozen=True)
class GuardConfig:
    pipeline_name: str
    table_name: str
    cooldown: timedelta
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    started: bool
    trigger: str
    reason: str
    execution_arn: str | None = None


def classify(event: object) -> tuple[str, str]:
    """(trigger kind, human detail) of an EventBridge event; ("unknown", why) otherwise."""
    if not isinstance(event, dict):
        return "unknown", f"event is a {type(event).__name__}, not an EventBridge event"
    source, kind, detail = event.get("source"), event.get("detail-type"), event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    if source == "aws.events" and kind == "Scheduled Event":
        return "schedule", f"schedule {', '.join(map(str, event.get('resources') or [])) or 'rule'}"
    if source == "aws.s3" and kind == "Object Created":
        key = (detail.get("object") or {}).get("key", "?") if isinstance(detail.get("object"), dict) else "?"
        bucket = (detail.get("bucket") or {}).get("name", "?") if isinstance(detail.get("bucket"), dict) else "?"
        return "new-data", f"new curated data s3://{bucket}/{key}"
    if source == "aws.cloudwatch" and kind == "CloudWatch Alarm State Change":
        state = (detail.get("state") or {}).get("value") if isinstance(detail.get("state"), dict) else None
        name = detail.get("alarmName", "?")
        if state != "ALARM":
            return "unknown", f"alarm {name} changed to {state}, not ALARM"
        return "alarm", f"alarm {name} is in ALARM"
    if source == "mlops.manual":
        return "manual", str(detail.get("reason") or "manual request")
    return "unknown", f"unrecognized event source={source!r} detail-type={kind!r}"


def _running_execution(sagemaker, pipeline: str) -> str | None:
    page = sagemaker.list_pipeline_executions(
        PipelineName=pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=20
    )
    for summary in page.get("PipelineExecutionSummaries", []):
        if summary.get("PipelineExecutionStatus") in RUNNING:
            return summary["PipelineExecutionArn"]
    return None


def _acquire(table, now: datetime, cooldown: timedelta, trigger: str) -> tuple[bool, float | None]:
    """Take the start slot unless the last start is within the cool-down; (taken, last start)."""
    stamp = now.timestamp()
    try:
        table.update_item(
            Key={"pk": LOCK_KEY},
            UpdateExpression="SET started_at = :now, #t = :trigger",
            ConditionExpression="attribute_not_exists(started_at) OR started_at <= :cutoff",
            ExpressionAttributeNames={"#t": "trigger"},
            ExpressionAttributeValues={
                ":now": _decimal(stamp),
                ":cutoff": _decimal(stamp - cooldown.total_seconds()),
                ":trigger": trigger,
            },
        )
        return True, None
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    item = table.get_item(Key={"pk": LOCK_KEY}, ConsistentRead=True).get("Item", {})
    return False, float(item["started_at"]) if "started_at" in item else None


def _release(table, now: datetime) -> None:
    """Give the slot back after a failed start, if it is still ours."""
    try:
        table.delete_item(
            Key={"pk": LOCK_KEY},
            ConditionExpression="started_at = :now",
            ExpressionAttributeValues={":now": _decimal(now.timestamp())},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _decimal(value: float):
    from decimal import Decimal

    return Decimal(str(round(value, 6)))


def _record(table, now: datetime, decision: Decision, event_id: str) -> None:
    table.put_item(
        Item={
            "pk": f"decision#{now.isoformat()}#{uuid.uuid4().hex[:8]}",
            "event_id": event_id,
            "trigger": decision.trigger,
            "started": decision.started,
            "reason": decision.reason,
            "execution_arn": decision.execution_arn or "",
            "expires_at": int((now + timedelta(days=DECISION_TTL_DAYS)).timestamp()),
        }
    )


def decide(event: object, *, sagemaker, table, config: GuardConfig, now: datetime) -> Decision:
    trigger, detail = classify(event)
    event_id = str(event.get("id")) if isinstance(event, dict) and event.get("id") else "none"
    if trigger == "unknown":
        decision = Decision(False, trigger, f"refused: {detail}")
    elif running := _running_execution(sagemaker, config.pipeline_name):
        decision = Decision(False, trigger, f"refused ({detail}): execution {running} is still running")
    else:
        taken, last = _acquire(table, now, config.cooldown, trigger)
        if not taken:
            ready = datetime.fromtimestamp((last or 0) + config.cooldown.total_seconds(), tz=now.tzinfo)
            decision = Decision(False, trigger, f"refused ({detail}): in cool-down until {ready.isoformat()}")
        else:
            token = hashlib.sha256(f"{event_id}:{now.isoformat()}".encode()).hexdigest()[:64]
            try:
                started = sagemaker.start_pipeline_execution(
                    PipelineName=config.pipeline_name,
                    PipelineExecutionDisplayName=f"{trigger}-{now:%Y%m%d-%H%M%S}",
                    PipelineExecutionDescription=f"started by {detail}"[:3072],
                    PipelineParameters=[{"Name": k, "Value": v} for k, v in sorted(config.parameters.items())],
                    ClientRequestToken=token,
                )
            except ClientError:
                _release(table, now)
                raise
            decision = Decision(True, trigger, f"started ({detail})", started["PipelineExecutionArn"])
    _record(table, now, decision, event_id)
    return decision


def parameters_from_env(raw: str | None) -> dict[str, str]:
    values = json.loads(raw or "{}")
    if not isinstance(values, dict):
        raise ValueError("PIPELINE_PARAMETERS must be a JSON object")
    return {str(k): str(v) for k, v in values.items()}
