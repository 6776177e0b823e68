"""The SLAs of an incident (Time to resolution, Time to first response): the values of its JSM
SLA fields and GET /rest/servicedeskapi/request/{key}/sla, in the shape of reference §3 (times
{epochMillis, friendly, iso8601, jira}, durations {millis, friendly}), rendered from the logical
data set's SLA records, so both sandboxes carry the same SLAs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sms_conformance.sandbox.jira.store import Issue, jira_time
from sms_conformance.sandbox.logical import LogicalSla

# The JSM SLA fields an incident carries, by the target of the logical SLA each renders.
SLA_FIELDS = {"resolution": "Time to resolution", "response": "Time to first response"}
SLA_IDS = {"resolution": "1", "response": "2"}


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


def sla_values(issue: Issue) -> list[dict[str, Any]]:
    """The SLAs of one issue, rendered from its logical SLA records (the ServiceNow sandbox's
    task_sla rows): a completed one as a completed cycle, a running one as the ongoing cycle
    (paused or not), a cancelled one not at all (no cycle: JSM shows no SLA)."""
    record = issue.record
    if record is None:
        return []
    return [value for sla in record.slas if (value := _value(issue, sla)) is not None]


def sla_value(issue: Issue, name: str) -> dict[str, Any] | None:
    """The value of the SLA field `name` on an issue (None: it has no such SLA)."""
    return next((v for v in sla_values(issue) if v["name"] == name), None)


def _value(issue: Issue, sla: LogicalSla) -> dict[str, Any] | None:
    if sla.stage == "cancelled" or sla.target not in SLA_FIELDS:
        return None
    breach = sla.start + timedelta(seconds=sla.goal_seconds)
    value: dict[str, Any] = {"id": SLA_IDS[sla.target], "name": SLA_FIELDS[sla.target],
                             "_links": {}, "completedCycles": [],
                             "slaDisplayFormat": "NEW_SLA_FORMAT"}
    cycle = {"startTime": _time(sla.start, issue), "breachTime": _time(breach, issue),
             "breached": sla.breached, "goalDuration": _duration(sla.goal_seconds),
             "elapsedTime": _duration(sla.elapsed_seconds),
             "remainingTime": _duration(sla.goal_seconds - sla.elapsed_seconds)}
    if sla.stop is not None:
        value["completedCycles"].append({**cycle, "stopTime": _time(sla.stop, issue)})
    else:
        value["ongoingCycle"] = {**cycle, "paused": sla.stage == "paused",
                                 "withinCalendarHours": True}
    return value


def sla_page(issue: Issue, base: str, start: int, limit: int) -> dict[str, Any]:
    values = sla_values(issue)
    for sla in values:
        sla["_links"] = {"self": f"{base}/rest/servicedeskapi/request/{issue.id}/sla/{sla['id']}"}
    page = values[start:start + limit]
    return {"size": len(page), "start": start, "limit": limit,
            "isLastPage": start + len(page) >= len(values), "values": page,
            "_links": {"base": base, "context": "", "self":
                       f"{base}/rest/servicedeskapi/request/{issue.id}/sla"}}
