"""The churn event as a typed model; allowed values come from the shared schema."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_serializer

from pipelines.data.schema import CONTRACTS, INTERNET_SERVICES, NUMERIC_DOMAIN, PAYMENT_METHODS, REGIONS

from .timestamps import Instant, format_instant


def _category(allowed: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(allowed)}")
        return value

    def normalize(value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    return Annotated[str, BeforeValidator(normalize), AfterValidator(check)]


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _bounded(name: str, kind: type):
    lo, hi = NUMERIC_DOMAIN[name]
    return Annotated[kind, Field(ge=lo, le=hi)]


def _label(value: object) -> object:
    # 0/1 and true/false are the same label; anything else is wrong.
    if isinstance(value, bool):
        return int(value)
    return value


Contract = _category(CONTRACTS)
Optional = BeforeValidator(_blank_to_none)


class ChurnEvent(BaseModel):
    """One customer snapshot. Unknown fields and wrong types are errors (strict mode)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)

    customer_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    event_time: Instant
    signup_date: date
    tenure_months: _bounded("tenure_months", int)
    monthly_charges: _bounded("monthly_charges", float)
    contract: Contract
    churned: Annotated[Literal[0, 1], BeforeValidator(_label)]
    age: Annotated[_bounded("age", int) | None, Optional] = None
    total_charges: Annotated[_bounded("total_charges", float) | None, Optional] = None
    support_calls: Annotated[_bounded("support_calls", int) | None, Optional] = None
    data_usage_gb: Annotated[_bounded("data_usage_gb", float) | None, Optional] = None
    payment_method: Annotated[_category(PAYMENT_METHODS) | None, Optional] = None
    internet_service: Annotated[_category(INTERNET_SERVICES) | None, Optional] = None
    region: Annotated[_category(REGIONS) | None, Optional] = None

    @field_serializer("event_time")
    def _utc(self, value: datetime) -> str:
        return format_instant(value)
