"""Invoke the endpoint: send feature rows, optionally force a variant, read the scores.

    python -m pipelines.serving.client --endpoint mlops-dev-... --csv data/pipeline/preprocess/test/test.csv \\
        --has-label --rows 5 [--variant challenger]

Rows are the model's features in ``pipelines.training.features.FEATURES`` order
(CSV, no header; the active data-set spec's features). The response names the variant that
answered; ``positive`` says which scores reach the threshold (label 1).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from pipelines.training.features import FEATURES


def to_csv(rows: list[list[float]]) -> str:
    for row in rows:
        if len(row) != len(FEATURES):
            raise ValueError(
                f"a row has {len(row)} values; the model takes {len(FEATURES)} ({', '.join(FEATURES[:3])}, ...)"
            )
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


def invoke(runtime, endpoint: str, rows: list[list[float]], variant: str | None = None, threshold: float = 0.5) -> dict:
    """Scores and labels for ``rows``; ``variant`` pins the request to one production variant."""
    kwargs = {"EndpointName": endpoint, "ContentType": "text/csv", "Accept": "text/csv", "Body": to_csv(rows)}
    if variant:
        kwargs["TargetVariant"] = variant
    response = runtime.invoke_endpoint(**kwargs)
    text = response["Body"].read().decode()
    scores = [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]
    if len(scores) != len(rows):
        raise ValueError(f"expected {len(rows)} scores, got {len(scores)}: {text[:200]}")
    return {
        "variant": response.get("InvokedProductionVariant"),
        "scores": scores,
        "positive": [score >= threshold for score in scores],
    }


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--csv", type=Path, required=True, help="feature rows, no header")
    parser.add_argument("--has-label", action="store_true", help="the first column is the label: drop it")
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--variant", choices=["champion", "challenger"])
    args = parser.parse_args(argv)
    with args.csv.open() as handle:
        rows = [[float(v) for v in line[1 if args.has_label else 0 :]] for line in csv.reader(handle)][: args.rows]
    print(json.dumps(invoke(boto3.client("sagemaker-runtime"), args.endpoint, rows, args.variant), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
