"""The data-set spec: one JSON file per data set, the one source of truth for every consumer.

A spec (``pipelines/data/datasets/<name>.json``) says what one record of the data set holds
and how the curated table is made from it: the id and time fields, every field with its kind
(``id``, ``timestamp``, ``date``, ``integer``, ``double``, ``category``, ``label``), numeric
domains, category values, required or optional, imputation, capping, scaling, PII flags,
engineered features and derived imputation as Spark SQL expressions, the partition keys,
cross-field rules and an optional generator hook. ``load(name)`` validates it (a bad spec
fails with every problem listed, never half-loaded); the functions below derive what the
consumers need: the Firehose model, the ETL, the Glue table, the quality rules, Lake
Formation grants, the model's features and the generator.

Which data set: ``active()`` loads the one named by the environment variable ``DATASET``
(default ``churn``). The CDK app picks it from the profile (``dataset``) or ``-c dataset=NAME``.

Where it runs, and how the JSON is found there: the spec is read with ``pkgutil.get_data``
relative to this module, never with a file path, so it loads the same from a folder or a zip:

- in the repo and the SageMaker code bundle, as ``pipelines.data.spec`` beside ``datasets/``;
- in the Lambda layer, as ``pipelines.data.spec`` (``make`` copies ``datasets/*.json`` beside
  it); the function's environment names the data set (``DATASET``);
- on AWS Glue, from the zip given as ``--extra-py-files``, which holds ``spec.py`` and
  ``datasets/*.json`` at its root: the job imports it as ``spec`` there and loads the data
  set named by its ``--dataset`` job argument (``spec.load(args["dataset"])``).

Column order of the curated table (``curated_columns``): ids, time field, dates, numeric
fields, categories, label, then ``<f>_was_missing`` for imputed fields (median, mean,
derived, mode, each in field order), ``<f>_capped``, the engineered date parts, then the
engineered ratios, the one-hot columns, ``<f>_z`` for scaled fields and ``run_id``; partition
keys come after, as partition columns. The model's features (``features``) are the numeric
fields, the engineered ratios, the engineered date parts, then the indicators (missing
flags, capped flags, one-hot columns): the order the churn model and its monitoring
baselines were built with.
"""

from __future__ import annotations

import json
import os
import pkgutil
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

DEFAULT = "churn"
KINDS = ("id", "timestamp", "date", "integer", "double", "category", "label")
NUMERIC_KINDS = ("integer", "double")
# Dates and instants every consumer accepts: Spark 3.5 writes nothing earlier to Parquet (see curate.py).
EARLIEST_DATE, LATEST_DATE = "1900-01-01", "9999-12-31"
# Imputation strategies, in the order the ETL applies them (a derived value may use the others).
IMPUTATIONS = ("median", "mean", "derived", "mode")
FAMILIES = ("date_part", "ratio")
FEATURE_TYPES = ("integer", "double")
PARTITION_TYPES = ("integer", "string")
OPERATORS = ("<", "<=", ">", ">=", "=", "!=")
HIVE_TYPES = {
    "id": "string",
    "timestamp": "timestamp",
    "date": "date",
    "integer": "int",
    "double": "double",
    "category": "string",
    "label": "int",
    "string": "string",
}
RUN_ID = "run_id"
DEFAULT_ID_PATTERN = r"^[A-Za-z0-9_-]+$"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HOOK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
# Words an expression may use that are not columns (Spark SQL keywords and type names).
_SQL_WORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "null",
        "is",
        "in",
        "between",
        "case",
        "when",
        "then",
        "else",
        "end",
        "cast",
        "as",
        "int",
        "integer",
        "bigint",
        "double",
        "float",
        "string",
        "date",
        "timestamp",
        "true",
        "false",
        "like",
        "rlike",
        "interval",
        "decimal",
    ]
)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_IDENTIFIER = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")


