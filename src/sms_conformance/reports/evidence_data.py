"""What the evidence pack shows, read from the history store for one scan.

Reads through the History API only (scan, counts, findings, unavailable, metrics, tasks), so
that the report model (reports/model.py, `load_report`) can replace the scan part later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatch
from typing import Any

from sms_conformance.engine.waivers import Waiver
from sms_conformance.model.counts import RuleLine, rule_lines
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.corrective_status import TaskStatus, task_status
from sms_conformance.reports.trend import Series, TrendQuery, trend
from sms_conformance.store.history import History, instance_key, parse_iso

FINDINGS_PER_RULE = 25
LISTED = ("fail", "error", "waived")  # unknown results are counted, not listed


@dataclass(frozen=True)
class Evidence:
    scan: Mapping[str, Any]
    clause: str | None  # the one clause asked for, or None for all
    lines: list[RuleLine]
    findings: dict[str, list[FindingRow]]  # per rule, the first `cap` listed ones
    cap: int
    unavailable: list[dict[str, Any]]
    metrics: dict[str, dict[str, Any]]  # per process read
    # (as of, metrics) of the complete full scans in the window up to this one, oldest first
    metric_history: list[tuple[str, dict[str, dict[str, Any]]]]
    trends: list[Series]  # per clause shown
    since: datetime | None
    tasks: TaskStatus
    waivers: Sequence[Waiver]
    generated_at: datetime

    def listed(self, line: RuleLine) -> int:
        """How many of the rule's results are findings (failed, errors, waived)."""
        return line.failed + line.errors + line.waived


def load_evidence(history: History, scan: Mapping[str, Any], *, clause: str | None,
                  waivers: Sequence[Waiver], due_days: Mapping[str, int], since: datetime | None,
                  now: datetime, cap: int = FINDINGS_PER_RULE) -> Evidence:
    scan_id = int(scan["id"])
    every = rule_lines(history.counts(scan_id))
    lines = [x for x in every if clause in (None, x.clause)]
    wanted = {x.rule_id for x in lines}
    processes = {x.process for x in lines}
    findings: dict[str, list[FindingRow]] = {}
    for row in history.findings(scan_id, statuses=LISTED):  # ordered by clause, rule, number
        if row.rule_id in wanted:
            shown = findings.setdefault(row.rule_id, [])
            if len(shown) < cap:
                shown.append(row)
    severities = {x.rule_id: x.severity for x in every}
    return Evidence(
        scan=scan, clause=clause, lines=lines, findings=findings, cap=cap,
        unavailable=[g for g in history.unavailable(scan_id) if g["process"] in processes],
        metrics={p: m for p, m in history.metrics(scan_id).items() if p in processes},
        metric_history=[(s["as_of"], history.metrics(s["id"])) for s in history.scans(since)
                        if instance_key(s) == instance_key(scan) and s["id"] <= scan_id
                        and s["complete"] and not s["incremental"]],
        trends=trend(history, TrendQuery(since=since, clause=clause, instance=instance_key(scan),
                                         until=scan_id))[1],
        since=since,
        tasks=task_status(history, instance_key(scan), _tasks_at(history, scan, now), severities,
                          due_days),
        waivers=[w for w in waivers if _concerns(w, wanted)],
        generated_at=now,
    )


def _tasks_at(history: History, scan: Mapping[str, Any], now: datetime) -> datetime:
    """The moment the task status is taken at: the start of the next scan of the same instance
    (write-back of this scan done, the next one not begun), or now for the latest scan."""
    later = [s for s in history.scans()
             if s["id"] > scan["id"] and instance_key(s) == instance_key(scan)]
    return parse_iso(later[0]["started_at"]) if later else now


def _concerns(waiver: Waiver, rule_ids: set[str]) -> bool:
    return any(fnmatch(rule_id, waiver.rule) for rule_id in rule_ids)
