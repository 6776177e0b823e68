"""GET /rest/servicedeskapi/request/{key}/sla: the "Time to resolution" SLA of an incident, in the
shape of reference §3 (times {epochMillis, friendly, iso8601, jira}, durations {millis,
friendly}); goals are the restore targets per priority the generator plants against."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sms_conformance.sandbox.jira.store import Issue, jira_time
from sms_conformance.sandbox.schema import RESTORE_TARGET_SECONDS

SLA_ID = "1"
SLA_NAME = "Time to resolution"


def _time(value: datetime, issue: Issue) -> dict[str, Any]:
    local = value.astimezone(issue.zone)
    return {"epochMillis": int(value.timestamp() * 1000),
            "friendly": local.strftime("%d/%b/%y %I:%M %p"),
            "iso8601": local.strftime("%Y-%m-%dT%H:%M:%S%z"), "jira": jira_time(value, issue.zone)}


def _duration(seconds: float) -> dict[str, Any]:
    millis = int(seconds * 1000)
    minutes = abs(int(seconds)) // 60
    sign = "-" if seconds < 0 else ""
    return {"millis": millis, "friendly": f"{sign}{minutes // 60}h {minutes % 60}m"}


def sla_values(issue: Issue, now: datetime | None = None) -> list[dict[str, Any]]:
    """The SLAs of one issue: incidents with a priority have Time to resolution."""
    record = issue.record
    if record is None or record.process != "incident":
        return []
    priority = record.values.get("priority")
    goal = RESTORE_TARGET_SECONDS.get(str(priority))
    if goal is None:
        return []
    start = record.opened_at
    breach = start + timedelta(seconds=goal)
    resolved = record.values.get("resolved_at")
    sla: dict[str, Any] = {"id": SLA_ID, "name": SLA_NAME, "_links": {}, "completedCycles": [],
                           "slaDisplayFormat": "NEW_SLA_FORMAT"}
    if isinstance(resolved, datetime):
        elapsed = (resolved - start).total_seconds()
        sla["completedCycles"].append({
            "startTime": _time(start, issue), "stopTime": _time(resolved, issue),
            "breachTime": _time(breach, issue), "breached": resolved > breach,
            "goalDuration": _duration(goal), "elapsedTime": _duration(elapsed),
            "remainingTime": _duration(goal - elapsed)})
    else:
        current = now or datetime.now(timezone.utc)
        elapsed = (current - start).total_seconds()
        sla["ongoingCycle"] = {
            "startTime": _time(start, issue), "breachTime": _time(breach, issue),
            "breached": current > breach, "paused": record.values.get("state") == "on_hold",
            "withinCalendarHours": True, "goalDuration": _duration(goal),
            "elapsedTime": _duration(elapsed), "remainingTime": _duration(goal - elapsed)}
    return [sla]


def sla_page(issue: Issue, base: str, start: int, limit: int) -> dict[str, Any]:
    values = sla_values(issue)
    for sla in values:
        sla["_links"] = {"self": f"{base}/rest/servicedeskapi/request/{issue.id}/sla/{SLA_ID}"}
    page = values[start:start + limit]
    return {"size": len(page), "start": start, "limit": limit,
            "isLastPage": start + len(page) >= len(values), "values": page,
            "_links": {"base": base, "context": "", "self":
                       f"{base}/rest/servicedeskapi/request/{issue.id}/sla"}}