class SpecError(ValueError):
    """A data-set spec that cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class Field:
    """One field of a raw record.

    ``domain`` (numeric kinds): the inclusive range a valid value lies in; outside it the
    record is rejected. ``typical``: where most values lie (the generator draws there;
    default: the domain). ``impute``: how a missing optional value is filled (``median``,
    ``mean`` for numbers, ``mode`` for categories, ``derived`` from ``impute_expression``, a
    Spark SQL expression over other fields). ``cap``: capped at the Tukey fences.
    ``scale``: a z-scored copy ``<name>_z`` in the curated table.
    """

    name: str
    kind: str
    required: bool = False
    description: str = ""
    domain: tuple[float, float] | None = None
    typical: tuple[float, float] | None = None
    values: tuple[str, ...] = ()
    impute: str | None = None
    impute_expression: str | None = None
    cap: bool = False
    scale: bool = False
    pii: bool = False
    pattern: str | None = None
    max_length: int | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def hive_type(self) -> str:
        return HIVE_TYPES[self.kind]


@dataclass(frozen=True)
class Engineered:
    """A curated column computed by the ETL: a Spark SQL ``expression`` over the imputed,
    capped fields (before scaling), of ``type`` ``integer`` or ``double``; ``family`` is
    ``date_part`` or ``ratio`` (it places the column, see the module docstring)."""

    name: str
    family: str
    type: str
    expression: str
    description: str = ""

    @property
    def hive_type(self) -> str:
        return HIVE_TYPES[self.type]


@dataclass(frozen=True)
class PartitionKey:
    """A partition column of the curated table: a Spark SQL ``expression`` (``year(event_time)``,
    or ``year(current_date())`` for the ingest date when the data set has no time field)."""

    name: str
    type: str
    expression: str

    @property
    def hive_type(self) -> str:
        return HIVE_TYPES[self.type]


_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _comparable(value: object) -> object:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Rule:
    """A cross-field rule every valid record keeps: ``left op right`` (two fields of comparable
    kinds: both numeric, or both dates/timestamps, a date taken as its midnight UTC)."""

    name: str
    left: str
    op: str
    right: str
    message: str = ""

    @property
    def expression(self) -> str:
        """The rule as a Spark SQL condition (true when the record keeps it)."""
        return f"{self.left} {self.op} {self.right}"

    def reason(self) -> str:
        return self.message or f"{self.left} must be {self.op} {self.right}"

    def holds(self, left: object, right: object) -> bool:
        """Whether two values keep the rule; a missing side keeps it (completeness is checked apart).

        Dates and ISO strings compare as instants (a date at midnight UTC, a naive time as UTC).
        """
        a, b = _comparable(left), _comparable(right)
        if a is None or b is None:
            return True
        try:
            return bool(_COMPARE[self.op](a, b))
        except TypeError:
            return False


@dataclass(frozen=True)
class DataSet:
    """A validated data-set spec. Build it with ``load`` or ``parse``, never by hand."""

    name: str
    description: str
    id_fields: tuple[str, ...]
    time_field: str | None
    label: str
    fields: tuple[Field, ...]
    engineered: tuple[Engineered, ...] = ()
    partition_keys: tuple[PartitionKey, ...] = ()
    rules: tuple[Rule, ...] = ()
    generator: str | None = None
    positive_rate: float | None = None
    _by_name: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name}: no field {name!r}") from None

    def of_kind(self, *kinds: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind in kinds)


# --- loading and validation ---------------------------------------------------------------------


def known() -> tuple[str, ...]:
    """Names of the data sets shipped beside this module."""
    names: set[str] = set()
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, "datasets")
    if os.path.isdir(folder):
        names = {n.removesuffix(".json") for n in os.listdir(folder) if n.endswith(".json")}
    else:  # inside a zip (Glue): ask the loader which files it holds
        loader = getattr(globals().get("__loader__"), "_files", None)
        if isinstance(loader, dict):
            for path in loader:
                parts = path.replace("\\", "/").split("/")
                if len(parts) >= 2 and parts[-2] == "datasets" and parts[-1].endswith(".json"):
                    names.add(parts[-1].removesuffix(".json"))
    return tuple(sorted(names))


def load(name: str) -> DataSet:
    """The validated spec named ``name`` (``datasets/<name>.json`` beside this module)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"data set name {name!r} is not a lower-case identifier; known: {', '.join(known())}")
    try:
        raw = pkgutil.get_data(__name__, f"datasets/{name}.json")
    except (FileNotFoundError, OSError):
        raw = None
    if raw is None:
        raise SpecError(f"unknown data set {name!r}; known: {', '.join(known()) or 'none'}")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SpecError(f"datasets/{name}.json is not valid JSON: {error}") from None
    spec = parse(document)
    if spec.name != name:
        raise SpecError(f"datasets/{name}.json names itself {spec.name!r}: the file name and 'name' must match")
    return spec


def active() -> DataSet:
    """The data set named by the environment variable ``DATASET`` (default ``churn``)."""
    return load(os.environ.get("DATASET") or DEFAULT)


