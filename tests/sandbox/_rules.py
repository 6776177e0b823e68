"""An independent, literal reading of docs/rule-ids.md, used to check the sandbox data.

Deliberately not the product's rule engine: it checks the contract table row by row so a
mismatch between the generator and the document shows up here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

Rec = dict[str, str]

MATRIX = {("1", "1"): "1", ("1", "2"): "2", ("1", "3"): "3", ("2", "1"): "2", ("2", "2"): "3",
          ("2", "3"): "4", ("3", "1"): "3", ("3", "2"): "4", ("3", "3"): "5"}
TARGET_H = {"1": 4, "2": 8, "3": 24, "4": 72, "5": 120}
VALIDATION = re.compile(
    r"(?i)\b(confirm\w*|validat\w*|verif\w*|monitoring|signed? off|sign-off)\b")
ANCHOR = datetime(2026, 11, 1)
# The shipped request_wording_pattern / incident_wording_pattern settings, and the boilerplate
# fulfilment notes the sandbox plants.
REQUEST_WORDS = re.compile(r"(?i)^(?:please |request for|request access|new (?:laptop|mobile))")
INCIDENT_WORDS = re.compile(r"(?i)\b(?:not working|stopped working|is down|fails|error)\b")
BOILERPLATE = {"Done", "Closed", "n/a"}


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Ctx:
    def __init__(self, incidents: list[Rec], problems: list[Rec], changes: list[Rec],
                 slas: list[Rec] | None = None, requests: list[Rec] | None = None,
                 cis: list[Rec] | None = None) -> None:
        self.cis = {c["sys_id"]: c for c in cis or []}
        self.requested_for = {r["sys_id"]: r["requested_for"] for r in requests or ()}
        self.slas: dict[str, list[Rec]] | None = None if slas is None else {}
        for sla in slas or ():
            if sla["stage"] != "cancelled":
                self.slas.setdefault(sla["task"], []).append(sla)  # type: ignore[union-attr]
        self.problem_ids = {p["sys_id"] for p in problems}
        self.changes = {c["sys_id"]: c for c in changes}
        self.inc_problem_refs = {i["problem_id"] for i in incidents if i["problem_id"]}
        self.inc_caused_refs = {i["caused_by"] for i in incidents if i["caused_by"]}


def ci_rules(process: str, r: Rec, ctx: Ctx, live: set[str], supported: set[str]
             ) -> list[tuple[str, bool]]:
    """The 8.2.6 rows: a CI that is missing, retired on a live record, or without support
    group on an open one."""
    ci = ctx.cis.get(r["cmdb_ci"]) if r["cmdb_ci"] else None
    retired = ci is not None and (ci["install_status"] == "7" or ci["operational_status"] == "6")
    return [
        (f"{process}.ci.exists", bool(r["cmdb_ci"]) and ci is None),
        (f"{process}.ci.not_retired", r["state"] in live and retired),
        (f"{process}.ci.support_group", r["state"] in supported and ci is not None
         and not ci["support_group"]),
    ]


def incident_rules(r: Rec, ctx: Ctx) -> list[str]:
    s = r["state"]
    live = s != "8"
    done = s in ("6", "7")
    out: list[str] = []
    checks: list[tuple[str, bool]] = [
        ("incident.logging.reporter", live and not r["caller_id"]),
        ("incident.logging.service_or_ci",
         live and not r["business_service"] and not r["cmdb_ci"]),
        ("incident.logging.description", live and len(r["short_description"].strip()) < 10),
        ("incident.logging.category", live and not r["category"]),
        ("incident.logging.priority", live and not r["priority"]),
        ("incident.logging.assignment_group",
         s in ("2", "3", "6", "7") and not r["assignment_group"]),
        ("incident.resolution.subcategory", done and not r["subcategory"]),
        ("incident.priority.matrix", live and bool(r["priority"] and r["impact"] and r["urgency"])
         and r["priority"] != MATRIX[(r["impact"], r["urgency"])]),
        ("incident.resolution.code", done and not r["close_code"]),
        ("incident.resolution.notes", done and not r["close_notes"]),
        ("incident.resolution.resolved_at", done and not r["resolved_at"]),
        ("incident.closure.closed_at", s == "7" and not r["closed_at"]),
        ("incident.resolution.timestamps_ordered", done and (
            bool(r["resolved_at"] and r["opened_at"])
            and _dt(r["resolved_at"]) < _dt(r["opened_at"])
            or bool(r["closed_at"] and r["resolved_at"])
            and _dt(r["closed_at"]) < _dt(r["resolved_at"]))),
        ("incident.closure.validated", done and bool(r["close_notes"])
         and not VALIDATION.search(r["close_notes"])),
        ("incident.restore.within_target", done and bool(r["resolved_at"] and r["opened_at"])
         and r["priority"] in TARGET_H
         and _dt(r["resolved_at"]) - _dt(r["opened_at"]) > timedelta(hours=TARGET_H[r["priority"]])),
        ("incident.major.problem_linked", done and (
            r["priority"] == "1" or r["major_incident_state"] == "accepted")
         and not r["problem_id"]),
        ("incident.vendor.reference", r["hold_reason"] == "4" and not r["u_vendor_reference"]),
        ("incident.reopen.none", bool(r["reopen_count"]) and int(r["reopen_count"]) > 0),
        ("incident.links.problem_exists",
         bool(r["problem_id"]) and r["problem_id"] not in ctx.problem_ids),
        ("incident.links.caused_by_exists",
         bool(r["caused_by"]) and r["caused_by"] not in ctx.changes),
        ("incident.links.resolved_by_problem",
         r["close_code"] == "Resolved by problem" and not r["problem_id"]),
        ("incident.links.resolved_by_change",
         r["close_code"] == "Resolved by change" and not r["rfc"]),
        ("incident.backlog.aging", s in ("1", "2", "3")
         and _dt(r["opened_at"]) < ANCHOR - timedelta(days=30)),
        *sla_checks(r, ctx),
        ("incident.classification.not_request", live
         and bool(REQUEST_WORDS.search(r["short_description"]))),
        *ci_rules("incident", r, ctx, {"1", "2", "3"}, {"1", "2", "3"}),
    ]
    for rule, failed in checks:
        if failed:
            out.append(rule)
    return out


def sla_checks(r: Rec, ctx: Ctx) -> list[tuple[str, bool]]:
    """The SLA rules, over the incident's task_sla rows (not cancelled), when they are given."""
    if ctx.slas is None:
        return []
    slas = ctx.slas.get(r["sys_id"], [])
    return [
        ("incident.sla.recorded", r["state"] != "8" and r["priority"] in TARGET_H and not slas),
        ("incident.sla.breach_reason", r["state"] in ("6", "7") and not r["problem_id"]
         and any(s["has_breached"] == "true" for s in slas)),
        ("incident.sla.pause_reason", not r["hold_reason"]
         and any(s["stage"] == "paused" for s in slas)),
    ]


