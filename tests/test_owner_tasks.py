"""Record tasks and corrective actions: what each run plans, and where records stand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from sms_conformance.connectors.base import TaskRef
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.findings import record_fingerprint
from sms_conformance.model.records import Record, Ref
from sms_conformance.model.rows import FindingRow
from sms_conformance.writeback.corrective import (
    MAX_LIST_URL,
    CorrectiveKey,
    corrective_key,
    fingerprint_of,
    group_failures,
    plan_corrective,
)
from sms_conformance.writeback.plan import Policy, WriteBackSettings
from sms_conformance.writeback.policy import LIVE, OLD, UNPLACED, Phases
from sms_conformance.writeback.records import LiveRecord, listed_rules, plan_record_tasks

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
REC = "a" * 32
GRP = "b" * 32
INSTANCE = "https://x.test"
RULES = ("incident.logging.category", "incident.logging.description", "incident.logging.priority")




def finding(rule_id: str, sys_id: str = REC, number: str = "INC0012345") -> FindingRow:
    return FindingRow(
        fingerprint=f"fp-{sys_id}-{rule_id}", rule_id=rule_id, clause="8.6.1", severity="low",
        process="incident", table="incident", record_id=sys_id, number=number,
        url=f"{INSTANCE}/nav_to.do?uri=incident.do?sys_id={sys_id}",
        message=f"{number} fails {rule_id}", status="fail", detail="", observed={"f": ""},
        owner="Service Desk", owner_id=GRP, first_seen="2026-11-20T02:00:00Z")


FP = record_fingerprint("servicenow", "incident", REC)


def live(failures=(), open_tasks=(), **extra) -> LiveRecord:
    return LiveRecord("incident", REC, FP, failures=failures, open_tasks=open_tasks, **extra)


def read_back(draft, number: str = "ITASK1", parent: str = REC, **changes) -> TaskRef:
    """The task a draft became, as the next run reads it back."""
    task = TaskRef(draft.fingerprint, "incident_task", f"id-{number}", number, True, parent,
                   draft.title, draft.body, draft.priority, "2026-11-20 02:00:00")
    return replace(task, **changes)


def created_task(plan, number: str = "ITASK0010001") -> TaskRef:
    """The task a run created from `plan`, as the next run reads it back."""
    (create,) = plan.create
    return read_back(create.draft, number)


def legacy_task(fp: str, number: str) -> TaskRef:
    return TaskRef(fp, "incident_task", f"id-{number}", number, True, REC)


def test_one_task_lists_every_failing_rule_with_what_was_seen_and_how_to_fix(rules, config) -> None:
    plan = plan_record_tasks([live([finding(r) for r in RULES])], set(), rules, config, NOW,
                             complete=True)
    assert len(plan.create) == 1
    draft = plan.create[0].draft
    assert draft.body.startswith("Rules: " + ", ".join(RULES) + "\n")
    assert draft.body.count("How to fix:") == 3
    assert draft.parent_id == REC and draft.fingerprint == FP and draft.kind == "record"
    assert "3 nonconformities" in draft.title
    assert plan.create[0].subject.kind == "record"


def test_findings_come_and_go_with_a_work_note_and_the_last_fix_closes(rules, config) -> None:
    first = plan_record_tasks([live([finding(r) for r in RULES])], set(), rules, config, NOW,
                              complete=True)
    task = created_task(first)
    assert listed_rules(task, rules) == RULES
    fixed = {(REC, RULES[0])}
    plan = plan_record_tasks([live([finding(r) for r in RULES[1:]], [task])], fixed, rules,
                             config, NOW, complete=True)
    assert not plan.create and not plan.close
    (update,) = plan.update
    assert f"fixed: {RULES[0]}" in update.note
    assert update.draft.body.startswith("Rules: " + ", ".join(RULES[1:]) + "\n")
    plan = plan_record_tasks([live((), [task])], {(REC, r) for r in RULES}, rules, config, NOW,
                             complete=True)
    assert [c.task for c in plan.close] == [task] and not plan.update
    assert "now conforms" in plan.close[0].note


def test_a_finding_turned_unknown_stays_listed_and_an_incomplete_scan_closes_nothing(rules, config) -> None:
    task = created_task(plan_record_tasks([live([finding(r) for r in RULES])], set(), rules,
                                          config, NOW, complete=True))
    # RULES[1] neither fails nor is known fixed (unknown, or not read): it stays on the task.
    plan = plan_record_tasks([live([finding(RULES[0])], [task])], {(REC, RULES[2])}, rules,
                             config, NOW, complete=True)
    assert plan.update[0].draft.body.startswith(f"Rules: {RULES[0]}, {RULES[1]}\n")
    assert "not evaluated by the last scan" in plan.update[0].draft.body
    plan = plan_record_tasks([live((), [task])], {(REC, r) for r in RULES}, rules, config, NOW,
                             complete=False)
    assert not plan.close and not plan.update


def test_a_rule_blinded_by_a_hidden_field_keeps_its_last_result_and_edits_nothing(rules, config) -> None:
    """fault: a read ACL hides the field one listed rule reads (its result unknown) while the
    record still fails the others; outcome: no create, update or close, the task's text keeps
    that rule's last known result."""
    blind = replace(finding(RULES[1]), severity="high", message="INC0012345 has no description")
    failures = [finding(RULES[0]), blind, finding(RULES[2])]
    task = created_task(plan_record_tasks([live(failures)], set(), rules, config, NOW,
                                          complete=True))
    later = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    plan = plan_record_tasks([live([finding(RULES[0]), finding(RULES[2])], [task])], set(), rules,
                             config, later, complete=True, blinded={RULES[1]})
    assert not plan.create and not plan.update and not plan.close and not plan.heal
    assert [t for t, _ in plan.known] == [task]
    assert "INC0012345 has no description" in task.body
    # Not blinded, merely unknown: the task says so (an update), as before.
    unknown = plan_record_tasks([live([finding(RULES[0]), finding(RULES[2])], [task])], set(),
                                rules, config, later, complete=True)
    assert "not evaluated by the last scan" in unknown.update[0].draft.body