def _referenced(expression: str) -> set[str]:
    """Column names an expression uses: identifiers that are not function calls or SQL words."""
    text = _STRING_LITERAL.sub("''", expression)
    return {
        m.group(1)
        for m in _IDENTIFIER.finditer(text)
        if not m.group(2) and m.group(1).lower() not in _SQL_WORDS and not m.group(1)[0].isdigit()
    }


def _range(value: object, where: str, problems: list[str]) -> tuple[float, float] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok:
        problems.append(f"{where}: must be [low, high], two numbers")
        return None
    lo, hi = value[0], value[1]
    if lo > hi:
        problems.append(f"{where}: low {lo} is above high {hi}")
        return None
    return (lo, hi)


_FIELD_KEYS = {
    "name", "kind", "required", "description", "domain", "typical", "values", "impute", "impute_expression",
    "cap", "scale", "pii", "pattern", "max_length",
}  # fmt: skip
_TOP_KEYS = {
    "name", "description", "id_fields", "time_field", "label", "fields", "engineered", "partition_keys",
    "rules", "generator", "positive_rate",
}  # fmt: skip


def _field(raw: object, where: str, problems: list[str]) -> Field | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}: name {name!r} must be a lower-case identifier ([a-z][a-z0-9_]*)")
        return None
    where = f"field {name!r}"
    if name in _SQL_WORDS or name.startswith("model_"):
        problems.append(f"{where}: the name is a Spark SQL word or starts with model_ (pydantic's); rename it")
    for key in sorted(set(raw) - _FIELD_KEYS):
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(_FIELD_KEYS))})")
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        return None
    flags = {k: raw.get(k, False) for k in ("required", "cap", "scale", "pii")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            problems.append(f"{where}: {key} must be true or false")
    numeric = kind in NUMERIC_KINDS
    domain = _range(raw.get("domain"), f"{where}: domain", problems)
    typical = _range(raw.get("typical"), f"{where}: typical", problems)
    if numeric and domain is None and "domain" not in raw:
        problems.append(f"{where}: a {kind} field needs a domain [low, high]")
    if not numeric and ("domain" in raw or "typical" in raw):
        problems.append(f"{where}: only integer and double fields have a domain or typical range")
    if domain and typical and not (domain[0] <= typical[0] and typical[1] <= domain[1]):
        problems.append(f"{where}: typical {list(typical)} lies outside the domain {list(domain)}")
    values = raw.get("values", [])
    if kind == "category":
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            problems.append(f"{where}: a category needs values, a non-empty list of non-empty strings")
            values = []
        elif any(v != v.strip().lower() for v in values):
            problems.append(f"{where}: category values must be lower-case without surrounding blanks")
        elif len(set(values)) != len(values):
            problems.append(f"{where}: category values repeat")
    elif "values" in raw:
        problems.append(f"{where}: only category fields have values")
        values = []
    impute, expression = raw.get("impute"), raw.get("impute_expression")
    if impute is not None:
        if impute not in IMPUTATIONS:
            problems.append(f"{where}: impute {impute!r} is not one of {', '.join(IMPUTATIONS)}")
        elif flags["required"] is True:
            problems.append(f"{where}: a required field is never missing, so it is not imputed")
        elif impute in ("median", "mean", "derived") and not numeric:
            problems.append(f"{where}: impute {impute!r} needs an integer or double field")
        elif impute == "mode" and kind != "category":
            problems.append(f"{where}: impute 'mode' is for category fields")
    if impute == "derived":
        if not isinstance(expression, str) or not expression.strip():
            problems.append(f"{where}: impute 'derived' needs impute_expression (Spark SQL)")
    elif expression is not None:
        problems.append(f"{where}: impute_expression is only for impute 'derived'")
    if (flags["cap"] or flags["scale"]) and not numeric:
        problems.append(f"{where}: only integer and double fields are capped or scaled")
    if kind in ("id", "timestamp", "label") and flags["required"] is not True:
        problems.append(f"{where}: a field of kind {kind} must be required")
    pattern, max_length = raw.get("pattern"), raw.get("max_length")
    if kind != "id" and (pattern is not None or max_length is not None):
        problems.append(f"{where}: only id fields have a pattern or max_length")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as error:
            problems.append(f"{where}: pattern is not a regular expression ({error})")
    if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1):
        problems.append(f"{where}: max_length must be a positive integer")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}: description must be a string")
        description = ""
    return Field(
        name=name,
        kind=kind,
        required=flags["required"] is True,
        description=description,
        domain=domain,
        typical=typical,
        values=tuple(values) if kind == "category" else (),
        impute=impute if impute in IMPUTATIONS else None,
        impute_expression=expression if impute == "derived" and isinstance(expression, str) else None,
        cap=flags["cap"] is True,
        scale=flags["scale"] is True,
        pii=flags["pii"] is True,
        pattern=(pattern or DEFAULT_ID_PATTERN) if kind == "id" else None,
        max_length=(max_length or 64) if kind == "id" else None,
    )


