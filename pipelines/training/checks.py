"""Input checks shared by the training steps: bad data stops a step with an error that names
the column, split or folder at fault, before any tuning starts.

XGBoost reads features as float32: a value beyond float32's range is infinite to it,
so "infinite" here covers those too. Labels are a binary classifier's: exactly 0 or 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FLOAT32_MAX = float(np.finfo(np.float32).max)
EXAMPLES = 3


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(EXAMPLES).tolist())


def binary_labels(values: pd.Series, where: str) -> pd.Series:
    """``values`` as int 0/1; a ValueError naming ``where`` if any is missing or not exactly 0 or 1."""
    numeric = pd.to_numeric(values, errors="coerce") if values.dtype == object else values
    if numeric.dtype == bool:
        numeric = numeric.astype(int)
    bad = ~numeric.isin([0, 1]) | values.isna()
    if bad.any():
        missing = int(values.isna().sum())
        raise ValueError(
            f"{where}: {int(bad.sum())} row(s) have a label that is not exactly 0 or 1"
            f"{f' ({missing} missing)' if missing else ''}, e.g. {_examples(values[bad])}; "
            "a binary classifier needs 0/1 labels and no label is rounded or dropped"
        )
    return numeric.astype(int)


def finite_features(frame: pd.DataFrame, columns: list[str], where: str) -> pd.DataFrame:
    """``frame[columns]`` as float (missing stays NaN); a ValueError naming the first column with
    a value that is not a number, or is infinite (beyond float32's range counts)."""
    if absent := [c for c in columns if c not in frame.columns]:
        raise ValueError(f"{where} lacks the feature columns {', '.join(repr(c) for c in absent)}")
    out = {}
    for column in columns:
        values = frame[column]
        numeric = pd.to_numeric(values, errors="coerce") if values.dtype == object else values
        numeric = numeric.astype(float) if numeric.dtype == bool else numeric
        if not pd.api.types.is_numeric_dtype(numeric):
            raise ValueError(f"feature column '{column}' of {where} is not numeric ({values.dtype})")
        text = numeric.isna() & values.notna()
        if text.any():
            raise ValueError(
                f"feature column '{column}' of {where} has {int(text.sum())} value(s) that are not a number, "
                f"e.g. {_examples(values[text])}"
            )
        numeric = numeric.astype(float)
        infinite = numeric.abs() > FLOAT32_MAX
        if infinite.any():
            raise ValueError(
                f"feature column '{column}' of {where} has {int(infinite.sum())} infinite value(s) "
                f"(or beyond float32's range, which XGBoost reads as infinite), e.g. {_examples(numeric[infinite])}"
            )
        out[column] = numeric
    return pd.DataFrame(out, index=frame.index)


def files(folder: Path, pattern: str, what: str) -> list[Path]:
    """Files matching ``pattern`` under ``folder``, sorted; a FileNotFoundError naming the folder if none."""
    found = sorted(folder.rglob(pattern))
    if not found:
        raise FileNotFoundError(f"no {what} under {folder}")
    return found


def read_split(folder: Path, names: list[str] | tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, features) of a split folder: CSV without a header, the label first. Errors name the
    folder and, for a bad value, the column (by feature name when ``names`` matches the width)."""
    paths = files(folder, "*.csv", "CSV file")
    try:
        frame = pd.concat((pd.read_csv(p, header=None) for p in paths), ignore_index=True)
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"an empty CSV file under {folder}: {error}") from error
    if frame.shape[1] < 2:
        raise ValueError(f"split {folder} has {frame.shape[1]} column(s); it needs the label and the features")
    labels = binary_labels(frame.iloc[:, 0], f"label (column 0) of split {folder}")
    width = frame.shape[1] - 1
    columns = [f"column {i}" for i in range(1, width + 1)]
    if names is not None and len(names) == width:
        columns = [f"column {i} ({n})" for i, n in enumerate(names, start=1)]
    features = finite_features(frame.iloc[:, 1:].set_axis(columns, axis=1), columns, f"split {folder}")
    return labels.to_numpy(dtype=float), features.to_numpy(dtype=float)
