"""The data set's event as a typed model, built from its spec (``pipelines/data/spec.py``).

The function's environment names the data set (``DATASET``, set by the stack from the
profile); ``Event`` is the model of that data set, built once when the module loads.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    create_model,
    model_validator,
)

from pipelines.data import spec as specs

from .timestamps import Instant, format_instant

# The one type of every timestamp field: a real ISO-8601 instant inside the profile's window
# (timestamps.py), written back in the one spelling the ETL reads.
Timestamp = Annotated[Instant, PlainSerializer(format_instant, return_type=str)]


def _category(allowed: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(allowed)}")
        return value

    def normalize(value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    return Annotated[str, BeforeValidator(normalize), AfterValidator(check)]


_EARLIEST, _LATEST = date.fromisoformat(specs.EARLIEST_DATE), date.fromisoformat(specs.LATEST_DATE)


def _writable(value: date) -> date:
    # What the ETL can write to Parquet: an earlier date would fail its run every time.
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError(f"outside {specs.EARLIEST_DATE}..{specs.LATEST_DATE}")
    return value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _label(value: object) -> object:
    # 0/1 and true/false are the same label; anything else is wrong.
    if isinstance(value, bool):
        return int(value)
    return value


Optional = BeforeValidator(_blank_to_none)


def field_type(field: specs.Field) -> Any:
    """The pydantic type of one spec field (without its optionality)."""
    if field.kind == "id":
        return Annotated[str, Field(min_length=1, max_length=field.max_length, pattern=field.pattern)]
    if field.kind == "timestamp":
        return Timestamp
    if field.kind == "date":
        return Annotated[date, AfterValidator(_writable)]
    if field.kind in specs.NUMERIC_KINDS:
        lo, hi = field.domain or (None, None)
        number = int if field.kind == "integer" else float
        return Annotated[number, Field(ge=lo, le=hi)]
    if field.kind == "category":
        return _category(field.values)
    return Annotated[Literal[0, 1], BeforeValidator(_label)]


def _rules_validator(dataset: specs.DataSet) -> Any:
    def check(self: BaseModel) -> BaseModel:
        broken = [r.reason() for r in dataset.rules if not r.holds(getattr(self, r.left), getattr(self, r.right))]
        if broken:
            raise ValueError("; ".join(broken))
        return self

    return model_validator(mode="after")(check)


def event_model(dataset: specs.DataSet) -> type[BaseModel]:
    """A strict, frozen model of one record: required fields first, then optional ones (None when
    missing or blank), each in spec order; unknown fields and wrong types are errors."""
    fields: dict[str, Any] = {}
    for f in specs.required_fields(dataset):
        fields[f.name] = (field_type(f), ...)
    for f in specs.optional_fields(dataset):
        fields[f.name] = (Annotated[field_type(f) | None, Optional], None)
    return create_model(
        f"{''.join(part.title() for part in dataset.name.split('_'))}Event",
        __config__=ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True),
        __doc__=f"One record of the {dataset.name} data set. Unknown fields and wrong types are errors.",
        __validators__={"cross_field_rules": _rules_validator(dataset)} if dataset.rules else None,
        **fields,
    )


DATASET = specs.active()
Event = event_model(DATASET)
ChurnEvent = Event  # the name logic.py imports (kept while the transform is renamed)
