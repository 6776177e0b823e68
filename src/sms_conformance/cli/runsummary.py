"""The one line a --quiet run prints, and the event a JSON log records, at the end of a scan."""

from __future__ import annotations

from typing import Any

from sms_conformance.model.counts import rule_lines
from sms_conformance.rules.model import Severity
from sms_conformance.scan.scanner import ScanOutcome
from sms_conformance.store.history import History


def failures_by_severity(history: History, scan_id: int) -> dict[str, int]:
    """Failed and errored results per severity, most severe first (only those with any)."""
    totals = dict.fromkeys(reversed([s.value for s in Severity]), 0)
    for line in rule_lines(history.counts(scan_id)):
        totals[line.severity] += line.failed + line.errors
    return {k: v for k, v in totals.items() if v}


def scan_fields(history: History, outcome: ScanOutcome, fail_on: str | None,
                code: int) -> dict[str, Any]:
    return {
        "scan_id": outcome.scan_id, "complete": outcome.complete, "records": outcome.records,
        "findings": failures_by_severity(history, outcome.scan_id), "fail_on": fail_on,
        "exit_code": code, "failed_start": outcome.failed_start,
        **({"error": outcome.error} if outcome.error else {}),
    }


def summary_line(history: History, outcome: ScanOutcome, fail_on: str | None, code: int,
                 instance: str) -> str:
    """`scan 12 of https://acme.service-now.com: 2,800 records, 231 findings (3 critical, 40
    high), 43 at or above high: exit 1`."""
    by_severity = failures_by_severity(history, outcome.scan_id)
    total = sum(by_severity.values())
    split = ", ".join(f"{n:,} {s}" for s, n in by_severity.items())
    text = (f"scan {outcome.scan_id} of {instance}: {sum(outcome.records.values()):,} records, "
            f"{total:,} findings" + (f" ({split})" if split else ""))
    if fail_on is not None:
        rank = Severity(fail_on).rank
        above = sum(n for s, n in by_severity.items() if Severity(s).rank >= rank)
        text += f", {above:,} at or above {fail_on}"
    if not outcome.complete:
        text += f", INCOMPLETE: {outcome.error or 'reason unknown'}"
    return f"{text}: exit {code}"
