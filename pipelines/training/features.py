"""Which curated columns the model sees: the active data-set spec's feature list.

Gradient-boosted trees are invariant to monotonic rescaling, so the model takes
the curated features unscaled (the curated z-scores serve analysts and linear
models). That keeps three things in one space: what the model was trained on,
what clients send the endpoint, and what Model Monitor's baseline describes.
Encoding is the ETL's one-hot columns; identifiers, timestamps, raw categories
and run ids are left out.

Which data set: ``pipelines.data.spec.active()`` (environment variable ``DATASET``,
default churn); the training stack sets it on every processing step.
"""

from __future__ import annotations

import datetime

# The built-in XGBoost image runs Python 3.10, which lacks datetime.UTC (3.11) that the spec module
# imports; remove once pipelines/data/spec.py uses datetime.timezone.utc.
if not hasattr(datetime, "UTC"):
    datetime.UTC = datetime.timezone.utc  # noqa: UP017

from pipelines.data import spec as specs

DATASET = specs.active()
LABEL = DATASET.label
NUMERIC = specs.numeric_features(DATASET)
INDICATORS = specs.indicator_features(DATASET)
FEATURES = specs.features(DATASET)
# Category field -> its values and one-hot columns, in the spec's order.
CATEGORIES = {f.name: f.values for f in specs.category_fields(DATASET)}
ONE_HOT_GROUPS = {name: [specs.one_hot_column(name, v) for v in values] for name, values in CATEGORIES.items()}
# Numeric field -> the (inclusive) domain a valid value lies in.
DOMAINS = {f.name: f.domain for f in specs.numeric_fields(DATASET)}
# Columns of the curated table that fix its row order (file names differ between runs).
ORDER_KEYS = specs.dedup_keys(DATASET)


def columns_read(spec: specs.DataSet) -> tuple[str, ...]:
    """Every curated column the training steps read for ``spec``: the label, then the features."""
    return (spec.label, *specs.features(spec))


def missing_columns(spec: specs.DataSet, curated: list[str] | tuple[str, ...]) -> list[str]:
    """The columns the training steps read that the curated table (``curated``) lacks."""
    return [c for c in columns_read(spec) if c not in set(curated)]