def test_a_new_finding_is_noted_and_a_rerun_changes_nothing(rules, config) -> None:
    task = created_task(plan_record_tasks([live([finding(RULES[0])])], set(), rules, config, NOW,
                                          complete=True))
    plan = plan_record_tasks([live([finding(r) for r in RULES], [task])], set(), rules, config,
                             NOW, complete=True)
    assert "new findings: " + ", ".join(RULES[1:]) in plan.update[0].note
    again = plan_record_tasks([live([finding(RULES[0])], [task])], set(), rules, config, NOW,
                              complete=True)
    assert not again.create and not again.update and not again.close
    assert [t for t, _ in again.known] == [task]


def test_duplicates_of_a_record_task_are_healed_to_the_oldest(rules, config) -> None:
    task = created_task(plan_record_tasks([live([finding(RULES[0])])], set(), rules, config,
                                          NOW, complete=True))
    copy = replace(task, id="id-2", number="ITASK0010002", created="2026-11-21 02:00:00")
    plan = plan_record_tasks([live([finding(RULES[0])], [copy, task])], set(), rules, config,
                             NOW, complete=True)
    assert [h.task for h in plan.heal] == [copy] and not plan.create


def test_a_closed_record_closes_its_task(rules, config) -> None:
    task = created_task(plan_record_tasks([live([finding(RULES[0])])], set(), rules, config,
                                          NOW, complete=True))
    plan = plan_record_tasks([live((), [task], closed=True)], set(), rules, config, NOW,
                             complete=True)
    assert [c.task for c in plan.close] == [task]


def test_tasks_of_earlier_versions_are_replaced_once(rules, config) -> None:
    legacy = [(r, legacy_task(f"old-{r}", f"ITASK00{i}")) for i, r in enumerate(RULES[:2])]
    plan = plan_record_tasks([live([finding(RULES[0])], legacy=legacy)], set(), rules, config,
                             NOW, complete=True)
    assert len(plan.create) == 1
    # RULES[1] was on a task and is not known fixed: the new task keeps it listed.
    assert plan.create[0].draft.body.startswith(f"Rules: {RULES[0]}, {RULES[1]}\n")
    assert [(r.task.id, r.fingerprint) for r in plan.replace] == [(t.id, FP) for _, t in legacy]


def record(state: object, closed: object = None, group: str = GRP) -> Record:
    return Record("servicenow", INSTANCE, "incident", "incident", REC, "INC1", "",
                  {"state": state, "closed_at": closed, "assignment_group": Ref("group", group)})


def test_phases_follow_state_closing_date_and_lookback() -> None:
    phases = Phases({}, NOW)
    assert phases.of(record("resolved")) == LIVE
    assert phases.of(record("closed", datetime(2026, 10, 3, tzinfo=timezone.utc))) == "closed:2026-10"
    assert phases.of(record("closed", datetime(2026, 8, 3, tzinfo=timezone.utc))) == OLD  # > 90 days
    assert phases.of(record("closed")) == OLD  # no closing date: reported, not tasked
    assert phases.of(record(None)) == UNPLACED
    assert phases.cohort(record("canceled", datetime(2026, 11, 2))) == (GRP, "2026-11")
    quarter = Phases({"incident": Policy(period="quarter", lookback_days=365,
                                         closed_states=("closed",))}, NOW)
    assert quarter.of(record("closed", datetime(2026, 2, 3, tzinfo=timezone.utc))) == "closed:2026-Q1"
    assert quarter.of(record("canceled", datetime(2026, 2, 3, tzinfo=timezone.utc))) == LIVE


