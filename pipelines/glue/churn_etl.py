"""Raw -> curated ETL for the churn events, in plain PySpark.

The same ``transform`` runs on AWS Glue 5 (Spark 3.5, via ``glue_main``) and on
this machine (``python -m pipelines.glue.churn_etl``), so the logic is tested
here on generated data.

Every input line ends in exactly one of two places:

- curated: valid, de-duplicated rows, missing values imputed (with
  ``*_was_missing`` flags), outliers capped, features engineered, partitioned
  by ``event_year``/``event_month``;
- rejects: the original line and the reason (malformed JSON, missing required
  field, value not a number or out of its domain, unknown category, bad date,
  bad label, or duplicate of an earlier record).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

try:  # in the repo
    from pipelines.data import schema
except ImportError:  # on Glue, schema.py ships as --extra-py-files
    import schema

CATEGORICAL, FIELDS, INTEGER_FIELDS = schema.CATEGORICAL, schema.FIELDS, schema.INTEGER_FIELDS
LABEL, NUMERIC_DOMAIN, REQUIRED = schema.LABEL, schema.NUMERIC_DOMAIN, schema.REQUIRED
MEDIAN_IMPUTED, MEAN_IMPUTED, MODE_IMPUTED = schema.MEDIAN_IMPUTED, schema.MEAN_IMPUTED, schema.MODE_IMPUTED
CAPPED, SCALED = schema.CAPPED, schema.SCALED

LINE = "value"
LINE_ID = "_line_id"
PARTITIONS = tuple(name for name, _ in schema.PARTITION_KEYS)

_JSON_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in FIELDS] + [T.StructField("_corrupt", T.StringType())]
)
_TIMESTAMP_FORMATS = ("yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]X", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]")


@dataclass
class EtlResult:
    curated: DataFrame
    rejects: DataFrame
    stats: dict = field(default_factory=dict)


def spark_session(app_name: str = "churn-etl", cores: int = 2) -> SparkSession:
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


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def _timestamp(c: Column) -> Column:
    return F.coalesce(*(F.to_timestamp(c, fmt) for fmt in _TIMESTAMP_FORMATS))


def _parse(lines: DataFrame) -> DataFrame:
    parsed = lines.withColumn(
        "_r", F.from_json(F.col(LINE), _JSON_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"})
    )
    cols = [
        F.col(LINE_ID),
        F.col(LINE),
        F.col("_r._corrupt").alias("_corrupt"),
        F.col("_r").isNotNull().alias("_parsed"),
    ]
    cols += [F.when(~_blank(F.col(f"_r.{n}")), F.trim(F.col(f"_r.{n}"))).alias(n) for n in FIELDS]
    return parsed.select(*cols)


def _reasons() -> Column:
    """A '; '-joined list of what is wrong with a row (empty when nothing is).

    A line that is not a JSON object gets one reason, not one per missing field.
    """
    malformed = F.col("_corrupt").isNotNull() | F.col(LINE).isNull() | F.col("_parsed").isNull()
    checks: list[Column] = [F.when(F.col(n).isNull(), F.lit(f"missing required field {n}")) for n in REQUIRED]
    for name, (lo, hi) in NUMERIC_DOMAIN.items():
        number = F.col(name).cast("double")
        checks.append(F.when(F.col(name).isNotNull() & number.isNull(), F.lit(f"{name}: not a number")))
        if name in INTEGER_FIELDS:
            checks.append(
                F.when(number.isNotNull() & (number != F.floor(number)), F.lit(f"{name}: not a whole number"))
            )
        checks.append(
            F.when(number.isNotNull() & ((number < lo) | (number > hi)), F.lit(f"{name}: outside [{lo}, {hi}]"))
        )
    for name, allowed in CATEGORICAL.items():
        checks.append(
            F.when(
                F.col(name).isNotNull() & ~F.lower(F.col(name)).isin(*allowed),
                F.lit(f"{name}: not one of {', '.join(allowed)}"),
            )
        )
    checks.append(
        F.when(
            F.col("event_time").isNotNull() & _timestamp(F.col("event_time")).isNull(),
            F.lit("event_time: not an ISO-8601 timestamp"),
        )
    )
    checks.append(
        F.when(
            F.col("signup_date").isNotNull() & F.to_date(F.col("signup_date"), "yyyy-MM-dd").isNull(),
            F.lit("signup_date: not a yyyy-MM-dd date"),
        )
    )
    checks.append(
        F.when(
            F.col(LABEL).isNotNull() & ~F.lower(F.col(LABEL)).isin("0", "1", "true", "false"),
            F.lit(f"{LABEL}: not a 0/1 label"),
        )
    )
    return F.when(malformed, F.lit("malformed JSON")).otherwise(F.concat_ws("; ", *checks))


def _typed(df: DataFrame) -> DataFrame:
    out = df
    for name in NUMERIC_DOMAIN:
        out = out.withColumn(name, F.col(name).cast("double"))
    for name in CATEGORICAL:
        out = out.withColumn(name, F.lower(F.col(name)))
    return (
        out.withColumn("event_time", _timestamp(F.col("event_time")))
        .withColumn("signup_date", F.to_date(F.col("signup_date"), "yyyy-MM-dd"))
        .withColumn(LABEL, F.when(F.lower(F.col(LABEL)).isin("1", "true"), 1).otherwise(0))
    )


def _statistics(valid: DataFrame) -> dict:
    """Every batch statistic in one pass: quartiles, means, standard deviations, modes."""
    aggs = []
    for name in NUMERIC_DOMAIN:
        aggs += [
            F.percentile_approx(name, [0.25, 0.5, 0.75], 10_000).alias(f"{name}__q"),
            F.avg(name).alias(f"{name}__mean"),
            F.stddev_pop(name).alias(f"{name}__std"),
        ]
    row = valid.agg(*aggs).first().asDict() if valid.take(1) else {}
    stats: dict = {}
    for name in NUMERIC_DOMAIN:
        q = row.get(f"{name}__q") or [None, None, None]
        stats[name] = {
            "q1": q[0],
            "median": q[1],
            "q3": q[2],
            "mean": row.get(f"{name}__mean"),
            "std": row.get(f"{name}__std"),
        }
    for name in MODE_IMPUTED:
        top = valid.where(F.col(name).isNotNull()).groupBy(name).count().orderBy(F.desc("count"), F.asc(name)).first()
        stats[name] = {"mode": top[name] if top else CATEGORICAL[name][0]}
    return stats


def _impute(df: DataFrame, stats: dict) -> DataFrame:
    out = df
    for name in (*MEDIAN_IMPUTED, *MEAN_IMPUTED, *schema.DERIVED_IMPUTED, *MODE_IMPUTED):
        out = out.withColumn(f"{name}_was_missing", F.col(name).isNull().cast("int"))
    for name in MEDIAN_IMPUTED:
        out = out.withColumn(name, F.coalesce(F.col(name), F.lit(stats[name]["median"] or 0.0)))
    for name in MEAN_IMPUTED:
        out = out.withColumn(name, F.coalesce(F.col(name), F.lit(float(round(stats[name]["mean"] or 0.0)))))
    out = out.withColumn(
        "total_charges",
        F.coalesce(F.col("total_charges"), F.round(F.col("monthly_charges") * F.col("tenure_months"), 2)),
    )
    for name in MODE_IMPUTED:
        out = out.withColumn(name, F.coalesce(F.col(name), F.lit(stats[name]["mode"])))
    return out


def _cap(df: DataFrame, stats: dict) -> DataFrame:
    out = df
    for name in CAPPED:
        q1, q3 = stats[name]["q1"], stats[name]["q3"]
        if q1 is None:
            continue
        lo_domain, hi_domain = NUMERIC_DOMAIN[name]
        lo, hi = max(lo_domain, q1 - 1.5 * (q3 - q1)), min(hi_domain, q3 + 1.5 * (q3 - q1))
        stats[name].update(cap_low=lo, cap_high=hi)
        out = out.withColumn(f"{name}_capped", ((F.col(name) < lo) | (F.col(name) > hi)).cast("int"))
        out = out.withColumn(name, F.least(F.greatest(F.col(name), F.lit(lo)), F.lit(hi)))
    return out


def _features(df: DataFrame, stats: dict) -> DataFrame:
    tenure = F.greatest(F.col("tenure_months"), F.lit(1.0))
    out = (
        df.withColumn("event_year", F.year("event_time"))
        .withColumn("event_month", F.month("event_time"))
        .withColumn("event_dayofweek", F.dayofweek("event_time"))
        .withColumn("signup_year", F.year("signup_date"))
        .withColumn("signup_month", F.month("signup_date"))
        .withColumn("account_age_days", F.datediff(F.to_date("event_time"), F.col("signup_date")))
        .withColumn("avg_monthly_spend", F.round(F.col("total_charges") / tenure, 4))
        .withColumn("support_calls_per_year", F.round(F.col("support_calls") * 12.0 / tenure, 4))
        .withColumn("charge_per_gb", F.round(F.col("monthly_charges") / (F.col("data_usage_gb") + 1.0), 4))
    )
    for name, allowed in CATEGORICAL.items():
        for value in allowed:
            out = out.withColumn(schema.one_hot_column(name, value), (F.col(name) == value).cast("int"))
    for name in SCALED:
        mean, std = stats[name]["mean"], stats[name]["std"]
        scale = std if std else 1.0
        out = out.withColumn(f"{name}_z", F.round((F.col(name) - F.lit(mean or 0.0)) / F.lit(scale), 6))
    for name in INTEGER_FIELDS:
        out = out.withColumn(name, F.col(name).cast("int"))
    return out


def transform(lines: DataFrame, run_id: str = "local") -> EtlResult:
    """Clean, de-duplicate, impute, cap and engineer features; route bad rows to rejects.

    ``lines`` has one string column ``value`` (one JSON record per row).
    """
    lines = lines.select(F.col(LINE)).withColumn(LINE_ID, F.monotonically_increasing_id())
    checked = _parse(lines).withColumn("_reason", _reasons()).cache()
    invalid = checked.where(F.col("_reason") != "")
    valid = _typed(checked.where(F.col("_reason") == ""))

    first = Window.partitionBy("customer_id", "event_time").orderBy(LINE_ID)
    ranked = valid.withColumn("_rank", F.row_number().over(first))
    duplicates = ranked.where(F.col("_rank") > 1).withColumn(
        "_reason", F.lit("duplicate of an earlier record for this customer_id and event_time")
    )
    unique = ranked.where(F.col("_rank") == 1).drop("_rank").cache()

    stats = _statistics(unique)
    curated = _features(_cap(_impute(unique, stats), stats), stats).withColumn("run_id", F.lit(run_id))
    # The curated table's contract: exactly these columns, in this order, with these types.
    curated = curated.select(
        *(F.col(name).cast(kind) for name, kind in schema.curated_columns()),
        *(F.col(name).cast(kind) for name, kind in schema.PARTITION_KEYS),
    )

    rejects = (
        invalid.select(LINE, "_reason", LINE_ID)
        .unionByName(duplicates.select(LINE, "_reason", LINE_ID))
        .select(F.col(LINE).alias("raw"), F.col("_reason").alias("reason"), F.lit(run_id).alias("run_id"))
    )
    return EtlResult(curated=curated, rejects=rejects, stats={"columns": stats, "run_id": run_id})


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
        "imputed": {k.removesuffix("_was_missing"): v for k, v in sums.items() if k.endswith("_was_missing")},
        "capped": {k.removesuffix("_capped"): v for k, v in sums.items() if k.endswith("_capped")},
    }


def run_local(input_path: str, output_dir: str, spark: SparkSession | None = None) -> dict:
    """Run the job on local files: JSON lines in, Parquet (curated) and JSON (rejects) out."""
    spark = spark or spark_session()
    lines = spark.read.text(input_path)
    input_rows = lines.count()
    result = transform(lines)
    # Written once, counted once: keep both outputs in memory between the two.
    result = EtlResult(curated=result.curated.cache(), rejects=result.rejects.cache(), stats=result.stats)
    out = Path(output_dir)
    result.curated.write.mode("overwrite").partitionBy(*PARTITIONS).parquet(str(out / "curated"))
    result.rejects.write.mode("overwrite").json(str(out / "rejects"))
    summary = summarize(result, input_rows)
    (out / "stats.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def check_quality(frame, ruleset_name: str) -> None:
    """Evaluate the curated table's DQDL rules; publish results and metrics; raise on a failed rule.

    Results and metrics are published under the name of the stack's ruleset (``--dq_ruleset``),
    whose rules are the same ``schema.CURATED_DQ_RULES``.
    """
    from awsglue.transforms import SelectFromCollection
    from awsgluedq.transforms import EvaluateDataQuality

    outcomes = EvaluateDataQuality().process_rows(
        frame=frame,
        ruleset=schema.CURATED_DQ_RULES,
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


def glue_main() -> None:
    """Entry point on AWS Glue 5: bookmarked read of new raw files, catalog-updating write."""
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, list(JOB_ARGUMENTS))
    run_id = args.get("JOB_RUN_ID")
    if not run_id:
        raise RuntimeError("no --JOB_RUN_ID among the arguments: this entry point runs as an AWS Glue job")
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
    if input_rows:
        result = transform(lines, run_id=run_id)
        curated = DynamicFrame.fromDF(result.curated, glue, "curated")
        # Quality gate before anything is written: a failed rule fails the run, nothing
        # lands, and the bookmark stays put, so the same files are read again next run.
        check_quality(curated, args["dq_ruleset"])
        sink = glue.getSink(
            connection_type="s3",
            path=args["curated_path"],
            enableUpdateCatalog=True,
            updateBehavior="UPDATE_IN_DATABASE",
            partitionKeys=list(PARTITIONS),
            transformation_ctx="curated_sink",
        )
        sink.setFormat("glueparquet", compression="snappy")
        sink.setCatalogInfo(catalogDatabase=args["curated_database"], catalogTableName=args["curated_table"])
        sink.writeFrame(curated)
        result.rejects.write.mode("append").partitionBy("run_id").json(args["rejects_path"])
        summary = summarize(result, input_rows)
        stats = glue.spark_session.createDataFrame([(json.dumps(summary, default=str),)], ["stats"])
        stats.coalesce(1).write.mode("overwrite").text(f"{args['stats_path'].rstrip('/')}/run_id={run_id}")
    job.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the churn ETL on local files.")
    parser.add_argument("--input", required=True, help="JSON lines (file or folder)")
    parser.add_argument("--output", required=True, help="folder for curated/, rejects/, stats.json")
    args = parser.parse_args(argv)
    summary = run_local(args.input, args.output)
    print(json.dumps({k: summary[k] for k in ("input_rows", "curated_rows", "rejected_rows", "rejects_by_kind")}))
    return 0


if __name__ == "__main__":
    if "--JOB_NAME" in sys.argv:
        glue_main()
    else:
        sys.exit(main())