def _objects(document: dict, key: str, required: tuple[str, ...], problems: list[str]) -> list[dict]:
    items = document.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{key}: must be a list")
        return []
    good = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{key}[{i}]: must be an object")
            continue
        missing = [k for k in required if not isinstance(item.get(k), str) or not item.get(k)]
        if missing:
            problems.append(f"{key}[{i}]: needs {', '.join(missing)} (strings)")
            continue
        good.append(item)
    return good


def parse(document: object) -> DataSet:
    """Validate a spec document (the parsed JSON); raise ``SpecError`` listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise SpecError("a data-set spec must be a JSON object")
    for key in sorted(set(document) - _TOP_KEYS):
        problems.append(f"unknown key {key!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    name = document.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"name {name!r} must be a lower-case identifier ([a-z][a-z0-9_]*)")
        name = "?"
    raw_fields = document.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append("fields: must be a non-empty list")
        raw_fields = []
    fields = [f for i, raw in enumerate(raw_fields) if (f := _field(raw, f"fields[{i}]", problems))]
    by_name: dict[str, Field] = {}
    for f in fields:
        if f.name in by_name:
            problems.append(f"field {f.name!r} is declared twice")
        by_name[f.name] = f

    ids = document.get("id_fields")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        problems.append("id_fields: must be a non-empty list of field names")
        ids = []
    for i in ids:
        if i not in by_name:
            problems.append(f"id_fields: {i!r} is not a field")
        elif by_name[i].kind != "id":
            problems.append(f"id_fields: {i!r} must be of kind id, not {by_name[i].kind}")
    for f in fields:
        if f.kind == "id" and f.name not in ids:
            problems.append(f"field {f.name!r} is of kind id but not in id_fields")
    time_field = document.get("time_field")
    timestamps = [f.name for f in fields if f.kind == "timestamp"]
    if time_field is not None:
        if time_field not in by_name:
            problems.append(f"time_field: {time_field!r} is not a field")
        elif by_name[time_field].kind != "timestamp":
            problems.append(f"time_field: {time_field!r} must be of kind timestamp")
    if len(timestamps) > 1 or (timestamps and time_field != timestamps[0]):
        problems.append(f"the one timestamp field is the time_field; found timestamps {timestamps}")
    label = document.get("label")
    labels = [f.name for f in fields if f.kind == "label"]
    if labels != [label]:
        problems.append(f"label: exactly one field of kind label, named by 'label'; found {labels}, label {label!r}")

    columns = set(by_name)
    raw_engineered = _objects(document, "engineered", ("name", "family", "type", "expression"), problems)
    engineered = []
    for raw in raw_engineered:
        where = f"engineered {raw['name']!r}"
        for key in sorted(set(raw) - {"name", "family", "type", "expression", "description"}):
            problems.append(f"{where}: unknown key {key!r}")
        if not _NAME.match(raw["name"]):
            problems.append(f"{where}: name must be a lower-case identifier")
        if raw["family"] not in FAMILIES:
            problems.append(f"{where}: family {raw['family']!r} is not one of {', '.join(FAMILIES)}")
        if raw["type"] not in FEATURE_TYPES:
            problems.append(f"{where}: type {raw['type']!r} is not one of {', '.join(FEATURE_TYPES)}")
        unknown = _referenced(raw["expression"]) - columns
        if unknown:
            problems.append(f"{where}: expression uses {sorted(unknown)}, not fields or earlier engineered columns")
        engineered.append(
            Engineered(raw["name"], raw["family"], raw["type"], raw["expression"], raw.get("description", ""))
        )
        columns.add(raw["name"])
    for f in fields:
        if f.impute_expression:
            unknown = _referenced(f.impute_expression) - set(by_name)
            if unknown:
                problems.append(f"field {f.name!r}: impute_expression uses {sorted(unknown)}, which are not fields")
            if f.name in _referenced(f.impute_expression):
                problems.append(f"field {f.name!r}: impute_expression cannot use the field it fills")

    partitions = []
    for raw in _objects(document, "partition_keys", ("name", "type", "expression"), problems):
        where = f"partition key {raw['name']!r}"
        if not _NAME.match(raw["name"]):
            problems.append(f"{where}: name must be a lower-case identifier")
        if raw["type"] not in PARTITION_TYPES:
            problems.append(f"{where}: type {raw['type']!r} is not one of {', '.join(PARTITION_TYPES)}")
        unknown = _referenced(raw["expression"]) - set(by_name)
        if unknown:
            problems.append(f"{where}: expression uses {sorted(unknown)}, which are not fields")
        partitions.append(PartitionKey(raw["name"], raw["type"], raw["expression"]))
    if not partitions:
        problems.append("partition_keys: at least one (the ingest date's year and month when there is no time field)")

    rules = []
    for raw in _objects(document, "rules", ("name", "left", "op", "right"), problems):
        where = f"rule {raw['name']!r}"
        sides = [by_name.get(raw["left"]), by_name.get(raw["right"])]
        if None in sides:
            problems.append(f"{where}: compares {raw['left']!r} and {raw['right']!r}; both must be fields")
        elif not (all(s.numeric for s in sides) or all(s.kind in ("date", "timestamp") for s in sides)):
            problems.append(f"{where}: compares a {sides[0].kind} with a {sides[1].kind}")
        if raw["op"] not in OPERATORS:
            problems.append(f"{where}: op {raw['op']!r} is not one of {' '.join(OPERATORS)}")
        rules.append(Rule(raw["name"], raw["left"], raw["op"], raw["right"], raw.get("message", "")))

    generator = document.get("generator")
    if generator is not None and (not isinstance(generator, str) or not _HOOK.match(generator)):
        problems.append(f"generator {generator!r} must name a function as 'package.module:function'")
    positive_rate = document.get("positive_rate")
    if positive_rate is not None and (
        not isinstance(positive_rate, int | float) or isinstance(positive_rate, bool) or not 0 < positive_rate < 1
    ):
        problems.append("positive_rate: a number between 0 and 1 (the generator's share of label 1)")
    description = document.get("description", "")

    spec = DataSet(
        name=name,
        description=description if isinstance(description, str) else "",
        id_fields=tuple(ids),
        time_field=time_field,
        label=label if isinstance(label, str) else "",
        fields=tuple(fields),
        engineered=tuple(engineered),
        partition_keys=tuple(partitions),
        rules=tuple(rules),
        generator=generator,
        positive_rate=positive_rate,
        _by_name=by_name,
    )
    if not problems:
        names = [n for n, _ in curated_columns(spec)] + [p.name for p in partitions]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            problems.append(f"curated columns would repeat: {repeated} (rename a field, value or engineered column)")
    if problems:
        raise SpecError(f"data set {name!r} is not valid:\n- " + "\n- ".join(problems))
    return spec


# --- derived views ------------------------------------------------------------------------------


def one_hot_column(name: str, value: str) -> str:
    """The curated indicator column of one category value (``contract_one_year``)."""
    return f"{name}_{re.sub(r'[^a-z0-9_]', '_', value.lower())}"


def numeric_fields(spec: DataSet) -> tuple[Field, ...]:
    return spec.of_kind(*NUMERIC_KINDS)


def category_fields(spec: DataSet) -> tuple[Field, ...]:
    return spec.of_kind("category")


def required_fields(spec: DataSet) -> tuple[Field, ...]:
    return tuple(f for f in spec.fields if f.required)


def optional_fields(spec: DataSet) -> tuple[Field, ...]:
    return tuple(f for f in spec.fields if not f.required)


def imputed(spec: DataSet, strategy: str | None = None) -> tuple[Field, ...]:
    """Imputed fields in the order the ETL fills them (median, mean, derived, mode), or of one strategy."""
    order = (strategy,) if strategy else IMPUTATIONS
    return tuple(f for s in order for f in spec.fields if f.impute == s)


def capped(spec: DataSet) -> tuple[Field, ...]:
    return tuple(f for f in spec.fields if f.cap)


def scaled(spec: DataSet) -> tuple[Field, ...]:
    return tuple(f for f in spec.fields if f.scale)


def engineered(spec: DataSet, family: str | None = None) -> tuple[Engineered, ...]:
    return tuple(e for e in spec.engineered if family is None or e.family == family)


def one_hot_columns(spec: DataSet) -> tuple[str, ...]:
    return tuple(one_hot_column(f.name, v) for f in category_fields(spec) for v in f.values)


def dedup_keys(spec: DataSet) -> tuple[str, ...]:
    """What identifies one record: a second record with the same values is a duplicate."""
    return (*spec.id_fields, *((spec.time_field,) if spec.time_field else ()))


def pii_columns(spec: DataSet) -> tuple[str, ...]:
    """Curated columns analysts never see (excluded from their Lake Formation grant)."""
    return tuple(f.name for f in spec.fields if f.pii)


def partition_keys(spec: DataSet) -> list[tuple[str, str]]:
    """(name, Hive type) of the curated table's partition columns."""
    return [(p.name, p.hive_type) for p in spec.partition_keys]


