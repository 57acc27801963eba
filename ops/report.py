"""Results as a table, and AWS errors as sentences (never a traceback)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException")


@dataclass(frozen=True)
class Check:
    """One line of a report: what was checked, the verdict, what was found, what to do."""

    name: str
    status: str
    found: str
    action: str = ""


def explain(error: Exception, action: str) -> str:
    """A sentence for an AWS error raised while calling ``action`` (e.g. ``ssm:GetParameter``)."""
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in _DENIED:
            return f"could not check: {action} denied ({code}); allow it, e.g. with the ReadOnlyAccess policy"
        return f"{action} failed: {code}: {message}"
    if isinstance(error, BotoCoreError):
        return f"{action} failed: {error}"
    raise error


def print_table(checks: list[Check], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    widths = [max([len(h)] + [len(getattr(c, f)) for c in checks]) for h, f in (("check", "name"), ("", "status"))]
    out.write(f"{'check':<{widths[0]}}  {'result':<6}  found / to do\n")
    for c in checks:
        line = f"{c.name:<{widths[0]}}  {c.status:<6}  {c.found}"
        if c.action:
            line += f"\n{'':<{widths[0]}}  {'':<6}  -> {c.action}"
        out.write(line + "\n")
    counts = {s: sum(c.status == s for c in checks) for s in (PASS, WARN, FAIL)}
    out.write(f"\n{counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed\n")


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0