def test_policy_settings_are_bounded(settings) -> None:
    def with_policy(policy: dict) -> dict:
        return {**settings, "write_back": {**settings["write_back"], "policy": policy}}

    assert WriteBackSettings.from_settings(with_policy(
        {"change": {"granularity": "finding"}})).policy_of("change").granularity == "finding"
    for bad, said in (({"incident": {"granularity": "rule"}}, "granularity"),
                      ({"incident": {"lookback_days": 4000}}, "lookback_days"),
                      ({"incident": {"period": "week"}}, "period"),
                      ({"incident": {"closed_states": ["archived"]}}, "'archived' is not"),
                      ({"incident": {"cadence": "month"}}, "cadence")):
        with pytest.raises(ConfigError, match=said):
            WriteBackSettings.from_settings(with_policy(bad))


def closed_failures(count: int, period: str = "2026-10", rule: str = RULES[0]):
    return [(finding(rule, sys_id=f"{i:032x}", number=f"INC{i:07d}"), period)
            for i in range(count)]


def corrective(grouped, existing=None, watched=None, cohorts=None, complete=True, **kw):
    return plan_corrective(grouped, existing or {}, watched or {}, cohorts or {}, kw["rules"],
                           kw["config"], "servicenow", NOW, complete=complete,
                           list_url=kw.get("list_url", lambda _p, _ids: ""))


def test_one_corrective_action_per_rule_group_and_period(rules, config, sn_port) -> None:
    grouped = group_failures([*closed_failures(30), *closed_failures(4, "2026-09"),
                              *closed_failures(2, rule=RULES[1])])
    plan = corrective(grouped, cohorts={(RULES[0], GRP, "2026-10"): [120, 90]},
                      rules=rules, config=config, list_url=sn_port.list_url)
    assert len(plan.create) == 3
    keys = {c.fingerprint for c in plan.create}
    assert len(keys) == 3
    october = next(c.draft for c in plan.create if "2026-10" in c.draft.title
                   and RULES[0] in c.draft.body)
    text = october.body
    assert "30 of 120 evaluated (25%) incident records of Service Desk closed in 2026-10" in text
    assert "Examples (10 of 30, worst first: oldest first, then by number):" in text
    assert "INC0000000" in text
    assert "How to fix:" in text and "Why it matters:" in text
    assert "https://x.test/incident_list.do?sysparm_query=sys_idIN" + f"{0:032x}" in text
    assert october.attachment is None
    assert october.owner_id == GRP and october.parent_id == ""  # a group's records, not one
    fields = sn_port.render(october)
    assert fields["assignment_group"] == GRP and "incident" not in fields


def test_a_later_passing_period_closes_it_and_a_closed_one_is_never_reopened(rules, config) -> None:
    grouped = group_failures(closed_failures(3))
    (create,) = corrective(grouped, rules=rules, config=config).create
    task = read_back(create.draft, parent="")
    key = corrective_key(task, "servicenow", "incident")
    assert key == CorrectiveKey("incident", RULES[0], GRP, "2026-10")
    watched = {task.fingerprint: (key, [task])}
    still = corrective(grouped, {task.fingerprint: [task]}, watched,
                       {(RULES[0], GRP, "2026-11"): [5, 4]}, rules=rules, config=config)
    assert not still.close and not still.create
    passing = {(RULES[0], GRP, "2026-11"): [5, 5]}
    plan = corrective({}, {}, watched, passing, rules=rules, config=config)
    assert [c.task for c in plan.close] == [task]
    assert not corrective({}, {}, watched, passing, complete=False, rules=rules, config=config).close
    closed = replace(task, open=False)
    again = corrective(grouped, {task.fingerprint: [closed]}, rules=rules, config=config)
    assert not again.create and not again.update


def test_an_edited_key_line_is_not_trusted(rules, config) -> None:
    (create,) = corrective(group_failures(closed_failures(1)), rules=rules, config=config).create
    forged = create.draft.body.replace("2026-10", "2026-11", 1)
    task = read_back(create.draft, parent="", body=forged)
    assert corrective_key(task, "servicenow", "incident") is None


def test_a_list_too_long_for_a_url_is_attached_as_csv(rules, config, sn_port) -> None:
    grouped = group_failures(closed_failures(200))
    (create,) = corrective(grouped, rules=rules, config=config, list_url=sn_port.list_url).create
    assert len(sn_port.list_url("incident", [f"{i:032x}" for i in range(200)])) > MAX_LIST_URL
    name, content = create.draft.attachment
    assert f"Full list: attached as {name} (200 records)" in create.draft.body
    assert name == f"{RULES[0]}_{GRP}_2026-10_200-records.csv"
    rows = content.decode().splitlines()
    assert rows[0] == "number,id,link,finding,observed" and len(rows) == 201
    assert rows[1].startswith(f"INC0000000,{0:032x},{INSTANCE}/nav_to.do")
    key = CorrectiveKey("incident", RULES[0], GRP, "2026-10")
    assert fingerprint_of(key, "servicenow") != fingerprint_of(
        CorrectiveKey("incident", RULES[0], GRP, "2026-11"), "servicenow")


