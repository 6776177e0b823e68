"""The table format (the console one): per clause, per rule evaluated / failed / rate; then
the first findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import IO, Any

from sms_conformance.model.counts import RuleLine
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.model import ScanReport
from sms_conformance.reports.summary import CLAUSE_TITLES, by_clause
from sms_conformance.support.terminal import write_lines

CONSOLE_FINDINGS = 25


def write_table(report: ScanReport, out: IO[str]) -> None:
    lines = list(report.rules)
    total = sum(x.failed + x.errors + x.waived for x in lines)
    shown = report.findings(("fail", "error", "waived"), CONSOLE_FINDINGS, by_severity=True)
    text = [*render_summary(asdict(report.scan), lines,
                            render_severity_totals(report.severity_totals)),
            *render_unavailable([g.as_dict() for g in report.unavailable]),
            *render_findings(shown, total, CONSOLE_FINDINGS, complete=report.scan.complete)]
    # Findings were stored clean (scan._finding_row); older stores and site-given names are
    # cleaned by write_lines.
    write_lines(text, out)


def _rate(line: RuleLine) -> str:
    rate = line.failure_rate
    if not line.in_scope:
        return "no records in scope"
    if rate is None:
        return "no evidence: every result unknown"
    return f"{rate:6.1%} failed" + (f" of {line.decided} decided" if line.unknown else "")


def render_severity_totals(totals: dict[str, int]) -> list[str]:
    """Findings (failed and errors) per severity, highest first."""
    if not any(totals.values()):
        return []
    return ["", "Findings by severity: " + ", ".join(f"{n} {s}" for s, n in totals.items())]


def render_unavailable(gaps: list[dict[str, Any]]) -> list[str]:
    """Fields the rules read that the source did not provide, and the rules they blind."""
    if not gaps:
        return []
    out = ["", "Not provided by the source (results unknown, never failures):"]
    for g in gaps:
        out.append(f"  {g['process']}.{g['field']}: {g['reason']}")
        results = f"{g['records']} unknown results" if g["records"] else "no record read"
        out.append(f"    {results}; blinds {', '.join(g['rules'])}")
    return out


def render_summary(scan: dict[str, Any], lines: list[RuleLine],
                   head: list[str] | None = None) -> list[str]:
    """The scan line, its notices, `head` (the totals by severity), then each clause."""
    state = "complete" if scan["complete"] else "INCOMPLETE"
    out = [
        f"Scan {scan['id']} of {scan['instance']} ({scan['source']}), as of {scan['as_of']}: {state}",
    ]
    if scan.get("error"):
        out.append(f"  error: {scan['error']}")
    out.extend(f"  notice: {n}" for n in scan["notices"])
    out.extend(head or ())
    width = max((len(x.rule_id) for x in lines), default=10)
    for clause, group in by_clause(lines).items():
        evaluated = sum(x.evaluated for x in group)
        failed = sum(x.failed for x in group)
        out.append("")
        unknown = sum(x.unknown for x in group)
        out.append(f"Clause {clause} {CLAUSE_TITLES.get(clause, '')}".rstrip()
                   + f"  ({failed} findings in {evaluated} evaluations"
                   + (f", {unknown} unknown)" if unknown else ")"))
        out.append(f"  {'rule':<{width}}  {'severity':<8}  {'evaluated':>9}  {'failed':>7}"
                   f"  {'unknown':>7}  {'errors':>6}  {'waived':>6}  rate")
        out.extend(
            f"  {x.rule_id:<{width}}  {x.severity:<8}  {x.evaluated:>9}  {x.failed:>7}"
            f"  {x.unknown:>7}  {x.errors:>6}  {x.waived:>6}  {_rate(x)}"
            for x in group
        )
    return out


def render_findings(
    findings: Iterable[FindingRow], total: int, limit: int, complete: bool = True
) -> list[str]:
    if total == 0:
        # An incomplete scan never claims there is nothing to find.
        return ["", "No findings." if complete else "No findings in what was read before the "
                "scan stopped: it is INCOMPLETE."]
    shown = f", most severe first, {limit} shown" if total > limit else ", most severe first"
    out = ["", f"Findings ({total}{shown}):"]
    for f in findings:
        owner = f" [{f.owner}]" if f.owner else ""
        out.append(f"  {f.status.upper():<6} {f.severity:<8} {f.clause:<6} {f.number:<12} "
                   f"{f.rule_id}: {f.message}{owner}")
    if total > limit:
        out.append(f"  ... {total - limit} more: use --format json --output FILE for all of them")
    return out