def problem_rules(r: Rec, ctx: Ctx) -> list[str]:
    s, code = r["state"], r["resolution_code"]
    analysed = code not in ("duplicate", "canceled")
    rfc_change = ctx.changes.get(r["rfc"]) if r["rfc"] else None
    checks = [
        ("problem.rca.root_cause",
         s in ("104", "106", "107") and analysed and not r["cause_notes"]),
        ("problem.resolution.code", s in ("106", "107") and not code),
        ("problem.resolution.fix_notes", code == "fix_applied" and not r["fix_notes"]),
        ("problem.known_error.workaround", r["known_error"] == "true" and not r["workaround"]),
        ("problem.links.incidents",
         s != "101" and analysed and r["sys_id"] not in ctx.inc_problem_refs),
        ("problem.ownership.assignment_group", s != "101" and not r["assignment_group"]),
        ("problem.links.fix_change", code == "fix_applied" and not r["rfc"]),
        ("problem.links.fix_change_exists", bool(r["rfc"]) and rfc_change is None),
        ("problem.links.fix_change_closed", s == "107" and code == "fix_applied"
         and rfc_change is not None and rfc_change["state"] != "3"),
    ]
    return [rule for rule, failed in checks if failed]


def change_rules(r: Rec, ctx: Ctx) -> list[str]:
    s, t = r["state"], r["type"]
    risky = t in ("normal", "emergency")
    planned = s in ("-3", "-2", "-1", "0", "3")
    checks = [
        ("change.approval.before_implementation",
         risky and s in ("-1", "0", "3") and r["approval"] != "approved"),
        ("change.risk.assessed", s not in ("-5", "4") and not r["risk"]),
        ("change.plan.implementation", planned and not r["implementation_plan"]),
        ("change.plan.backout", planned and not r["backout_plan"]),
        ("change.plan.test", planned and not r["test_plan"]),
        ("change.ci.named",
         s not in ("-5", "4") and not r["cmdb_ci"] and not r["business_service"]),
        ("change.closure.code", s == "3" and not r["close_code"]),
        ("change.closure.notes", s == "3" and not r["close_notes"]),
        ("change.failed.incidents_linked",
         r["close_code"] == "unsuccessful" and r["sys_id"] not in ctx.inc_caused_refs),
        ("change.emergency.reviewed", t == "emergency" and s == "3" and not r["review_date"]),
        ("change.schedule.actuals", s == "3" and (
            not r["work_start"] or not r["work_end"]
            or _dt(r["work_end"]) < _dt(r["work_start"]))),
        *ci_rules("change", r, ctx, {"-5", "-4", "-3", "-2"}, {"-5", "-4", "-3", "-2", "-1", "0"}),
    ]
    return [rule for rule, failed in checks if failed]