def test_examples_are_the_worst_first_and_say_how_they_are_ranked(rules, config) -> None:
    """Highest priority first, then the longest overdue, then the oldest; not by number."""
    def late(i: int, priority: str, opened: str, resolved: str) -> tuple[FindingRow, str]:
        found = finding(RULES[0], sys_id=f"{i:032x}", number=f"INC{i:07d}")
        return replace(found, observed={"opened_at": opened, "priority": priority,
                                        "resolved_at": resolved}), "2026-10"

    failures = [late(1, "4", "2026-10-01 00:00:00", "2026-10-30 00:00:00"),  # P4, 29 days
                late(2, "1", "2026-10-01 00:00:00", "2026-10-02 00:00:00"),  # P1, 1 day
                late(3, "1", "2026-10-01 00:00:00", "2026-10-09 00:00:00"),  # P1, 8 days
                late(4, "1", "2026-09-01 00:00:00", "2026-09-09 00:00:00")]  # P1, 8 days, older
    (create,) = corrective(group_failures(failures), rules=rules, config=config).create
    body = create.draft.body
    assert ("Examples (4 of 4, worst first: highest priority first, then longest between the "
            "dates observed first (the most overdue), then oldest first, then by number):") in body
    listed = [line.split(":")[0].strip() for line in body.splitlines()
              if line.startswith("  INC")]
    assert listed == ["INC0000004", "INC0000003", "INC0000002", "INC0000001"]


def test_a_store_written_before_task_kinds_opens_and_lists_its_tasks(tmp_path) -> None:
    import sqlite3

    from sms_conformance.cli.tasks import render_tasks
    from sms_conformance.store.history import SCHEMA, History

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace("  kind TEXT NOT NULL DEFAULT 'finding',\n", ""))
        db.execute("INSERT INTO tasks (fingerprint, tbl, task_id, number, state, owner, rule_id, "
                   "clause, record_number, instance, created_at, updated_at) VALUES "
                   "('f', 'incident_task', 'x', 'ITASK1', 'open', 'Service Desk', 'r', '8.6.1', "
                   "'INC1', 'i', '2026-11-20T02:00:00Z', '2026-11-20T02:00:00Z')")
    assert "kind" not in {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(tasks)")}
    history = History(path)
    lines = render_tasks(history, NOW)
    assert lines[0].startswith("1 open remediation task (1 finding task), by owner; age: days")
    assert lines[2].split() == ["task", "age", "clause", "record", "rules"]
    assert "Service Desk (1: 1 finding task)" in lines[3]


def test_an_incomplete_scan_leaves_tasks_of_earlier_versions_in_place(rules, config) -> None:
    legacy = [(RULES[0], legacy_task("old", "ITASK00"))]
    plan = plan_record_tasks([live([finding(RULES[0])], legacy=legacy)], set(), rules, config,
                             NOW, complete=False)
    assert not plan.create and not plan.replace and not plan.close


def test_a_group_that_is_not_an_id_counts_as_unassigned() -> None:
    hostile = replace(finding(RULES[0]), owner_id="javascript:gs.getUserID()")
    (key,) = group_failures([(hostile, "2026-10")])
    assert key.group == ""


def test_a_rule_not_loaded_stays_listed_and_a_renamed_one_goes_by_its_new_id(rules, config) -> None:
    task = created_task(plan_record_tasks([live([finding(r) for r in RULES[:2]])], set(), rules,
                                          config, NOW, complete=True))
    # RULES[1] not loaded (--only, disabled_rules): not evaluated, so not known fixed.
    loaded = {k: v for k, v in rules.items() if k != RULES[1]}
    plan = plan_record_tasks([live((), [task])], {(REC, RULES[0])}, loaded, config, NOW,
                             complete=True)
    assert not plan.close
    # RULES[0] renamed, its old id an alias: the record conforming to it closes the task.
    renamed = replace(rules[RULES[0]], id="incident.logging.category_set", aliases=(RULES[0],))
    loaded = {**{k: v for k, v in rules.items() if k not in RULES[:2]}, renamed.id: renamed,
              RULES[1]: rules[RULES[1]]}
    plan = plan_record_tasks([live((), [task])], {(REC, renamed.id), (REC, RULES[1])}, loaded,
                             config, NOW, complete=True)
    assert [c.task for c in plan.close] == [task]
    assert listed_rules(task, loaded) == (renamed.id, RULES[1])
