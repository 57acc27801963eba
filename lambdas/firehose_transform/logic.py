"""Firehose record transformation: validate, normalize, or mark failed with the reason.

Every record that carries a ``recordId`` comes back exactly once: ``Ok`` with
the normalized event as one JSON line, or ``ProcessingFailed`` with a JSON
envelope ``{"error": reason, "raw": original base64}``, which Firehose writes
under the stream's error prefix. Nothing here raises on any input.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from .model import ChurnEvent

MAX_REASON = 500


@dataclass
class BatchOutcome:
    records: list[dict] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    # records that carried no usable recordId and so cannot be answered
    unanswerable: int = 0
    # (recordId, reason) of each failed record, for the logs
    failures: list[tuple[str, str]] = field(default_factory=list)

    def response(self) -> dict:
        return {"records": self.records}


def describe(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in detail["loc"]) or "record"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)[:MAX_REASON]


def transform_data(data: str) -> tuple[bool, str]:
    """(True, normalized JSON line) or (False, reason) for one base64 payload."""
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False, "data is not valid base64"
    try:
        event = ChurnEvent.model_validate_json(payload)
    except ValidationError as error:
        return False, describe(error)
    return True, event.model_dump_json() + "\n"


def _encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def transform_event(event: object) -> BatchOutcome:
    outcome = BatchOutcome()
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return outcome
    for record in records:
        record_id = record.get("recordId") if isinstance(record, dict) else None
        if not isinstance(record_id, str) or not record_id:
            outcome.unanswerable += 1
            continue
        data = record.get("data")
        ok, text = transform_data(data) if isinstance(data, str) else (False, "record has no base64 data field")
        if ok:
            outcome.ok += 1
            outcome.records.append({"recordId": record_id, "result": "Ok", "data": _encode(text)})
        else:
            outcome.failed += 1
            outcome.failures.append((record_id, text))
            raw = data if isinstance(data, str) else ""
            envelope = json.dumps({"error": text, "raw": raw}, separators=(",", ":")) + "\n"
            outcome.records.append({"recordId": record_id, "result": "ProcessingFailed", "data": _encode(envelope)})
    return outcome


def fail_all(event: object) -> BatchOutcome:
    """Last resort: answer every record ``ProcessingFailed`` with its data unchanged."""
    outcome = BatchOutcome()
    records = event.get("records") if isinstance(event, dict) else None
    for record in records if isinstance(records, list) else []:
        record_id = record.get("recordId") if isinstance(record, dict) else None
        if isinstance(record_id, str) and record_id:
            data = record.get("data") if isinstance(record.get("data"), str) else ""
            outcome.records.append({"recordId": record_id, "result": "ProcessingFailed", "data": data})
            outcome.failed += 1
            outcome.failures.append((record_id, "unexpected error in the transform"))
        else:
            outcome.unanswerable += 1
    return outcome