def request_rules(r: Rec, ctx: Ctx) -> list[str]:
    s = r["state"]
    live, fulfilling = s not in ("4", "7"), s in ("2", "3")
    checks = [
        ("request.logging.requester", live and not ctx.requested_for.get(r["request"])),
        ("request.logging.catalog_item", live and not r["cat_item"]),
        ("request.logging.assignment_group", fulfilling and not r["assignment_group"]),
        ("request.approval.before_fulfilment",
         fulfilling and r["approval"] in ("requested", "rejected")),
        ("request.fulfilment.within_target", s == "3" and bool(r["closed_at"])
         and _dt(r["closed_at"]) > _dt(r["due_date"])),
        ("request.closure.notes", s == "3" and (
            not r["close_notes"] or r["close_notes"] in BOILERPLATE)),
        ("request.classification.not_incident", live
         and bool(INCIDENT_WORDS.search(r["short_description"]))),
        *request_sla_checks(r, ctx),
    ]
    return [rule for rule, failed in checks if failed]


def request_sla_checks(r: Rec, ctx: Ctx) -> list[tuple[str, bool]]:
    """The request SLA rules, over the item's task_sla rows (not cancelled), when given: no
    breach reason on a stock instance, a pause explained only by awaiting approval."""
    if ctx.slas is None:
        return []
    slas = ctx.slas.get(r["sys_id"], [])
    return [
        ("request.sla.recorded", r["state"] not in ("4", "7") and r["priority"] in TARGET_H
         and not slas),
        ("request.sla.breach_reason", r["state"] == "3"
         and any(s["has_breached"] == "true" for s in slas)),
        ("request.sla.pause_reason", r["state"] != "-5"
         and any(s["stage"] == "paused" for s in slas)),
    ]


RULES: dict[str, Callable[[Rec, Ctx], list[str]]] = {
    "incident": incident_rules, "problem": problem_rules, "change_request": change_rules,
    "sc_req_item": request_rules,
}


def failures(tables: dict[str, list[Rec]]) -> dict[str, list[str]]:
    """number -> sorted failing rule ids, over incident, problem, change_request and
    sc_req_item (with the sc_request rows naming who each item is for, the incidents'
    task_sla rows and the cmdb_ci rows the CI rules read, when given)."""
    ctx = Ctx(tables["incident"], tables["problem"], tables["change_request"],
              tables.get("task_sla"), tables.get("sc_request", []), tables.get("cmdb_ci", []))
    out: dict[str, list[str]] = {}
    for table, check in RULES.items():
        for rec in tables.get(table, []):
            failed = check(rec, ctx)
            if failed:
                out[rec["number"]] = sorted(failed)
    return out


def all_rule_ids(doc_text: str) -> list[str]:
    """Rule ids listed in docs/rule-ids.md."""
    return re.findall(r"^\| ((?:incident|problem|change|request)\.[a-z_.]+) \|", doc_text,
                      re.M)
