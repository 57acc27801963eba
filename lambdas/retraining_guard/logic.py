"""Decide whether a retraining trigger starts the pipeline, and record why.

Every trigger (schedule, new curated data, a drift or model-quality alarm)
comes here. The guard refuses while an execution is running or during the
cool-down after the last start; otherwise it starts the pipeline with the
configured parameters. The cool-down is a conditional write on one DynamoDB
item, so a storm of simultaneous triggers starts exactly one execution. Each
decision, start or refusal, is written to the same table with its reason
(bounded text, far below DynamoDB's 400 KB item limit).

An event whose fields are not what its source sends is a recorded refusal
("malformed"), never a crash. A failed start is recorded, then raised
(``StartFailed``) for Lambda to retry: the cool-down slot is given back when the
execution certainly did not start, and kept when it may have (a timeout, a
dropped connection, a 5xx), so a retry never starts a second one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from botocore.exceptions import ClientError, ParamValidationError
from botocore.exceptions import ConnectionError as NoConnection

LOCK_KEY = "lock#pipeline"
RUNNING = ("Executing", "Stopping")
DECISION_TTL_DAYS = 90
# Text kept in a decision record; DynamoDB's item limit is 400 KB, so a record stays far below it.
MAX_TEXT = 1024
REFUSED = ("unknown", "malformed")


@dataclass(frozen=True)
class GuardConfig:
    pipeline_name: str
    table_name: str
    cooldown: timedelta
    parameters: dict[str, str] = field(default_factory=dict)


class StartFailed(RuntimeError):
    """StartPipelineExecution failed: recorded, and raised so Lambda retries the event."""


@dataclass(frozen=True)
class Decision:
    started: bool
    trigger: str
    reason: str
    execution_arn: str | None = None


def text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as bounded, encodable text for a record or a log (lone surrogates replaced)."""
    raw = value if isinstance(value, str) else repr(value)
    clean = raw[: limit * 2].encode("utf-8", "replace").decode("utf-8")
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _str(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def classify(event: object) -> tuple[str, str]:
    """(trigger kind, human detail) of an EventBridge event; ("unknown" or "malformed", why) otherwise."""
    if not isinstance(event, dict):
        return "unknown", f"event is a {type(event).__name__}, not an EventBridge event"
    source, kind, detail = event.get("source"), event.get("detail-type"), event.get("detail")
    if "id" in event and not _str(event["id"]):
        return "malformed", f"event id {text(event['id'], 80)} is not a string"
    if source == "aws.events" and kind == "Scheduled Event":
        resources = event.get("resources", [])
        if not isinstance(resources, list) or not all(_str(r) for r in resources):
            return "malformed", f"scheduled event with resources {text(resources, 200)}, not a list of ARNs"
        return "schedule", f"schedule {', '.join(resources) or 'rule'}"
    if source == "aws.s3" and kind == "Object Created":
        bucket = detail.get("bucket") if isinstance(detail, dict) else None
        key = detail.get("object") if isinstance(detail, dict) else None
        bucket, key = (x.get(n) if isinstance(x, dict) else None for x, n in ((bucket, "name"), (key, "key")))
        if not _str(bucket) or not _str(key):
            return "malformed", f"Object Created event without a bucket name and object key: {text(detail, 200)}"
        return "new-data", f"new curated data s3://{bucket}/{key}"
    if source == "aws.cloudwatch" and kind == "CloudWatch Alarm State Change":
        state = detail.get("state") if isinstance(detail, dict) else None
        value = state.get("value") if isinstance(state, dict) else None
        name = detail.get("alarmName") if isinstance(detail, dict) else None
        if not _str(name) or not _str(value):
            return "malformed", f"alarm event without an alarm name and state: {text(detail, 200)}"
        if value != "ALARM":
            return "unknown", f"alarm {name} changed to {value}, not ALARM"
        return "alarm", f"alarm {name} is in ALARM"
    if source == "mlops.manual":
        reason = detail.get("reason", "manual request") if isinstance(detail, dict) else None
        if not _str(reason):
            return "malformed", f'manual request with detail {text(detail, 200)}, not {{"reason": text}}'
        return "manual", reason
    return "unknown", f"unrecognized event source={text(source, 100)} detail-type={text(kind, 100)}"


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
            "event_id": text(event_id, 128),
            "trigger": decision.trigger,
            "started": decision.started,
            "reason": text(decision.reason),
            "execution_arn": decision.execution_arn or "",
            "expires_at": int((now + timedelta(days=DECISION_TTL_DAYS)).timestamp()),
        }
    )


def _never_reached(error: Exception) -> bool:
    """Whether the start request certainly did not start an execution (so the slot can be given back).

    Refused by SageMaker (4xx), never sent (invalid parameters), or no connection made: certain. A
    read timeout, a dropped connection, a 5xx or anything else: the execution may have started.
    """
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) < 500
    return isinstance(error, ParamValidationError | NoConnection)


def _start(sagemaker, table, config: GuardConfig, now: datetime, trigger: str, detail: str, event_id: str) -> Decision:
    token = hashlib.sha256(f"{event_id}:{now.isoformat()}".encode()).hexdigest()[:64]
    try:
        started = sagemaker.start_pipeline_execution(
            PipelineName=config.pipeline_name,
            PipelineExecutionDisplayName=f"{trigger}-{now:%Y%m%d-%H%M%S}",
            PipelineExecutionDescription=text(f"started by {detail}", 3072),
            PipelineParameters=[{"Name": k, "Value": v} for k, v in sorted(config.parameters.items())],
            ClientRequestToken=token,
        )
        return Decision(True, trigger, f"started ({detail})", started["PipelineExecutionArn"])
    except Exception as error:
        why = text(f"{type(error).__name__}: {error}", 300)
        if _never_reached(error):
            try:
                _release(table, now)
                outcome = "not started, cool-down slot given back"
            except Exception as release_error:  # the slot stays taken: the cool-down then holds the next start
                outcome = f"not started; giving the slot back failed ({type(release_error).__name__}), cool-down holds"
        else:  # it may be running: keep the slot so no second execution starts within the cool-down
            outcome = "may have started; cool-down slot kept"
        _record(table, now, Decision(False, trigger, f"start failed ({detail}): {why}; {outcome}"), event_id)
        raise StartFailed(f"{why}; {outcome}") from error


def decide(event: object, *, sagemaker, table, config: GuardConfig, now: datetime) -> Decision:
    trigger, detail = classify(event)
    detail = text(detail, 512)
    event_id = text(event["id"], 128) if isinstance(event, dict) and _str(event.get("id")) else "none"
    if trigger in REFUSED:
        decision = Decision(False, trigger, f"refused: {detail}")
    elif running := _running_execution(sagemaker, config.pipeline_name):
        decision = Decision(False, trigger, f"refused ({detail}): execution {running} is still running")
    else:
        taken, last = _acquire(table, now, config.cooldown, trigger)
        if not taken:
            ready = datetime.fromtimestamp((last or 0) + config.cooldown.total_seconds(), tz=now.tzinfo)
            decision = Decision(False, trigger, f"refused ({detail}): in cool-down until {ready.isoformat()}")
        else:
            decision = _start(sagemaker, table, config, now, trigger, detail, event_id)
    _record(table, now, decision, event_id)
    return decision


def parameters_from_env(raw: str | None) -> dict[str, str]:
    values = json.loads(raw or "{}")
    if not isinstance(values, dict):
        raise ValueError("PIPELINE_PARAMETERS must be a JSON object")
    return {str(k): str(v) for k, v in values.items()}
