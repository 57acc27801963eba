"""Firehose record transformation: validate, normalize, or mark failed with the reason.

Every record that carries a ``recordId`` comes back exactly once: ``Ok`` with
the normalized event as one JSON line, or ``ProcessingFailed`` with a JSON
envelope ``{"error": reason, "raw": original base64}``, which Firehose writes
under the stream's error prefix. Each record is handled on its own: whatever
goes wrong with one (even a bug) fails that record only. Nothing here raises on
any input.

The response stays under Lambda's 6 MB synchronous payload limit: reasons are
printable ASCII of bounded length, shortened further when the whole response
would not fit. Only a request Firehose cannot send with the stream's buffering
(see ``worst_case`` in the tests) gets its failed records back as their original
data (no envelope; the reasons stay in the logs), which is still under the limit.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from .model import Event
from .timestamps import Window

# Lambda's synchronous response limit is 6 MB (6,291,456 bytes); keep room for the runtime's framing.
RESPONSE_LIMIT = 6 * 1024 * 1024
RESPONSE_BUDGET = RESPONSE_LIMIT - 64 * 1024
MAX_REASON = 256
# Reason lengths tried, longest first, until the response fits.
REASON_STEPS = (MAX_REASON, 64, 16)


@dataclass
class BatchOutcome:
    records: list[dict] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    # records that carried no usable recordId and so cannot be answered
    unanswerable: int = 0
    # (recordId, reason) of each failed record, for the logs
    failures: list[tuple[str, str]] = field(default_factory=list)
    # failed records answered with their original data instead of the envelope (response size)
    unwrapped: int = 0

    def response(self) -> dict:
        return {"records": self.records}


def printable(text: str, limit: int) -> str:
    """``text`` as printable ASCII without quotes or backslashes (one byte per character in JSON), cut to ``limit``."""
    clean = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def describe(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in detail["loc"]) or "record"
        message = detail["msg"].removeprefix("Value error, ")  # a spec rule's own words
        parts.append(f"{where}: {message}")
    return printable("; ".join(parts), MAX_REASON)


def transform_data(data: str, window: Window | None = None) -> tuple[bool, str]:
    """(True, normalized JSON line) or (False, reason) for one base64 payload."""
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False, "data is not valid base64"
    try:
        event = Event.model_validate_json(payload, context={"window": window})
    except ValidationError as error:
        return False, describe(error)
    return True, event.model_dump_json() + "\n"


def _encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def envelope(reason: str, raw: str) -> str:
    """What a failed record's ``data`` decodes to: one JSON line ``{"error", "raw"}``."""
    return json.dumps({"error": reason, "raw": raw}, separators=(",", ":")) + "\n"


def _size(record: dict) -> int:
    # As the runtime serializes it (default separators, ASCII), plus the ", " joining it to the next.
    return len(json.dumps(record)) + 2


@dataclass
class _Failure:
    index: int
    record_id: str
    reason: str
    raw: str


def transform_event(event: object, *, window: Window | None = None) -> BatchOutcome:
    outcome = BatchOutcome()
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return outcome
    failures: list[_Failure] = []
    for record in records:
        record_id = record.get("recordId") if isinstance(record, dict) else None
        if not isinstance(record_id, str) or not record_id:
            outcome.unanswerable += 1
            continue
        data = record.get("data")
        try:
            ok, text = (
                transform_data(data, window) if isinstance(data, str) else (False, "record has no base64 data field")
            )
        except Exception as error:  # a bug or an input no check foresaw: this record fails, its neighbours go on
            ok, text = False, printable(f"unexpected error in the transform: {type(error).__name__}", MAX_REASON)
        if ok:
            outcome.ok += 1
            outcome.records.append({"recordId": record_id, "result": "Ok", "data": _encode(text)})
        else:
            outcome.failed += 1
            outcome.failures.append((record_id, text))
            failures.append(_Failure(len(outcome.records), record_id, text, data if isinstance(data, str) else ""))
            outcome.records.append({"recordId": record_id, "result": "ProcessingFailed", "data": ""})
    _answer_failures(outcome, failures)
    return outcome


def _answer_failures(outcome: BatchOutcome, failures: list[_Failure]) -> None:
    """Fill in the failed records' data: the longest reasons that keep the response within budget."""
    fixed = len('{"records": []}') + sum(
        _size(r) for r in outcome.records if r["result"] == "Ok"
    )  # fmt: skip
    for limit in REASON_STEPS:
        answers = [(f, _encode(envelope(printable(f.reason, limit), f.raw))) for f in failures]
        total = fixed + sum(
            _size({"recordId": f.record_id, "result": "ProcessingFailed", "data": d}) for f, d in answers
        )
        if total <= RESPONSE_BUDGET:
            for failure, data in answers:
                outcome.records[failure.index]["data"] = data
            return
    # Only past Firehose's buffering: the original data, as Firehose's own error records carry it.
    for failure in failures:
        outcome.records[failure.index]["data"] = failure.raw
        outcome.unwrapped += 1


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
