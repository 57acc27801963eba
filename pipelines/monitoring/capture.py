"""Read SageMaker data-capture and ground-truth files (JSON lines) into arrays.

Capture record (one per invocation; one file holds many, one per line)::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1.0,2.0,...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.42", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "2026-01-01T00:00:00Z"},
     "eventVersion": "0"}

``encoding`` is CSV, JSON or BASE64 (the raw body, base64-encoded). Files live under
``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/``. Ground truth (Model Monitor's format)::

    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<inferenceId>"},
     "eventVersion": "0"}

under ``<ground-truth prefix>/yyyy/mm/dd/hh/``. A line that cannot be read is
counted with its reason and skipped; it never stops the job.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

BLOCK_ROWS = 100_000  # rows parsed at a time: bounds the memory the text takes


@dataclass
class Capture:
    """The rows of one variant's window: features (NaN where missing or not a number), scores, ids."""

    features: np.ndarray
    scores: np.ndarray
    inference_ids: list[str]
    records: int = 0
    non_numeric: np.ndarray | None = None  # per column: values present but not numbers
    malformed: Counter = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return len(self.scores)


def hour_folders(root: Path, start: datetime, end: datetime) -> list[Path]:
    """The ``yyyy/mm/dd/hh`` folders under ``root`` for every hour in [start, end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    folders = []
    while hour < end:
        folder = root / f"{hour:%Y/%m/%d/%H}"
        if folder.is_dir():
            folders.append(folder)
        hour += timedelta(hours=1)
    return folders


def window_files(root: Path, start: datetime, end: datetime) -> list[Path]:
    return [f for folder in hour_folders(root, start, end) for f in sorted(folder.iterdir()) if f.is_file()]


def _text(part: dict) -> str:
    data, encoding = part["data"], str(part.get("encoding", "CSV")).upper()
    if not isinstance(data, str):
        raise ValueError("data is not a string")
    if encoding == "BASE64":
        return base64.b64decode(data, validate=True).decode("utf-8")
    if encoding in ("CSV", "JSON"):
        return data
    raise ValueError(f"unknown encoding {encoding}")


def _is_json(part: dict) -> bool:
    kind = str(part.get("observedContentType", "")).lower()
    return str(part.get("encoding", "")).upper() == "JSON" or "json" in kind


def _json_rows(text: str, width: int) -> list[list]:
    """JSON request bodies -> rows of values: a list of numbers, a list of lists, or {"instances": [...]}
    where an instance is a list or {"features": [...]}."""
    body = json.loads(text)
    if isinstance(body, dict):
        body = body.get("instances", body.get("features"))
    if not isinstance(body, list) or not body:
        raise ValueError("JSON input is not a list of rows")
    if not isinstance(body[0], (list, dict)):
        body = [body]
    rows = [row.get("features") if isinstance(row, dict) else row for row in body]
    if any(not isinstance(values, list) or len(values) != width for values in rows):
        raise ValueError("JSON row has the wrong number of values")
    return rows


def _json_matrix(rows: list[list], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of JSON values -> floats (NaN where null or not a number) and the non-numbers per column."""
    non_numeric = np.zeros(width, dtype=int)
    if not rows:
        return np.empty((0, width)), non_numeric
    try:
        return np.asarray(rows, dtype=float), non_numeric
    except (TypeError, ValueError):
        matrix = np.full((len(rows), width), np.nan)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value is None:
                    continue
                try:
                    matrix[i, j] = float(value)
                except (TypeError, ValueError):
                    non_numeric[j] += 1
        return matrix, non_numeric


def _json_scores(text: str) -> list[float]:
    body = json.loads(text)
    if isinstance(body, dict):
        body = body.get("predictions", body.get("scores", body.get("score")))
    if not isinstance(body, list):
        body = [body]
    return [float(v["score"] if isinstance(v, dict) else v) for v in body]


def _csv_scores(text: str) -> list[float]:
    return [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]


