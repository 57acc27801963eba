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


def _json_rows(text: str, width: int) -> list[str]:
    """JSON request bodies -> CSV rows: a list of numbers, a list of lists, or {"instances": [...]}
    where an instance is a list or {"features": [...]}."""
    body = json.loads(text)
    if isinstance(body, dict):
        body = body.get("instances", body.get("features"))
    if not isinstance(body, list) or not body:
        raise ValueError("JSON input is not a list of rows")
    if not isinstance(body[0], (list, dict)):
        body = [body]
    rows = []
    for row in body:
        values = row.get("features") if isinstance(row, dict) else row
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("JSON row has the wrong number of values")
        rows.append(",".join("" if v is None else str(v) for v in values))
    return rows


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
    rows: list[str] = []
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    scores: list[float] = []
    ids: list[str] = []
    records = 0
    separators = width - 1
    for path in files:
        with path.open("rb") as handle:
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
                    text = _text(source)
                    if _is_json(source):
                        lines = _json_rows(text, width)
                    else:
                        lines = text.strip().split("\n")
                        if any(row.count(",") != separators for row in lines):
                            raise ValueError
                except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                    malformed[f"input is not {width} values per row"] += 1
                    continue
                try:
                    text = _text(output)
                    predicted = _json_scores(text) if _is_json(output) else _csv_scores(text)
                except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                    malformed["output is not scores"] += 1
                    continue
                if len(predicted) != len(lines):
                    malformed["output and input row counts differ"] += 1
                    continue
                rows.extend(lines)
                if len(rows) >= BLOCK_ROWS:
                    blocks.append(_parse_rows(rows, width))
                    rows = []
                scores.extend(predicted)
                ids.extend(
                    [inference_id] * len(lines)
                    if len(lines) == 1
                    else [f"{inference_id}#{i}" for i in range(len(lines))]
                )
    blocks.append(_parse_rows(rows, width))
    features = np.concatenate([b[0] for b in blocks])
    non_numeric = np.sum([b[1] for b in blocks], axis=0)
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
