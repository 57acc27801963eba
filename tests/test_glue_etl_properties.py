"""The ETL's README promises as property tests, with inputs generated from the active data-set spec.

Spark costs seconds per run, so hypothesis only draws here: every example (a list of lines,
each tagged with what the spec says of it) is collected, then ONE Spark run curates all of
them together and every example is checked against what came out. Ids carry the example's
number, so examples never collide. A failure names the example's lines.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from pipelines.data import spec as specs
from pipelines.glue.curate import EARLIEST, LATEST, run_local

DS = specs.active()
VALID, INVALID, EITHER = "valid", "invalid", "either"
JSON_WS = " \t\r\n"

# --- values in the documented spellings, and values surely outside them -----------------------


@st.composite
def instants(draw) -> tuple[str, datetime]:
    """(spelling, UTC instant): any offset, Z or -00:00, 0 to 6 fraction digits."""
    utc = draw(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30)))
    digits = draw(st.integers(0, 6))
    utc = utc.replace(microsecond=utc.microsecond - utc.microsecond % 10 ** (6 - digits))
    offset = draw(st.one_of(st.none(), st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    local = utc + timedelta(minutes=offset or 0)
    text = f"{local.year:04d}-{local:%m-%dT%H:%M:%S}" + (f".{local.microsecond:06d}"[: digits + 1] if digits else "")
    if offset is None:
        zone = "Z"
    elif offset == 0:
        zone = draw(st.sampled_from(["+00:00", "-00:00"]))
    else:
        zone = f"{'+' if offset > 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return text + zone, utc.replace(tzinfo=UTC)


def valid_value(f: specs.Field) -> st.SearchStrategy:
    if f.kind == "id":
        return st.from_regex(r"[A-Za-z0-9_-]{0,20}", fullmatch=True)
    if f.kind == "timestamp":
        return instants().map(lambda pair: pair[0])
    if f.kind == "date":
        return st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(lambda d: f"{d.year:04d}-{d:%m-%d}")
    if f.kind == "integer":
        return st.integers(int(f.domain[0]), int(f.domain[1]))
    if f.kind == "double":
        return st.floats(f.domain[0], f.domain[1], allow_nan=False, allow_infinity=False)
    if f.kind == "category":
        return st.sampled_from(f.values)
    return st.sampled_from([0, 1, True, False])  # label


def _wrong_shape_instant(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([
        text.replace("T", " "), text.replace("Z", "z") if "Z" in text else text[:-6], text[:16] + text[19:],
        re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", text) if text[-6] in "+-" else text[:-1], "1" + text,
        text.replace("-", "/", 2), str(int(datetime.now(UTC).timestamp())),
    ])  # fmt: skip


def invalid_value(f: specs.Field) -> st.SearchStrategy:
    """A value the spec's spellings surely exclude for ``f`` (as a Python value or raw JSON text)."""
    nonblank = st.text(min_size=1, max_size=12).filter(lambda s: s.strip())
    junk = st.one_of(
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    )
    if f.kind == "id":
        wrong = nonblank.filter(lambda s: not re.fullmatch(f.pattern or specs.DEFAULT_ID_PATTERN, s))
        return st.one_of(st.integers(), wrong, st.just("x" * ((f.max_length or 64) + 1)), junk)
    if f.kind == "timestamp":
        outside = st.sampled_from(["1899-12-31T23:59:59Z", "9999-12-31T23:00:00-01:00", "0001-01-01T00:00:00Z"])
        return st.one_of(instants().flatmap(lambda p: _wrong_shape_instant(p[0])), outside, st.integers(), junk)
    if f.kind == "date":
        return st.one_of(
            st.dates(date(1, 1, 1), date(1899, 12, 31)).map(lambda d: f"{d.year:04d}-{d:%m-%d}"),
            st.dates().map(lambda d: f"{d:%d/%m/}{d.year:04d}"),
            st.sampled_from(["2025-02-29", "2026-13-01", "2026-1-5", "12026-01-01", "2026-01-01T00:00:00Z"]),
        )
    if f.numeric:
        lo, hi = f.domain
        outside = st.one_of(st.floats(max_value=lo, exclude_max=True), st.floats(min_value=hi, exclude_min=True))
        wrong = [outside.filter(lambda x: x == x), nonblank, st.booleans(), junk.map(json.dumps)]
        if f.kind == "integer":
            wrong.append(st.integers(int(lo), int(hi)).map(lambda n: _Raw(f"{n}.0" if n % 2 else f"{n}e0")))
        return st.one_of(*wrong)
    if f.kind == "category":
        return st.one_of(
            st.sampled_from(f.values).map(str.upper).filter(lambda v: v not in f.values),
            st.sampled_from(f.values).map(lambda v: f" {v}"),
            nonblank.filter(lambda s: s not in f.values),
        )
    return st.sampled_from(["1", "0", 2, -1, _Raw("1.0"), _Raw("0e0"), "true"])  # label


