"""Run parliament on IAM documents (a JSON list on stdin); print its findings as JSON.

Runs in .venv-audit (parliament's own virtualenv), so it imports nothing of the project.
Input items: {"id": ..., "document": {...}}; output items: {"id", "issue", "title",
"severity", "detail", "location"}.
"""

import json
import sys

from parliament import analyze_policy_string, enhance_finding


def _strings(value: object) -> object:
    """Condition values as IAM reads them: strings (parliament fails on a JSON number)."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def main() -> None:
    out = []
    for item in json.load(sys.stdin):
        document = dict(item["document"])
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        document["Statement"] = [
            {**s, "Condition": _strings(s["Condition"])} if "Condition" in s else s for s in statements
        ]
        policy = analyze_policy_string(json.dumps(document))
        for f in map(enhance_finding, policy.findings):
            out.append(
                {
                    "id": item["id"],
                    "issue": f.issue,
                    "title": f.title,
                    "severity": f.severity,
                    "detail": f.detail,
                    "location": f.location,
                }
            )
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
