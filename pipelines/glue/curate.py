"""Raw -> curated ETL for the data set the spec describes, in plain PySpark.

The same ``transform`` runs on AWS Glue 5 (Spark 3.5, via ``glue_main``) and on
this machine (``python -m pipelines.glue.curate``), so the logic is tested here on
generated data. Nothing below names a field: columns, domains, categories,
imputation, capping, scaling, engineered features, rules, quality rules and
partitions all come from the data-set spec (``pipelines/data/spec.py``).

Every input line ends in exactly one of two places:

- curated: valid, de-duplicated rows, missing values imputed (with
  ``*_was_missing`` flags), outliers capped, features engineered, partitioned
  as the spec says;
- rejects: the original line and the reason.

What a valid line is (the documented spellings; anything else is rejected with
its reason, never raised on):

- exactly one flat JSON object (RFC 8259) and nothing else on the line; keys are
  the spec's field names, each at most once; values are JSON scalars, strings
  without escape sequences;
- id: a string matching the field's pattern, at most ``max_length`` characters;
- integer: a JSON number of digits only; double: any JSON number (``1e-05`` is
  how Python writes a small float); a quoted number is not a number;
- timestamp: ``yyyy-MM-ddTHH:mm:ss[.ffffff]`` then ``Z`` or an offset ``+hh:mm``
  / ``-hh:mm`` (``-00:00`` is UTC); date: ``yyyy-MM-dd``; both real calendar
  values between 1900-01-01 and 9999-12-31 (UTC), because Parquet writers
  refuse or silently rebase older ones;
- category: exactly one of the spec's values; label: ``0``, ``1``, ``true``, ``false``;
- optional fields: ``null``, absent or a blank string mean missing;
- the spec's cross-field rules hold (on the values as given, and again after
  imputation).

A batch with no valid row writes its rejects and an empty curated output. A
missing value is imputed only from what the batch holds and only inside its
field's domain; where that is impossible the row is rejected with the reason.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

try:  # in the repo
    from pipelines.data import spec as specs
except ImportError:  # on Glue, spec.py and datasets/ ship as --extra-py-files
    import spec as specs

DataSet = specs.DataSet

LINE = "value"
LINE_ID = "_line_id"
REASON = "_reason"
# The window every date and instant must lie in (UTC).
EARLIEST, LATEST = specs.EARLIEST_DATE, specs.LATEST_DATE
_EARLIEST_MICROS = -2_208_988_800 * 1_000_000
_END_MICROS = 253_402_300_800 * 1_000_000  # 10000-01-01T00:00:00Z

# The line's grammar as Java regular expressions. Possessive quantifiers and bounded
# repetition keep the matcher linear and its recursion shallow whatever the line holds.
_WS = r"[ \t\r\n]*+"
_STRING = r'"[^"\\\x00-\x1f]*+"'
_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
_VALUE = rf"(?:{_STRING}|{_NUMBER}|true|false|null)"
_PAIR = rf"{_STRING}{_WS}:{_WS}{_VALUE}{_WS}"
_KEY = rf'[{{,]{_WS}"([^"]*)"{_WS}:'
_JSON_NUMBER = rf"\A{_NUMBER}\z"
_DIGITS = r"\A-?(?:0|[1-9][0-9]*)\z"
_INSTANT = (
    r"\A([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(Z|([+-])((?:[01][0-9]|2[0-3])):([0-5][0-9]))\z"
)
_DATE = r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\z"
_BLANK = r"\A\s*\z"
# Java's ``$`` also matches before these; an id must not end in one.
_LINE_BREAKS = r"[\n\r\x{85}\x{2028}\x{2029}]"
_MAX_REASON = 300


@dataclass
class EtlResult:
    curated: DataFrame
    rejects: DataFrame
    stats: dict = field(default_factory=dict)


def dataset(name: str | None = None) -> DataSet:
    """The spec the job curates: ``name``, else env ``DATASET``, else the default."""
    return specs.load(name) if name else specs.active()


def spark_session(app_name: str = "curate", cores: int = 2) -> SparkSession:
    """A local session sized for this machine (the Glue job gets Glue's own)."""
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


# --- parsing: tokens, typed values and reasons, all as Spark expressions ----------------------


def _object_pattern(ds: DataSet) -> str:
    # Room for every field twice and a few unknown keys: enough to name what is wrong.
    extra = 2 * len(ds.fields) + 8
    return rf"\A{_WS}\{{{_WS}(?:{_PAIR}(?:,{_WS}{_PAIR}){{0,{extra}}}+)?+\}}{_WS}\z"


def _token_pattern(name: str) -> str:
    return rf'[{{,]{_WS}"{name}"{_WS}:{_WS}("[^"]*+"|[^ \t\r\n,}}]++)'


def _tokens(lines: DataFrame, ds: DataSet) -> DataFrame:
    """The raw text of every field's value (``_t_<name>``, "" when absent), once the line is
    known to be one flat JSON object; the object's keys in ``_keys``."""
    line = F.coalesce(F.col(LINE), F.lit(""))
    is_object = line.rlike(_object_pattern(ds))
    cols = [
        F.col(LINE_ID),
        F.col(LINE),
        is_object.alias("_object"),
        F.when(is_object, F.regexp_extract_all(line, F.lit(_KEY), F.lit(1))).alias("_keys"),
    ]
    cols += [
        F.when(is_object, F.regexp_extract(line, _token_pattern(f.name), 1)).alias(f"_t_{f.name}") for f in ds.fields
    ]
    return lines.select(*cols)


def _outside(value: Column, lo: float, hi: float) -> Column:
    return (value < F.lit(lo)) | (value > F.lit(hi))


def _field(f: specs.Field) -> tuple[Column, list[Column]]:
    """(typed value, reasons) of one field from its token; the value is null when missing or wrong."""
    t = F.col(f"_t_{f.name}")
    is_string = t.startswith('"')
    content = F.when(is_string, t.substr(F.lit(2), F.length(t) - 2))
    absent = t.isNull() | (t == "") | (t == "null") | (is_string & content.rlike(_BLANK))
    present = ~absent
    reasons = [F.when(absent, F.lit(f"missing required field {f.name}"))] if f.required else []

    def wrong(condition: Column, text: str) -> Column:
        return F.when(present & condition, F.lit(f"{f.name}: {text}"))

    if f.kind == "id":
        ok = (
            is_string
            & content.rlike(f.pattern or specs.DEFAULT_ID_PATTERN)
            & ~content.rlike(_LINE_BREAKS)
            & (F.length(content) <= (f.max_length or 64))
        )
        reasons.append(wrong(~ok, f"not an id matching {f.pattern} of at most {f.max_length} characters"))
        value = F.when(present & ok, content)
    elif f.kind == "category":
        ok = is_string & content.isin(*f.values)
        reasons.append(wrong(~ok, f"not one of {', '.join(f.values)}"))
        value = F.when(present & ok, content)
    elif f.kind == "label":
        ok = t.isin("0", "1", "true", "false")
        reasons.append(wrong(~ok, "not a 0/1 label"))
        value = F.when(present & ok, F.when(t.isin("1", "true"), 1).otherwise(0))
    elif f.numeric:
        lo, hi = f.domain or (-math.inf, math.inf)
        number = t.rlike(_JSON_NUMBER)
        whole = t.rlike(_DIGITS) if f.kind == "integer" else F.lit(True)
        parsed = F.when(present & number & whole, t.cast("double"))
        reasons += [
            wrong(~number, "not a number"),
            wrong(number & ~whole, "not a whole number"),
            F.when(parsed.isNotNull() & _outside(parsed, lo, hi), F.lit(f"{f.name}: outside [{lo}, {hi}]")),
        ]
        value = F.when(parsed.isNotNull() & ~_outside(parsed, lo, hi), parsed)
    elif f.kind == "date":
        shaped = is_string & content.rlike(_DATE)
        day = F.when(present & shaped, F.try_to_timestamp(content, F.lit("yyyy-MM-dd")).cast("date"))
        window = (day < F.lit(EARLIEST).cast("date")) | (day > F.lit(LATEST).cast("date"))
        reasons += [
            wrong(day.isNull(), "not a yyyy-MM-dd date"),
            F.when(day.isNotNull() & window, F.lit(f"{f.name}: outside {EARLIEST}..{LATEST}")),
        ]
        value = F.when(day.isNotNull() & ~window, day)
    elif f.kind == "timestamp":
        shaped = is_string & content.rlike(_INSTANT)
        local = F.when(present & shaped, F.try_to_timestamp(
            F.regexp_extract(content, _INSTANT, 1), F.lit("yyyy-MM-dd'T'HH:mm:ss")
        ))  # fmt: skip
        fraction = F.rpad(F.regexp_extract(content, _INSTANT, 2), 6, "0").cast("long")
        sign = F.when(F.regexp_extract(content, _INSTANT, 4) == "-", -1).otherwise(1)
        hours = F.regexp_extract(content, _INSTANT, 5)
        minutes = F.regexp_extract(content, _INSTANT, 6)
        offset = F.when(hours != "", sign * (hours.cast("long") * 3600 + minutes.cast("long") * 60)).otherwise(0)
        micros = F.unix_micros(local) + fraction - offset * 1_000_000
        window = (micros < F.lit(_EARLIEST_MICROS)) | (micros >= F.lit(_END_MICROS))
        reasons += [
            wrong(local.isNull(), "not an ISO-8601 instant (yyyy-MM-ddTHH:mm:ss[.ffffff] and Z or +hh:mm)"),
            F.when(local.isNotNull() & window, F.lit(f"{f.name}: outside {EARLIEST}..{LATEST} (UTC)")),
        ]
        value = F.when(local.isNotNull() & ~window, F.timestamp_micros(micros))
    else:  # the spec module refuses other kinds
        raise ValueError(f"{f.name}: kind {f.kind} is not curated")
    return value, reasons


def _rule_reasons(ds: DataSet, suffix: str = "") -> list[Column]:
    return [F.when(~F.expr(rule.expression), F.lit(rule.reason() + suffix)) for rule in ds.rules]


def _checked(lines: DataFrame, ds: DataSet) -> DataFrame:
    """Typed fields (null when missing or wrong) and ``_reason`` ('' for a valid row)."""
    tokens = _tokens(lines, ds)
    names = [f.name for f in ds.fields]
    keys = F.col("_keys")
    unknown = F.array_except(keys, F.array(*(F.lit(n) for n in names)))
    repeated = F.array_distinct(F.filter(keys, lambda k: F.size(F.filter(keys, lambda j: j == k)) > 1))
    values, reasons = (
        [],
        [
            F.when(F.size(unknown) > 0, F.concat(F.lit("unknown fields: "), F.to_json(unknown))),
            F.when(F.size(repeated) > 0, F.concat(F.lit("repeated fields: "), F.to_json(repeated))),
        ],
    )
    for f in ds.fields:
        value, why = _field(f)
        values.append(value.alias(f.name))
        reasons += why
    typed = tokens.select(LINE_ID, LINE, "_object", *values, F.concat_ws("; ", *reasons).alias(REASON))
    reason = F.when(~F.col("_object"), F.lit("malformed: not one flat JSON object of plain values")).otherwise(
        F.concat_ws("; ", F.col(REASON), *_rule_reasons(ds))
    )
    return typed.withColumn(REASON, F.substring(reason, 1, _MAX_REASON)).drop("_object")


# --- statistics, imputation, capping, features -------------------------------------------------


def _clamp(value: float | None, f: specs.Field) -> float | None:
    if value is None or f.domain is None:
        return value
    lo, hi = f.domain
    return min(max(value, lo), hi)


def _statistics(valid: DataFrame, ds: DataSet) -> dict:
    """Every batch statistic in one pass: quartiles, means, standard deviations; then modes."""
    numeric = specs.numeric_fields(ds)
    aggs = []
    for f in numeric:
        aggs += [
            F.percentile_approx(f.name, [0.25, 0.5, 0.75], 10_000).alias(f"{f.name}__q"),
            F.avg(f.name).alias(f"{f.name}__mean"),
            F.stddev_pop(f.name).alias(f"{f.name}__std"),
        ]
    row = (valid.agg(*aggs).first().asDict() if aggs else {}) if valid.take(1) else {}
    stats: dict = {}
    for f in numeric:
        q = row.get(f"{f.name}__q") or [None, None, None]
        mean = row.get(f"{f.name}__mean")
        stats[f.name] = {"q1": q[0], "median": q[1], "q3": q[2], "mean": mean, "std": row.get(f"{f.name}__std")}
    for f in specs.imputed(ds, "mode"):
        top = valid.where(F.col(f.name).isNotNull()).groupBy(f.name).count().orderBy(F.desc("count"), F.asc(f.name))
        first = top.first()
        stats[f.name] = {"mode": first[f.name] if first else None}
    return stats


def _fill(f: specs.Field, stats: dict) -> float | str | None:
    """What a missing value of ``f`` becomes: a batch statistic kept inside the field's domain."""
    s = stats[f.name]
    if f.impute == "mode":
        return s["mode"]
    value = _clamp(s["median"] if f.impute == "median" else s["mean"], f)
    if value is not None and f.kind == "integer":
        value = float(round(value))
    return value


def _impute(df: DataFrame, ds: DataSet, stats: dict) -> DataFrame:
    """Fill missing values and flag them; a row whose value cannot be filled inside the domain
    gets a ``_reason`` (it goes to rejects)."""
    out = df
    fields = specs.imputed(ds)
    for f in fields:
        out = out.withColumn(f"{f.name}_was_missing", F.col(f.name).isNull().cast("int"))
    reasons: list[Column] = []
    for f in fields:
        missing = F.col(f"{f.name}_was_missing") == 1
        if f.impute == "derived":
            derived = F.expr(f.impute_expression)
            derived = F.round(derived) if f.kind == "integer" else derived.cast("double")
            lo, hi = f.domain or (-math.inf, math.inf)
            bad = derived.isNull() | F.isnan(derived) | _outside(derived, lo, hi)
            reasons.append(F.when(missing & bad, F.lit(
                f"{f.name}: missing, and cannot be imputed: {f.impute_expression} gives no value inside [{lo}, {hi}]"
            )))  # fmt: skip
            out = out.withColumn(f.name, F.when(missing & ~bad, derived).otherwise(F.col(f.name)))
            continue
        fill = _fill(f, stats)
        if fill is None:
            reasons.append(F.when(missing, F.lit(f"{f.name}: missing, and no value in this batch to impute it from")))
            continue
        out = out.withColumn(f.name, F.coalesce(F.col(f.name), F.lit(fill)))
    imputed_any = F.greatest(*(F.col(f"{f.name}_was_missing") for f in fields)) == 1 if fields else F.lit(False)
    reasons += [F.when(imputed_any, r) for r in _rule_reasons(ds, " (after imputation)")]
    return out.withColumn(REASON, F.concat_ws("; ", *reasons)) if reasons else out.withColumn(REASON, F.lit(""))


def _cap(df: DataFrame, ds: DataSet, stats: dict) -> DataFrame:
    out = df
    for f in specs.capped(ds):
        q1, q3 = stats[f.name]["q1"], stats[f.name]["q3"]
        if q1 is None:
            out = out.withColumn(f"{f.name}_capped", F.lit(0))
            continue
        lo_domain, hi_domain = f.domain or (-math.inf, math.inf)
        lo, hi = max(lo_domain, q1 - 1.5 * (q3 - q1)), min(hi_domain, q3 + 1.5 * (q3 - q1))
        if f.kind == "integer":
            lo, hi = float(math.ceil(lo)), float(math.floor(hi))
        stats[f.name].update(cap_low=lo, cap_high=hi)
        out = out.withColumn(f"{f.name}_capped", _outside(F.col(f.name), lo, hi).cast("int"))
        out = out.withColumn(f.name, F.least(F.greatest(F.col(f.name), F.lit(lo)), F.lit(hi)))
    return out


def _features(df: DataFrame, ds: DataSet, stats: dict) -> DataFrame:
    out = df
    for e in ds.engineered:  # in spec order: an expression may use an earlier one
        out = out.withColumn(e.name, F.expr(e.expression).cast(e.hive_type))
    for f in specs.category_fields(ds):
        for value in f.values:
            out = out.withColumn(specs.one_hot_column(f.name, value), (F.col(f.name) == value).cast("int"))
    for f in specs.scaled(ds):
        mean, std = stats[f.name]["mean"], stats[f.name]["std"]
        out = out.withColumn(f"{f.name}_z", F.round((F.col(f.name) - F.lit(mean or 0.0)) / F.lit(std or 1.0), 6))
    for p in ds.partition_keys:
        out = out.withColumn(p.name, F.expr(p.expression).cast(p.hive_type))
    return out


def curated_schema(ds: DataSet) -> list[tuple[str, str]]:
    """(name, Hive type) of every curated column, partition keys last: what the job writes."""
    return [*specs.curated_columns(ds), *specs.partition_keys(ds)]


def transform(lines: DataFrame, run_id: str = "local", ds: DataSet | None = None) -> EtlResult:
    """Validate, de-duplicate, impute, cap and engineer features; route bad rows to rejects.

    ``lines`` has one string column ``value`` (one JSON record per row). Times are UTC:
    the session's time zone is set to UTC for the partitions and date parts.
    """
    ds = ds or dataset()
    lines.sparkSession.conf.set("spark.sql.session.timeZone", "UTC")
    lines = lines.select(F.col(LINE).cast("string").alias(LINE)).withColumn(LINE_ID, F.monotonically_increasing_id())
    checked = _checked(lines, ds).cache()
    invalid = checked.where(F.col(REASON) != "")

    first = Window.partitionBy(*specs.dedup_keys(ds)).orderBy(LINE_ID)
    ranked = checked.where(F.col(REASON) == "").withColumn("_rank", F.row_number().over(first))
    duplicates = ranked.where(F.col("_rank") > 1).withColumn(
        REASON, F.lit(f"duplicate of an earlier record for {' and '.join(specs.dedup_keys(ds))}")
    )
    unique = ranked.where(F.col("_rank") == 1).drop("_rank").cache()

    stats = _statistics(unique, ds)
    filled = _impute(unique, ds, stats).cache()
    unfillable = filled.where(F.col(REASON) != "")
    kept = filled.where(F.col(REASON) == "")
    curated = _features(_cap(kept, ds, stats), ds, stats).withColumn(specs.RUN_ID, F.lit(run_id))
    # The curated table's contract: exactly these columns, in this order, with these types.
    curated = curated.select(*(F.col(name).cast(kind) for name, kind in curated_schema(ds)))

    rejects = (
        invalid.select(LINE, REASON, LINE_ID)
        .unionByName(duplicates.select(LINE, REASON, LINE_ID))
        .unionByName(unfillable.select(LINE, REASON, LINE_ID))
        .select(F.col(LINE).alias("raw"), F.col(REASON).alias("reason"), F.lit(run_id).alias("run_id"))
    )
    return EtlResult(curated=curated, rejects=rejects, stats={"dataset": ds.name, "columns": stats, "run_id": run_id})


# --- the run's summary --------------------------------------------------------------------------

# The keys of the run-summary log line (one JSON object on one line, on stdout): a CloudWatch
# metric filter reads them, so they stay stable.
SUMMARY_EVENT = "curate_run_summary"
SUMMARY_KEYS = ("event", "dataset", "run_id", "input_rows", "curated_rows", "rejected_rows", "rejects_by_kind")


def summarize(result: EtlResult, input_rows: int) -> dict:
    """Counts that prove no row was lost, plus what was imputed and capped."""
    curated_rows = result.curated.count()
    reasons = result.rejects.groupBy(F.split("reason", ":| ").getItem(0).alias("kind")).count().collect()
    flags = [c for c in result.curated.columns if c.endswith(("_was_missing", "_capped"))]
    sums = result.curated.agg(*(F.sum(c).alias(c) for c in flags)).first().asDict() if flags and curated_rows else {}
    rejected_rows = sum(r["count"] for r in reasons)
    return {
        **result.stats,
        "input_rows": input_rows,
        "curated_rows": curated_rows,
        "rejected_rows": rejected_rows,
        "rejects_by_kind": {r["kind"]: r["count"] for r in reasons},
        "imputed": {k.removesuffix("_was_missing"): v or 0 for k, v in sums.items() if k.endswith("_was_missing")},
        "capped": {k.removesuffix("_capped"): v or 0 for k, v in sums.items() if k.endswith("_capped")},
    }


def summary_line(summary: dict) -> str:
    """The run summary as the one JSON line the job logs."""
    return json.dumps({"event": SUMMARY_EVENT, **{k: summary.get(k) for k in SUMMARY_KEYS[1:]}}, default=str)


def run_local(input_path: str, output_dir: str, spark: SparkSession | None = None, ds: DataSet | None = None) -> dict:
    """Run the job on local files: JSON lines in, Parquet (curated) and JSON (rejects) out."""
    spark = spark or spark_session()
    lines = spark.read.text(input_path)
    input_rows = lines.count()
    result = transform(lines, ds=ds)
    # Written once, counted once: keep both outputs in memory between the two.
    result = EtlResult(curated=result.curated.cache(), rejects=result.rejects.cache(), stats=result.stats)
    out = Path(output_dir)
    partitions = [name for name, _ in specs.partition_keys(ds or dataset())]
    if result.curated.take(1):
        result.curated.write.mode("overwrite").partitionBy(*partitions).parquet(str(out / "curated"))
    else:  # an empty partitioned write leaves no file; one empty file keeps the schema readable
        result.curated.coalesce(1).write.mode("overwrite").parquet(str(out / "curated"))
    result.rejects.write.mode("overwrite").json(str(out / "rejects"))
    summary = summarize(result, input_rows)
    (out / "stats.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def check_quality(frame, ruleset: str, ruleset_name: str) -> None:
    """Evaluate the curated table's DQDL rules; publish results and metrics; raise on a failed rule.

    Results and metrics are published under the name of the stack's ruleset (``--dq_ruleset``),
    whose rules are the same ``spec.dq_rules``.
    """
    from awsglue.transforms import SelectFromCollection
    from awsgluedq.transforms import EvaluateDataQuality

    outcomes = EvaluateDataQuality().process_rows(
        frame=frame,
        ruleset=ruleset,
        publishing_options={
            "dataQualityEvaluationContext": ruleset_name,
            "enableDataQualityCloudWatchMetrics": True,
            "enableDataQualityResultsPublishing": True,
        },
    )
    rules = SelectFromCollection.apply(dfc=outcomes, key="ruleOutcomes").toDF()
    failed = [row["Rule"] for row in rules.where(F.col("Outcome") == "Failed").collect()]
    if failed:
        raise RuntimeError(f"curated data failed quality rules, nothing written: {failed}")


# What the job reads from its arguments (the stack's DefaultArguments). Glue reserves JOB_ID,
# JOB_RUN_ID and SECURITY_CONFIGURATION: getResolvedOptions refuses them as options and
# returns them anyway, from the --JOB_RUN_ID ... that Glue passes every run.
JOB_ARGUMENTS = (
    "JOB_NAME",
    "raw_path",
    "curated_path",
    "rejects_path",
    "stats_path",
    "curated_database",
    "curated_table",
    "dq_ruleset",
)
# Read when the job passes them: the data set's name (default: env DATASET, else the spec default).
OPTIONAL_ARGUMENTS = ("dataset",)


def glue_main() -> None:
    """Entry point on AWS Glue 5: bookmarked read of new raw files, catalog-updating write."""
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    wanted = [*JOB_ARGUMENTS, *(name for name in OPTIONAL_ARGUMENTS if f"--{name}" in sys.argv)]
    args = getResolvedOptions(sys.argv, wanted)
    run_id = args.get("JOB_RUN_ID")
    if not run_id:
        raise RuntimeError("no --JOB_RUN_ID among the arguments: this entry point runs as an AWS Glue job")
    ds = dataset(args.get("dataset"))
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    # One column per line: a separator and quote that never occur keep each JSON line whole,
    # and the bookmark (transformation_ctx) makes each run read only files it has not seen.
    raw = glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [args["raw_path"]], "recurse": True},
        format="csv",
        format_options={"separator": "\u0001", "quoteChar": -1, "withHeader": False},
        transformation_ctx="raw_lines",
    )
    lines = raw.toDF()
    lines = lines.withColumnRenamed(lines.columns[0], LINE) if lines.columns else lines
    input_rows = lines.count()
    summary: dict = {"dataset": ds.name, "run_id": run_id, "input_rows": 0, "curated_rows": 0, "rejected_rows": 0,
                     "rejects_by_kind": {}}  # fmt: skip
    if input_rows:
        result = transform(lines, run_id=run_id, ds=ds)
        result = EtlResult(curated=result.curated.cache(), rejects=result.rejects.cache(), stats=result.stats)
        curated = DynamicFrame.fromDF(result.curated, glue, "curated")
        # Quality gate before anything is written: a failed rule fails the run, nothing
        # lands, and the bookmark stays put, so the same files are read again next run.
        # A batch with no valid row has nothing to check: its rejects are still written.
        if result.curated.take(1):
            check_quality(curated, specs.dq_rules(ds), args["dq_ruleset"])
        sink = glue.getSink(
            connection_type="s3",
            path=args["curated_path"],
            enableUpdateCatalog=True,
            updateBehavior="UPDATE_IN_DATABASE",
            partitionKeys=[name for name, _ in specs.partition_keys(ds)],
            transformation_ctx="curated_sink",
        )
        sink.setFormat("glueparquet", compression="snappy")
        sink.setCatalogInfo(catalogDatabase=args["curated_database"], catalogTableName=args["curated_table"])
        sink.writeFrame(curated)
        result.rejects.write.mode("append").partitionBy("run_id").json(args["rejects_path"])
        summary = summarize(result, input_rows)
        stats = glue.spark_session.createDataFrame([(json.dumps(summary, default=str),)], ["stats"])
        stats.coalesce(1).write.mode("overwrite").text(f"{args['stats_path'].rstrip('/')}/run_id={run_id}")
    print(summary_line(summary), flush=True)
    job.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the curating ETL on local files.")
    parser.add_argument("--input", required=True, help="JSON lines (file or folder)")
    parser.add_argument("--output", required=True, help="folder for curated/, rejects/, stats.json")
    parser.add_argument("--dataset", default=os.environ.get("DATASET"), help="data-set spec (default: env DATASET)")
    args = parser.parse_args(argv)
    summary = run_local(args.input, args.output, ds=dataset(args.dataset))
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    if "--JOB_NAME" in sys.argv:
        glue_main()
    else:
        sys.exit(main())