def curated_table(spec: DataSet) -> str:
    """The curated Glue table's name (``churn_features``)."""
    return f"{spec.name}_features"


def curated_columns(spec: DataSet) -> list[tuple[str, str]]:
    """(name, Hive type) of every non-partition column of the curated table, in order."""
    return [
        *[(f.name, f.hive_type) for f in spec.of_kind("id")],
        *[(f.name, f.hive_type) for f in spec.of_kind("timestamp")],
        *[(f.name, f.hive_type) for f in spec.of_kind("date")],
        *[(f.name, f.hive_type) for f in numeric_fields(spec)],
        *[(f.name, f.hive_type) for f in category_fields(spec)],
        *[(f.name, f.hive_type) for f in spec.of_kind("label")],
        *[(f"{f.name}_was_missing", "int") for f in imputed(spec)],
        *[(f"{f.name}_capped", "int") for f in capped(spec)],
        *[(e.name, e.hive_type) for e in engineered(spec, "date_part")],
        *[(e.name, e.hive_type) for e in engineered(spec, "ratio")],
        *[(c, "int") for c in one_hot_columns(spec)],
        *[(f"{f.name}_z", "double") for f in scaled(spec)],
        (RUN_ID, "string"),
    ]


def numeric_features(spec: DataSet) -> tuple[str, ...]:
    """The model's numeric inputs: numeric fields, engineered ratios, engineered date parts."""
    return (
        *(f.name for f in numeric_fields(spec)),
        *(e.name for e in engineered(spec, "ratio")),
        *(e.name for e in engineered(spec, "date_part")),
    )


