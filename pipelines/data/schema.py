"""The customer-churn event: one source of truth for the Lambda, the Glue job and the pipeline.

Each record is a snapshot of one customer's account at ``event_time`` with the
label ``churned`` (1 when the customer left within the next 30 days).
"""

from __future__ import annotations

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("card", "bank-transfer", "electronic-check", "mailed-check")
INTERNET_SERVICES = ("fiber", "dsl", "none")
REGIONS = ("north", "south", "east", "west", "central")

CATEGORICAL = {
    "contract": CONTRACTS,
    "payment_method": PAYMENT_METHODS,
    "internet_service": INTERNET_SERVICES,
    "region": REGIONS,
}

# Numeric fields with the domain a valid value lies in (inclusive). Values
# outside are corrupt; values inside but extreme are outliers and get capped.
NUMERIC_DOMAIN = {
    "age": (18, 120),
    "tenure_months": (0, 600),
    "monthly_charges": (0.0, 10_000.0),
    "total_charges": (0.0, 1_000_000.0),
    "support_calls": (0, 1_000),
    "data_usage_gb": (0.0, 100_000.0),
}
INTEGER_FIELDS = ("age", "tenure_months", "support_calls")

# Fields a record cannot do without; the others may be missing and are imputed.
REQUIRED = ("customer_id", "event_time", "signup_date", "tenure_months", "monthly_charges", "contract", "churned")
OPTIONAL = ("age", "total_charges", "support_calls", "data_usage_gb", "payment_method", "internet_service", "region")
FIELDS = REQUIRED + OPTIONAL
LABEL = "churned"

# --- The curated table: what the ETL writes and the catalog declares -------------------------
# Imputation per column: counts and skewed amounts take the median, roughly
# symmetric ones the mean, categories the mode; total_charges follows from its
# definition (monthly charge x tenure) where it is missing.
MEDIAN_IMPUTED = ("support_calls", "data_usage_gb")
MEAN_IMPUTED = ("age",)
MODE_IMPUTED = ("payment_method", "internet_service", "region")
DERIVED_IMPUTED = ("total_charges",)
# Heavy-tailed columns capped at the Tukey fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR).
CAPPED = ("monthly_charges", "support_calls", "data_usage_gb")
SCALED = ("age", "tenure_months", "monthly_charges", "total_charges", "support_calls", "data_usage_gb")
DATE_PARTS = ("event_dayofweek", "signup_year", "signup_month", "account_age_days")
RATIOS = ("avg_monthly_spend", "support_calls_per_year", "charge_per_gb")
PARTITION_KEYS = (("event_year", "int"), ("event_month", "int"))
# Identifies a customer; analysts get every column but this one.
PII_COLUMNS = ("customer_id",)


def one_hot_column(name: str, value: str) -> str:
    return f"{name}_{value.replace('-', '_')}"


def curated_columns() -> list[tuple[str, str]]:
    """(name, Hive type) of every non-partition column of the curated table, in order."""
    numeric = [(n, "int" if n in INTEGER_FIELDS else "double") for n in NUMERIC_DOMAIN]
    imputed = (*MEDIAN_IMPUTED, *MEAN_IMPUTED, *DERIVED_IMPUTED, *MODE_IMPUTED)
    return [
        ("customer_id", "string"),
        ("event_time", "timestamp"),
        ("signup_date", "date"),
        *numeric,
        *[(n, "string") for n in CATEGORICAL],
        (LABEL, "int"),
        *[(f"{n}_was_missing", "int") for n in imputed],
        *[(f"{n}_capped", "int") for n in CAPPED],
        *[(n, "int") for n in DATE_PARTS],
        *[(n, "double") for n in RATIOS],
        *[(one_hot_column(n, v), "int") for n, values in CATEGORICAL.items() for v in values],
        *[(f"{n}_z", "double") for n in SCALED],
        ("run_id", "string"),
    ]


# Glue Data Quality rules (DQDL) on the curated table: evaluated by the ETL job on
# every run and registered as a ruleset on the table.
CURATED_DQ_RULES = """Rules = [
    RowCount > 0,
    IsComplete "customer_id",
    IsComplete "event_time",
    IsComplete "churned",
    ColumnValues "churned" in [0, 1],
    IsComplete "age",
    IsComplete "total_charges",
    IsComplete "payment_method",
    ColumnValues "tenure_months" between -1 and 601,
    ColumnValues "monthly_charges" >= 0,
    ColumnValues "contract" in ["month-to-month", "one-year", "two-year"],
    Uniqueness "customer_id" "event_time" > 0.99
]"""