class _Raw(str):
    """Raw JSON text for a value (a number spelled in a way json.dumps never would)."""


def render(record: dict, spacing: tuple[str, str] = (", ", ": ")) -> str:
    parts = [f"{json.dumps(k)}{spacing[1]}{v if isinstance(v, _Raw) else json.dumps(v)}" for k, v in record.items()]
    return "{" + spacing[0].join(parts) + "}"


# --- one generated line, tagged with what the spec says of it ----------------------------------


def _holds(record: dict) -> bool:
    record = {k: v for k, v in record.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    return all(rule.holds(record.get(rule.left), record.get(rule.right)) for rule in DS.rules)


@st.composite
def tagged_line(draw, marker: str) -> tuple[str, str, dict]:
    record: dict = {}
    for f in DS.fields:
        if not f.required and draw(st.integers(0, 9)) == 0:
            missing = draw(st.sampled_from(["absent", None, "", "   "]))
            if missing != "absent":
                record[f.name] = missing
            continue
        record[f.name] = draw(valid_value(f))
    for name in DS.id_fields:
        record[name] = (marker + record[name])[: DS.field(name).max_length or 64]
    tag = VALID if _holds(record) else INVALID
    order = list(record)
    if draw(st.booleans()):
        order = draw(st.permutations(order))
    record = {k: record[k] for k in order}
    spacing = draw(st.sampled_from([(", ", ": "), (",", ":"), (" ,\t", "\t: "), ("\t,", " :  ")]))
    mutation = draw(
        st.sampled_from(["none"] * 6 + ["value", "trailing", "truncate", "key", "repeat", "escape", "wrap"])
    )
    if mutation == "value":
        f = draw(st.sampled_from([f for f in DS.fields if f.kind != "id"] or list(DS.fields)))
        record[f.name], tag = draw(invalid_value(f)), INVALID
    text = render(record, spacing)
    if mutation == "trailing":
        text += draw(st.sampled_from(["", " "])) + draw(st.text(min_size=1).filter(lambda s: s.strip(JSON_WS)))
    elif mutation == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif mutation == "key":
        name = draw(st.sampled_from(list(record)))
        odd = draw(st.sampled_from([f" {name}", f"{name} ", name.upper() if name.upper() != name else f"{name}_", ""]))
        text = text.replace(json.dumps(name), json.dumps(odd), 1)
    elif mutation == "repeat":
        name = draw(st.sampled_from(list(record)))
        text = text[:-1] + f", {json.dumps(name)}: {json.dumps(record[name])}}}"
    elif mutation == "escape":
        strings = [k for k, v in record.items() if isinstance(v, str) and v and not isinstance(v, _Raw)]
        if not strings:
            return text, tag, record
        name = draw(st.sampled_from(strings))
        value = record[name]
        text = text.replace(f"{json.dumps(name)}{spacing[1]}{json.dumps(value)}",
                            f"{json.dumps(name)}{spacing[1]}\"\\u{ord(value[0]):04x}{value[1:]}\"", 1)  # fmt: skip
    elif mutation == "wrap":
        text = f"[{text}]"
    if mutation != "none":
        tag = INVALID
    return text, tag, record


@st.composite
def example(draw) -> list[tuple[str, str, dict]]:
    """A small batch: tagged lines, maybe exact re-sends, maybe lines of arbitrary text."""
    lines = [draw(tagged_line(f"R{i}x")) for i in range(draw(st.integers(1, 8)))]
    if draw(st.integers(0, 4)) == 0:
        text, tag, record = draw(st.sampled_from(lines))
        lines.append((text, "duplicate" if tag == VALID else tag, record))
    if draw(st.integers(0, 4)) == 0:
        lines.append((draw(st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s)), EITHER, {}))
    return lines