def read_capture(files: Iterable[Path], width: int) -> Capture:
    """Every capture record of ``files``: ``width`` features per row, one score per row."""
    malformed: Counter = Counter()
    csv_rows: list[str] = []
    csv_at: list[int] = []  # where each CSV row goes in the window's row order
    csv_blocks: list[tuple[np.ndarray, np.ndarray]] = []
    json_rows: list[list] = []
    json_at: list[int] = []
    scores: list[float] = []
    ids: list[str] = []
    records = 0
    separators = width - 1
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                    capture = record["captureData"]
                    source, output = capture["endpointInput"], capture["endpointOutput"]
                    meta = record["eventMetadata"]
                    inference_id = meta.get("inferenceId") or meta["eventId"]
                except (ValueError, KeyError, TypeError):
                    malformed["not a capture record"] += 1
                    continue
                try:
                    if source.get("encoding") == "CSV" and isinstance(source.get("data"), str):
                        text, as_json = source["data"], False  # the common case, without the general path
                    else:
                        text, as_json = _text(source), _is_json(source)
                    if as_json:
                        values = _json_rows(text, width)
                    else:
                        values = text.strip().split("\n")
                        if any(row.count(",") != separators for row in values):
                            raise ValueError
                except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
                    malformed[f"input is not {width} values per row"] += 1
                    continue
                try:
                    text = _text(output)
                    predicted = _json_scores(text) if _is_json(output) else _csv_scores(text)
                except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
                    malformed["output is not scores"] += 1
                    continue
                if len(predicted) != len(values):
                    malformed["output and input row counts differ"] += 1
                    continue
                first = len(scores)
                if as_json:
                    json_rows.extend(values)
                    json_at.extend(range(first, first + len(values)))
                else:
                    csv_rows.extend(values)
                    csv_at.extend(range(first, first + len(values)))
                    if len(csv_rows) >= BLOCK_ROWS:
                        csv_blocks.append(_parse_rows(csv_rows, width))
                        csv_rows = []
                scores.extend(predicted)
                if len(values) == 1:
                    ids.append(inference_id)
                else:
                    ids.extend(f"{inference_id}#{i}" for i in range(len(values)))
    csv_blocks.append(_parse_rows(csv_rows, width))
    json_matrix, json_non_numeric = _json_matrix(json_rows, width)
    features = np.empty((len(scores), width))
    features[np.asarray(csv_at, dtype=int)] = np.concatenate([b[0] for b in csv_blocks])
    features[np.asarray(json_at, dtype=int)] = json_matrix
    non_numeric = np.sum([b[1] for b in csv_blocks], axis=0) + json_non_numeric
    return Capture(features, np.asarray(scores, dtype=float), ids, records, non_numeric, malformed)


def _parse_rows(rows: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of CSV -> a float matrix (NaN where empty or not a number) and, per column, how many
    values were present but not numbers. Parses as float first; only a block with text in it
    takes the slower path."""
    if not rows:
        return np.empty((0, width)), np.zeros(width, dtype=int)
    options = {"header": None, "names": range(width), "engine": "c", "skip_blank_lines": False}
    text = io.StringIO("\n".join(rows))
    try:
        return pd.read_csv(text, dtype=float, **options).to_numpy(), np.zeros(width, dtype=int)
    except ValueError:
        text.seek(0)
    frame = pd.read_csv(text, dtype=str, keep_default_na=False, na_values=[""], **options)
    matrix = np.empty((len(frame), width))
    non_numeric = np.zeros(width, dtype=int)
    for i in range(width):
        column = frame[i]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        non_numeric[i] = int((np.isnan(values) & column.notna().to_numpy()).sum())
        matrix[:, i] = values
    return matrix, non_numeric


def read_ground_truth(files: Iterable[Path]) -> tuple[dict[str, float], Counter]:
    """{inference id: label} from Model Monitor ground-truth records, and the malformed lines by reason.

    A record whose data holds several labels (a batch request) maps ``id#0``, ``id#1``... like the capture."""
    labels: dict[str, float] = {}
    malformed: Counter = Counter()
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    event_id = record["eventMetadata"]["eventId"]
                    part = record["groundTruthData"]
                    text = _text(part)
                    values = _json_scores(text) if _is_json(part) else _csv_scores(text)
                    if not values or any(v not in (0.0, 1.0) for v in values):
                        raise ValueError
                except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                    malformed["not a ground-truth record with 0/1 labels"] += 1
                    continue
                if len(values) == 1:
                    labels[event_id] = values[0]
                else:
                    labels.update({f"{event_id}#{i}": v for i, v in enumerate(values)})
    return labels, malformed
