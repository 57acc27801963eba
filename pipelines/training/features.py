"""Which curated columns the model sees.

Gradient-boosted trees are invariant to monotonic rescaling, so the model takes
the curated features unscaled (the curated z-scores serve analysts and linear
models). That keeps three things in one space: what the model was trained on,
what clients send the endpoint, and what Model Monitor's baseline describes.
Encoding is the ETL's one-hot columns; identifiers, timestamps, raw categories
and run ids are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.data.schema import (
    CAPPED,
    CATEGORICAL,
    DATE_PARTS,
    DERIVED_IMPUTED,
    LABEL,
    MEAN_IMPUTED,
    MEDIAN_IMPUTED,
    MODE_IMPUTED,
    NUMERIC_DOMAIN,
    RATIOS,
    one_hot_column,
)

NUMERIC = (*NUMERIC_DOMAIN, *RATIOS, *DATE_PARTS)
INDICATORS = (
    *[f"{n}_was_missing" for n in (*MEDIAN_IMPUTED, *MEAN_IMPUTED, *DERIVED_IMPUTED, *MODE_IMPUTED)],
    *[f"{n}_capped" for n in CAPPED],
    *[one_hot_column(n, v) for n, values in CATEGORICAL.items() for v in values],
)
FEATURES = (*NUMERIC, *INDICATORS)


def matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Features (in FEATURES order) and labels as float arrays."""
    return frame[list(FEATURES)].to_numpy(dtype=float), frame[LABEL].to_numpy(dtype=float)