def collect(strategy: st.SearchStrategy) -> list:
    """Every example hypothesis draws (the profile says how many), for one Spark run over all."""
    drawn: list = []

    @settings(deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(value) -> None:
        drawn.append(value)

    draw()
    return drawn


def _number(k: int, line: tuple[str, str, dict]) -> tuple[str, str, dict]:
    """Make line ids unique per example: R<i>x... becomes E<k>R<i>x..."""
    text, tag, record = line
    return text.replace('"R', f'"E{k}R'), tag, record


@pytest.fixture(scope="module")
def curated_examples(spark, tmp_path_factory):
    examples = [[_number(k, line) for line in lines] for k, lines in enumerate(collect(example()))]
    work = tmp_path_factory.mktemp("properties")
    lines = [text for lines in examples for text, _, _ in lines]
    # One line per input row: a line break inside a value would split the row in two.
    lines = [text for text in lines if not re.search(r"[\n\r]", text)]
    (work / "raw.jsonl").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    summary = run_local(str(work / "raw.jsonl"), str(work / "out"), spark=spark, ds=DS)
    curated = spark.read.parquet(str(work / "out" / "curated"))
    rejects = spark.read.schema("raw string, reason string, run_id string").json(str(work / "out" / "rejects"))
    return examples, lines, summary, curated, rejects


def _explain(examples: list, texts: set[str]) -> str:
    hits = [lines for lines in examples if any(text in texts for text, _, _ in lines)]
    return json.dumps(hits[:2], indent=1, default=str)[:4000]


@pytest.mark.property
def test_property_the_etl_never_loses_a_row(curated_examples) -> None:
    """Input rows = curated rows + rejected rows; every reject is an input with a reason;
    every curated value lies in its field's domain."""
    examples, lines, summary, curated, rejects = curated_examples
    rejected = rejects.collect()
    assert summary["input_rows"] == len(lines) == summary["curated_rows"] + summary["rejected_rows"]
    assert curated.count() == summary["curated_rows"] and len(rejected) == summary["rejected_rows"]
    extra = Counter(r["raw"] for r in rejected) - Counter(lines)
    assert not extra, f"rejects that were never input: {list(extra)[:5]}"
    unexplained = {r["raw"] for r in rejected if not r["reason"]}
    assert not unexplained, _explain(examples, unexplained)

    checks = []
    for f in DS.fields:
        column = F.col(f.name)
        if f.required or f.impute:
            checks.append((f"{f.name} is null", column.isNull()))
        if f.numeric:
            checks.append((f"{f.name} outside {f.domain}", (column < f.domain[0]) | (column > f.domain[1])))
        elif f.kind == "category":
            checks.append((f"{f.name} not a value", ~column.isin(*f.values)))
        elif f.kind == "label":
            checks.append((f"{f.name} not 0/1", ~column.isin(0, 1)))
        elif f.kind in ("date", "timestamp"):
            checks.append(
                (f"{f.name} outside the window", (F.to_date(column) < EARLIEST) | (F.to_date(column) > LATEST))
            )
    flags = [c for c in curated.columns if c.endswith(("_was_missing", "_capped"))] + list(specs.one_hot_columns(DS))
    checks += [(f"{c} not 0/1", ~F.col(c).isin(0, 1)) for c in flags]
    bad = curated.select(*(F.sum(condition.cast("int")).alias(name) for name, condition in checks)).first().asDict()
    assert {k: v for k, v in bad.items() if v} == {}
    keys = list(specs.dedup_keys(DS))
    assert curated.select(*keys).distinct().count() == curated.count()


@pytest.mark.property
def test_property_documented_spellings_are_curated_and_nothing_else_is(curated_examples) -> None:
    """A line in the documented spellings is curated (its instant in UTC, whatever its offset),
    unless it re-sends a record or cannot be imputed; any other line is rejected."""
    examples, lines, _summary, curated, rejects = curated_examples
    reasons: dict[str, list[str]] = {}
    for r in rejects.collect():
        reasons.setdefault(r["raw"], []).append(r["reason"])
    sent = Counter(lines)
    id_field = DS.id_fields[0]
    time = DS.time_field
    columns = [id_field] + ([F.date_format(time, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS").alias(time)] if time else [])
    kept = {r[id_field]: r for r in curated.select(*columns).collect()}
    wrongly_rejected, wrongly_kept, wrong_instant = set(), set(), set()
    for lines_k in examples:
        for text, tag, record in lines_k:
            if text not in sent:
                continue  # held a line break: not one row
            why = reasons.get(text, [])
            if tag == VALID:
                if any(not re.search(r"duplicate|impute|after imputation", w) for w in why):
                    wrongly_rejected.add(text)
                elif not why and time:
                    uid = json.loads(text)[id_field]
                    expected = datetime.fromisoformat(record[time].replace("Z", "+00:00")).astimezone(UTC)
                    if kept[uid][time] != f"{expected:%Y-%m-%dT%H:%M:%S}.{expected.microsecond:06d}":
                        wrong_instant.add(text)
            elif tag == INVALID and len(why) != sent[text]:
                wrongly_kept.add(text)
    assert not wrongly_rejected, _explain(examples, wrongly_rejected) + str([reasons[t] for t in wrongly_rejected][:3])
    assert not wrongly_kept, _explain(examples, wrongly_kept)
    assert not wrong_instant, _explain(examples, wrong_instant)