def indicator_features(spec: DataSet) -> tuple[str, ...]:
    """The model's 0/1 inputs: missing flags, capped flags, one-hot columns."""
    return (
        *(f"{f.name}_was_missing" for f in imputed(spec)),
        *(f"{f.name}_capped" for f in capped(spec)),
        *one_hot_columns(spec),
    )


def features(spec: DataSet) -> tuple[str, ...]:
    """Every curated column the model takes, in the order of its feature matrix."""
    return (*numeric_features(spec), *indicator_features(spec))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def dq_rules(spec: DataSet) -> str:
    """Glue Data Quality rules (DQDL) on the curated table: the ETL evaluates them on every run and
    the stack registers them as the table's ruleset.

    Every id, the time field and the label are complete, the label is 0/1, every required or
    imputed field is complete, numbers lie in their domain (DQDL ``between`` is exclusive, so the
    bounds widen by one for integers), categories take their values, and records are unique.
    """
    rules = ["RowCount > 0"]
    rules += [f'IsComplete "{n}"' for n in (*spec.id_fields, *([spec.time_field] if spec.time_field else []))]
    rules += [f'IsComplete "{spec.label}"', f'ColumnValues "{spec.label}" in [0, 1]']
    complete = [f for f in spec.fields if (f.required or f.impute) and f.kind not in ("id", "timestamp", "label")]
    rules += [f'IsComplete "{f.name}"' for f in complete]
    for f in numeric_fields(spec):
        lo, hi = f.domain or (0, 0)
        if f.kind == "integer":
            rules.append(f'ColumnValues "{f.name}" between {_number(lo - 1)} and {_number(hi + 1)}')
        else:
            rules += [f'ColumnValues "{f.name}" >= {_number(lo)}', f'ColumnValues "{f.name}" <= {_number(hi)}']
    for f in category_fields(spec):
        rules.append(f'ColumnValues "{f.name}" in [{", ".join(json.dumps(v) for v in f.values)}]')
    rules.append("Uniqueness " + " ".join(f'"{n}"' for n in dedup_keys(spec)) + " > 0.99")
    return "Rules = [\n    " + ",\n    ".join(rules) + "\n]"
