"""Process metrics of a stored scan as console lines (the evidence pack shows them as HTML)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sms_conformance.reports.corrective_status import TaskStatus
from sms_conformance.scan.metrics import age_text


def share_text(part: int | None, whole: int | None) -> str:
    """`12.5% (1 of 8)`, or "no evidence" when there is no denominator."""
    if part is None or not whole:
        return "no evidence"
    return f"{100 * part / whole:.1f}% ({part:,} of {whole:,})"


def gaps_text(data: Mapping[str, Any]) -> str:
    """What a metric could not place: unknown and empty records."""
    return f"{data.get('unknown', 0):,} unknown, {data.get('missing', 0):,} empty"


def _ages(data: Mapping[str, Any]) -> str:
    ages = data["age_seconds"]
    return (f"{ages['count']:,} open, median {age_text(ages['median'])}, "
            f"p90 {age_text(ages['p90'])}")


def sla_lines(levels: Mapping[str, Any], most: int = 5) -> list[str]:
    """The SLA breach rate (8.3.3) with its denominator, and its worst service x priority."""
    rate = levels["breach_rate"]
    lines = sorted(levels["by_service_priority"], key=lambda x: (-x["rate"], -x["with_sla"]))
    worst = ", ".join(f"{x['service']} P{x['priority']} {share_text(x['breached'], x['with_sla'])}"
                      for x in lines[:most] if x["breached"])
    return [f"  SLA breach rate: {share_text(rate['breached'], rate['with_sla'])} of incidents "
            f"with an SLA record ({levels['without_sla']:,} without one); {gaps_text(levels)}"
            + (f"; highest: {worst}" if worst else "")]


def render_metrics(metrics: Mapping[str, Mapping[str, Any]], tasks: TaskStatus) -> list[str]:
    out = []
    for process, m in sorted(metrics.items()):
        out.append(f"{process}: {m['records']:,} records read ({m['population']})")
        if process == "incident":
            for priority, line in m["time_to_restore"].items():
                ttr = line["time_to_restore_seconds"]
                out.append(
                    f"  time to restore P{priority}: median {age_text(ttr['median'])}, p90 "
                    f"{age_text(ttr['p90'])}, within {age_text(line['target_seconds'])}: "
                    f"{share_text(line['within_target'], ttr['count'])}; {gaps_text(line)}")
            reopen, backlog = m["reopen"], m["backlog"]
            out.append(f"  reopen rate: {share_text(reopen['reopened'], reopen['base'])}; "
                       f"{gaps_text(reopen)}")
            out.append(f"  backlog: {_ages(backlog)}, {backlog['over_limit']:,} older than "
                       f"{age_text(backlog['limit_seconds'])}; {gaps_text(backlog)}")
            services = m["volume_by_service"]["services"]
            top = ", ".join(f"{s['service']} {s['count']:,}" for s in services[:5])
            out.append(f"  volume by service: {len(services):,} services; top: {top}")
            if "service_levels" in m:
                out.extend(sla_lines(m["service_levels"]))
        elif process == "problem":
            known = m["known_errors"]
            out.append(f"  open problems: {_ages(m['open_age'])}; {gaps_text(m['open_age'])}")
            out.append(f"  known errors without workaround: "
                       f"{share_text(known['without_workaround'], known['count'])}; {gaps_text(known)}")
        elif process == "change":
            success, emergency = m["success"], m["emergency"]
            out.append(f"  success rate: {share_text(success['successful'], success['closed_with_code'])}"
                       f" of closed changes with a close code; {gaps_text(success)}")
            out.append(f"  emergency share: {share_text(emergency['emergency'], emergency['typed'])}; "
                       f"{gaps_text(emergency)}")
    total = tasks.total
    out.append(f"corrective actions at {tasks.at:%Y-%m-%d %H:%M} UTC: {total.open:,} open "
               f"({total.overdue:,} overdue), {total.closed:,} closed, {len(tasks.owners)} owners")
    return out
