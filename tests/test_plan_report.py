"""Write-back people can steer: the plan counted by kind, table, rule and owner, tasks without
an owner counted by process, the cap warned about, the fallback owner."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from sms_conformance.app.settings import _merge
from sms_conformance.model.findings import record_fingerprint
from sms_conformance.model.rows import FindingRow
from sms_conformance.writeback.owner import Fallback, resolve_fallback, with_fallback
from sms_conformance.writeback.plan import WriteBackSettings
from sms_conformance.writeback.plan_report import (
    PlanContext,
    cap_warning,
    describe_plan,
    plan_document,
    planned_tasks,
)
from sms_conformance.writeback.records import LiveRecord, plan_record_tasks

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
DESK, NET, FALLBACK = "b" * 32, "c" * 32, "d" * 32
GROUPS = {DESK: "Service Desk", NET: "Network Operations"}


def finding(n: int, rule_id: str, group: str, process: str = "incident") -> FindingRow:
    sys_id = f"{n:032x}"
    table = {"incident": "incident", "problem": "problem"}[process]
    return FindingRow(
        fingerprint=f"{n}-{rule_id}", rule_id=rule_id, clause="8.6.1", severity="low",
        process=process, table=table, record_id=sys_id, number=f"REC{n:05d}", url="u",
        message="m", status="fail", detail="", observed={}, owner=GROUPS.get(group, ""),
        owner_id=group, first_seen="2026-10-21T02:00:00Z")


FINDINGS = [
    [finding(1, "incident.logging.category", DESK), finding(1, "incident.logging.priority", DESK)],
    [finding(2, "incident.logging.category", DESK)],
    [finding(3, "incident.logging.category", NET)],
    [finding(4, "incident.logging.category", "")],
    [finding(5, "incident.logging.priority", "")],
    [finding(6, "problem.rca.root_cause", "", "problem")],
]


WHERES = {"incident": "incident_task", "problem": "problem_task", "change": "change_task"}


def plan_of(rules: Any, config: WriteBackSettings) -> Any:
    records = [LiveRecord(fs[0].process, fs[0].record_id, record_fingerprint(
        "servicenow", fs[0].process, fs[0].record_id), failures=fs)
        for fs in FINDINGS]
    return plan_record_tasks(records, set(), rules, config, NOW, complete=True)


def steer(rules: Any, config: WriteBackSettings, fallback: Fallback) -> tuple[Any, list[Any]]:
    config = with_fallback(config, fallback)
    plan = plan_of(rules, config)
    return plan, planned_tasks(plan, PlanContext(config, fallback, GROUPS, wheres=WHERES))


def test_the_dry_run_counts_every_task_by_destination_rule_and_owner(rules, config) -> None:
    plan, tasks = steer(rules, config, Fallback(""))
    text = "\n".join(describe_plan(plan, tasks, Fallback("")))
    assert "write-back plan: create 6," in text
    assert "  new by destination: incident_task 5, problem_task 1" in text
    assert "    incident.logging.category: 4\n" in text and "    incident.logging.priority: 2\n" in text
    assert "    Service Desk: 2 record tasks" in text and "    Network Operations: 1 record task" in text
    assert "    (unassigned): 3 record tasks" in text
    assert "create incident_task" not in text  # counted, not sampled


def test_tasks_without_an_owner_are_counted_by_process(rules, config) -> None:
    plan, tasks = steer(rules, config, Fallback(""))
    text = "\n".join(describe_plan(plan, tasks, Fallback("")))
    assert ("new without an owner: 3 (incident 2, problem 1); tasks without an owner are "
            "unassigned (write_back.fallback_owner is not set)") in text


def test_a_fallback_owner_takes_the_tasks_that_had_none(rules, config) -> None:
    fallback = resolve_fallback("service desk", GROUPS)  # a name, matched without case
    assert fallback.group_id == DESK
    plan, tasks = steer(rules, config, fallback)
    assert all(c.draft.owner_id for c in plan.create)
    owners = [t.owner for t in tasks]
    assert owners.count("Service Desk") == 5 and "(unassigned)" not in owners
    text = "\n".join(describe_plan(plan, tasks, fallback))
    assert "new without an owner: 0; tasks without an owner are assigned to the fallback owner " \
           "Service Desk" in text
    by_id = resolve_fallback(FALLBACK, GROUPS)  # a sys_id no scanned record has: used as it is
    plan, tasks = steer(rules, config, by_id)
    assert [c.draft.owner_id for c in plan.create].count(FALLBACK) == 3


def test_a_process_owner_group_still_comes_before_the_fallback(rules, settings) -> None:
    config = WriteBackSettings.from_settings(
        _merge(settings, {"write_back": {"owner_groups": {"problem": NET}}}))
    plan, _ = steer(rules, config, Fallback(FALLBACK, FALLBACK))
    groups = {c.subject.label: c.draft.owner_id for c in plan.create}
    assert groups["REC00006"] == NET and groups["REC00004"] == FALLBACK


def test_a_fallback_name_that_matches_no_group_leaves_tasks_unassigned_and_says_so() -> None:
    for groups in ({}, {DESK: "Ops", NET: "ops"}):
        fallback = resolve_fallback("Ops", groups) if groups else resolve_fallback("Nobody", groups)
        assert fallback.group_id == "" and "stay unassigned" in fallback.notice
    assert resolve_fallback("", GROUPS) == Fallback("")


def test_the_cap_warning_says_the_numbers_and_how_to_raise_it() -> None:
    warning = cap_warning(1096, 200)
    assert "would create 1096 new tasks, more than the cap of 200" in warning
    assert "--max-new-tasks 1096" in warning and "write_back.max_new_tasks: 1096" in warning
    assert cap_warning(200, 200) == ""


def test_the_plan_document_holds_every_task_with_owner_rules_and_records(rules, config) -> None:
    plan, tasks = steer(rules, config, Fallback(""))
    doc = plan_document(plan, tasks, instance="https://x.test", as_of=NOW, dry_run=True, cap=2,
                        fallback=Fallback(""))
    assert doc["totals"]["create"] == len(doc["tasks"]) == 6
    assert doc["cap"] == {"max_new_tasks": 2, "new_tasks": 6, "stops_run": True}
    assert doc["new"]["unassigned_by_process"] == {"incident": 2, "problem": 1}
    first = next(t for t in doc["tasks"] if t["records"] == ["REC00001"])
    assert first["rule_ids"] == ["incident.logging.category", "incident.logging.priority"]
    assert first["owner"] == "Service Desk" and first["owner_id"] == DESK
    assert first["action"] == "create" and first["kind"] == "record"
    assert re.fullmatch(r"[0-9a-f]{40}", first["fingerprint"])


def test_closes_and_heals_are_listed_with_their_task_owner_rules_and_record(rules, config) -> None:
    from sms_conformance.connectors.base import TaskRef

    (create, *_) = plan_of(rules, config).create
    record = create.subject.label
    sys_id = f"{int(record[3:]):032x}"
    made = [TaskRef(create.fingerprint, "incident_task", f"id-{n}", n, True, sys_id,
                    create.draft.title, create.draft.body, create.draft.priority,
                    f"2026-10-2{i} 02:00:00", create.draft.owner_id)
            for i, n in enumerate(("ITASK1", "ITASK2"))]
    live = LiveRecord("incident", sys_id, create.fingerprint, open_tasks=made)
    fixed = {(sys_id, r) for r in create.subject.rule_id.split(", ")}
    plan = plan_record_tasks([live], fixed, rules, config, NOW, complete=True)
    ctx = PlanContext(config, Fallback(""), GROUPS, {sys_id: record}, wheres=WHERES)
    tasks = {t.action: t for t in planned_tasks(plan, ctx)}
    assert set(tasks) == {"close", "heal"}
    close = tasks["close"]
    assert (close.task_number, close.kind, close.owner) == ("ITASK1", "record", "Service Desk")
    assert close.records == (record,) and close.rule_ids == tuple(create.subject.rule_id.split(", "))
    assert "now conforms" in close.note and tasks["heal"].task_number == "ITASK2"
    text = "\n".join(describe_plan(plan, list(tasks.values()), Fallback("")))
    assert "  close by owner: Service Desk 1" in text and "  heal by owner: Service Desk 1" in text
