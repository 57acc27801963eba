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
