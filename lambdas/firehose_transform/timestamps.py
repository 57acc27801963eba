"""Event timestamps: a real ISO-8601 instant, normalized to UTC, inside a plausible window.

Only ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`` is an instant: a string of
digits is not epoch seconds, a date alone or a local time without offset names no
instant. The value is converted to UTC here, so a conversion that leaves years
1-9999 is a validation error of this record (never a failure when serializing).
With a ``Window`` in the validation context (``context={"window": ...}``) the
instant must also lie inside it; the profile sets its width
(``ingest.event_max_age_days``, ``ingest.event_max_ahead_minutes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, ValidationInfo

# Seconds are required: the ETL's formats need them, and "10:00Z" is easy to misread as 10 hours.
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})")


@dataclass(frozen=True)
class Window:
    """Instants from ``earliest`` to ``latest`` inclusive (both aware, UTC)."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, now: datetime, *, max_age_days: int, max_ahead_minutes: int) -> Window:
        return cls(now - timedelta(days=max_age_days), now + timedelta(minutes=max_ahead_minutes))

    def reason(self, instant: datetime) -> str | None:
        if instant < self.earliest:
            return f"older than {format_instant(self.earliest)}, outside the accepted window"
        if instant > self.latest:
            return f"later than {format_instant(self.latest)}, in the future beyond the accepted clock skew"
        return None


def parse_instant(value: object, info: ValidationInfo) -> datetime:
    """The UTC datetime of an ISO-8601 instant string; ValueError saying why not."""
    if not isinstance(value, str):
        raise ValueError("not an ISO-8601 instant string such as 2026-03-01T10:00:00Z")
    if not _INSTANT.fullmatch(value):
        raise ValueError("not an ISO-8601 instant: YYYY-MM-DDTHH:MM:SS with Z or a +HH:MM/-HH:MM offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"not a calendar instant ({error})") from None
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("in UTC it falls outside years 1-9999") from None
    window = (info.context or {}).get("window")
    if isinstance(window, Window) and (reason := window.reason(instant)):
        raise ValueError(reason)
    return instant


def format_instant(value: datetime) -> str:
    """The Lambda's one spelling of an instant (UTC, second precision)."""
    # isoformat, not strftime: glibc's %Y drops the leading zeros of years before 1000.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


Instant = Annotated[datetime, BeforeValidator(parse_instant)]
