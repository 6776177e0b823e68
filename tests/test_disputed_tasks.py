"""A task closed by hand: recreated while findings remain (saying so), unless its owner closed it
as disputed (`sms-disputed`): then left closed and reported, until the record fails a rule it
did not list. The planning, the plan report and `tasks list`; then on each sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.base import TaskRef, says_disputed
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.store import Issue
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.writeback.owner import Fallback
from sms_conformance.writeback.plan import plan_write_back
from sms_conformance.writeback.plan_report import (
    PlanContext,
    describe_plan,
    disputed_tasks,
    plan_document,
    planned_tasks,
)
from sms_conformance.writeback.records import plan_record_tasks
from sms_conformance.writeback.task_list import live_row, render_table
from tests.test_jira_e2e import ENV, PASSWORD, change_record, is_open, record_of, run, text, write_back
from tests.test_jira_e2e import tasks as jira_tasks
from tests.test_owner_tasks import RULES, created_task, finding, live
from tests.test_writeback_e2e import parent, patch, record_task, tasks
from tests.test_writeback_plan import finding as single_finding
from tests.test_writeback_plan import task as single_task

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def closed_task(rules, config, failing, *, disputed: bool) -> TaskRef:
    """The record task a run made for `failing`, then closed by a person (disputed or not)."""
    first = plan_record_tasks([live([finding(r) for r in failing])], set(), rules, config, NOW,
                              complete=True)
    return replace(created_task(first), open=False, disputed=disputed)


def test_a_task_closed_by_hand_is_recreated_saying_the_findings_came_back(rules, config) -> None:
    closed = closed_task(rules, config, RULES[:2], disputed=False)
    plan = plan_record_tasks([live([finding(r) for r in RULES[:2]], history=[closed])], set(),
                             rules, config, NOW, complete=True)
    assert len(plan.create) == 1 and not plan.disputed
    assert "Findings came back after task ITASK0010001 was closed." in plan.create[0].draft.body


def test_a_task_closed_as_disputed_is_left_closed_and_reported(rules, config) -> None:
    closed = closed_task(rules, config, RULES[:2], disputed=True)
    for failing in (RULES[:2], RULES[:1]):  # the same rules, or fewer of them
        plan = plan_record_tasks([live([finding(r) for r in failing], history=[closed])], set(),
                                 rules, config, NOW, complete=True)
        assert (plan.create, plan.update, plan.close) == ([], [], [])
        assert [(d.task.number, d.rule_ids) for d in plan.disputed] == [
            ("ITASK0010001", tuple(failing))]


def test_a_disputed_task_is_recreated_when_a_rule_it_did_not_list_fails(rules, config) -> None:
    closed = closed_task(rules, config, RULES[:2], disputed=True)
    plan = plan_record_tasks([live([finding(r) for r in RULES], history=[closed])], set(),
                             rules, config, NOW, complete=True)
    assert len(plan.create) == 1 and not plan.disputed
    body = plan.create[0].draft.body
    assert body.startswith("Rules: " + ", ".join(RULES) + "\n")  # the record's every failure
    assert (f"Task ITASK0010001 was closed as disputed ({RULES[0]}, {RULES[1]}); this task lists "
            f"the record's findings again because it now also fails {RULES[2]}.") in body
    assert "came back" not in body
    # next run: the new task is open and in line; the dispute line is part of what it says
    again = plan_record_tasks(
        [live([finding(r) for r in RULES], open_tasks=[created_task(plan, "ITASK0010002")],
              history=[closed])], set(), rules, config, NOW, complete=True)
    assert (again.create, again.update, again.disputed) == ([], [], [])


def test_only_the_latest_closed_task_decides(rules, config) -> None:
    """A task closed (not disputed) after a disputed one: the findings came back."""
    disputed = closed_task(rules, config, RULES[:1], disputed=True)
    later = replace(disputed, id="id-ITASK0010002", number="ITASK0010002",
                    created="2026-11-22 02:00:00", disputed=False)
    plan = plan_record_tasks([live([finding(RULES[0])], history=[disputed, later])], set(),
                             rules, config, NOW, complete=True)
    assert len(plan.create) == 1 and not plan.disputed
    assert "after task ITASK0010002 was closed" in plan.create[0].draft.body


def test_a_disputed_task_whose_rules_cannot_be_read_does_not_hold(rules, config) -> None:
    """bad input: a task closed as disputed whose description a person replaced (no Rules
    line: what it disputed is unknown); outcome: a new task is created, saying the old one was
    disputed, never a record left without a task on a guess."""
    closed = replace(closed_task(rules, config, RULES[:1], disputed=True), body="not ours now")
    plan = plan_record_tasks([live([finding(RULES[0])], history=[closed])], set(), rules,
                             config, NOW, complete=True)
    assert len(plan.create) == 1 and not plan.disputed
    assert "was closed as disputed (no rule listed)" in plan.create[0].draft.body


def test_a_per_finding_task_closed_as_disputed_is_left_closed(rules, config) -> None:
    plain = single_task("f1", False, "ITASK7")
    assert len(plan_write_back([single_finding()], {"f1": [plain]}, [], rules, config, NOW,
                               complete=True).create) == 1
    disputed = replace(plain, disputed=True)
    plan = plan_write_back([single_finding()], {"f1": [disputed]}, [], rules, config, NOW,
                           complete=True)
    assert plan.create == [] and [d.task.number for d in plan.disputed] == ["ITASK7"]


def test_the_plan_reports_disputed_tasks_in_a_line_and_the_json(rules, config) -> None:
    closed = closed_task(rules, config, RULES[:2], disputed=True)
    plan = plan_record_tasks([live([finding(r) for r in RULES[:2]], history=[closed])], set(),
                             rules, config, NOW, complete=True)
    ctx = PlanContext(config, Fallback(""), wheres={"incident": "incident_task"})
    tasks = planned_tasks(plan, ctx)
    lines = describe_plan(plan, tasks, Fallback(""))
    assert lines[0].startswith("write-back plan: create 0, update 0, close 0")
    assert ("  disputed, left closed: 1 task(s) their owner closed as disputed, whose record "
            "fails no rule they did not list: ITASK0010001 (INC0012345)") in lines
    document = plan_document(plan, tasks, instance="https://x.test", as_of=NOW, dry_run=True,
                             cap=200, fallback=Fallback(""),
                             disputed=disputed_tasks(plan, ctx))
    assert document["tasks"] == [] and document["totals"]["disputed"] == 1
    (entry,) = document["disputed"]
    assert (entry["action"], entry["task_number"], entry["table"], entry["rule_ids"]) == (
        "disputed", "ITASK0010001", "incident_task", list(RULES[:2]))


def test_tasks_list_flags_a_disputed_task(rules, config) -> None:
    closed = closed_task(rules, config, RULES[:1], disputed=True)
    row = live_row(closed, None, {})
    assert row.disputed and row.as_json(NOW)["disputed"] is True
    assert row.as_json(NOW)["state"] == "closed"
    (line,) = [x for x in render_table([row], NOW, "all") if x.startswith("  ITASK")]
    assert line.endswith(f"{RULES[0]} closed disputed")
    plain = live_row(replace(closed, disputed=False), None, {})
    assert not plain.as_json(NOW)["disputed"]


def test_the_close_notes_marker_is_a_word_in_any_case() -> None:
    assert says_disputed("sms-disputed: the category is right, see CHG0030011")
    assert says_disputed("Closed. SMS-Disputed.")
    assert not says_disputed("Closed by sms-conformance on 2026-11-26: the record now conforms.")
    assert not says_disputed("not-sms-disputed") and not says_disputed("sms-disputedly")
    assert not says_disputed("")


# -- on the ServiceNow sandbox ---------------------------------------------------------------

CATEGORY, DESCRIPTION = "incident.logging.category", "incident.logging.description"


def sn_scan(box: Sandbox, history: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--full", "--write-back", "--max-new-tasks", "5000", *extra])
    return result.exit_code, result.output


@pytest.mark.parametrize("case", ["plain", "disputed", "disputed, new rule fails"])
def test_a_record_task_closed_by_hand_on_servicenow(case: str, sandbox: Sandbox,
                                                   tmp_path: Path) -> None:
    """fault: a person closed an open record task by hand while its record still fails
    (`case`: with "sms-disputed" in its close notes or without; disputed while the record
    then fails a rule the task did not list); outcome: plain, a new task for the record that
    says the findings came back after the closed one; disputed, nothing created, the task left
    closed and reported as disputed in the plan (line and JSON) and in `tasks list`; disputed
    and a new rule failing, a new task listing every failure and naming the dispute."""
    history = tmp_path / "h.sqlite"
    code, output = sn_scan(sandbox, history)
    assert code == 0, output
    made = len(tasks(sandbox))
    target = record_task(sandbox, CATEGORY)
    incident = parent(target, "incident")
    notes = "Done" if case == "plain" else "sms-disputed: the category is right for this one"
    sandbox.store.update("incident_task", target["sys_id"], {"state": "3", "close_notes": notes})
    if case == "disputed, new rule fails":
        patch(sandbox, "incident", incident, short_description="x")
    plan_path = tmp_path / "plan.json"
    code, output = sn_scan(sandbox, history, "--plan", str(plan_path))
    assert code == 0, output
    mine = [t for t in tasks(sandbox) if parent(t, "incident") == incident]
    still_closed = next(t for t in mine if t["sys_id"] == target["sys_id"])
    assert still_closed["state"] == "3"
    plan = json.loads(plan_path.read_text())
    if case == "disputed":
        assert "create 0," in output and len(tasks(sandbox)) == made
        assert (f"disputed, left closed: 1 task(s) their owner closed as disputed, whose record "
                f"fails no rule they did not list: {target['number']}") in output
        assert [(d["task_number"], d["rule_ids"]) for d in plan["disputed"]] == [
            (target["number"], [CATEGORY])]
        assert sn_scan(sandbox, history)[1].count("create 0,") == 1  # and stays so
        assert len(tasks(sandbox)) == made
        listed = CliRunner().invoke(cli, [
            "tasks", "list", "--instance", sandbox.url, "--history", str(history),
            "--state", "closed", "--format", "json"])
        assert listed.exit_code == 0, listed.output
        rows = {r["number"]: r for r in json.loads(listed.output)["tasks"]}
        assert rows[target["number"]]["disputed"] is True
        assert not [n for n, r in rows.items() if r["disputed"] and n != target["number"]]
        return
    assert len(tasks(sandbox)) == made + 1 and not plan["disputed"]
    (new,) = [t for t in mine if t["sys_id"] != target["sys_id"]]
    assert new["active"] == "true"
    if case == "plain":
        assert new["description"].startswith(f"Rules: {CATEGORY}\n")
        assert f"Findings came back after task {target['number']} was closed." in \
            new["description"]
    else:
        assert new["description"].startswith(f"Rules: {CATEGORY}, {DESCRIPTION}\n")
        assert (f"Task {target['number']} was closed as disputed ({CATEGORY}); this task lists "
                f"the record's findings again because it now also fails {DESCRIPTION}.") in \
            new["description"]


# -- on the JSM sandbox ----------------------------------------------------------------------

@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=300, seed=4, password=PASSWORD) as box:
        yield box


def close_by_hand(box: JiraSandbox, task: Issue, *, disputed: bool) -> None:
    """What the task's owner does in Jira: the Done transition, and the label to dispute it."""
    auth, api = (ENV["JIRA_EMAIL"], PASSWORD), f"{box.url}/rest/api/3/issue/{task.id}"
    moves = requests.get(f"{api}/transitions", auth=auth, timeout=30).json()["transitions"]
    done = next(m["id"] for m in moves if m["to"]["statusCategory"]["key"] == "done")
    requests.post(f"{api}/transitions", auth=auth, json={"transition": {"id": done}},
                  timeout=30).raise_for_status()
    if disputed:
        requests.put(api, auth=auth, json={"fields": {"labels": [*task.labels, "sms-disputed"]}},
                     timeout=30).raise_for_status()


@pytest.mark.parametrize("case", ["plain", "disputed", "disputed, new rule fails"])
def test_a_record_task_closed_by_hand_on_jsm(case: str, jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: a person closed an open record task by hand (the Done transition) while its
    record still fails (`case`: labelled "sms-disputed" or not; disputed while the record then
    fails a rule the task did not list); outcome: plain, a new task for the record that says
    the findings came back after the closed one; disputed, nothing created, the task left
    Done and reported as disputed in the plan (line and JSON) and in `tasks list`; disputed
    and a new rule failing, a new task listing every failure and naming the dispute."""
    history = tmp_path / "h.sqlite"
    write_back(jsm, history)
    made = len(jira_tasks(jsm))
    target = next(t for t in jira_tasks(jsm) if is_open(t)
                  and text(t).startswith(f"Rules: {CATEGORY}\n")
                  and (r := record_of(t)) is not None and r.process == "incident")
    record = record_of(target)
    assert record is not None
    close_by_hand(jsm, target, disputed=case != "plain")
    if case == "disputed, new rule fails":
        change_record(jsm, record, short_description="x")
    plan_path = tmp_path / "plan.json"
    output = write_back(jsm, history, "--plan", str(plan_path)).output
    assert target.status == "Done"
    plan = json.loads(plan_path.read_text())
    mine = [t for t in jira_tasks(jsm) if record_of(t) is record and t is not target]
    if case == "disputed":
        assert "create 0," in output and len(jira_tasks(jsm)) == made and not mine
        assert (f"disputed, left closed: 1 task(s) their owner closed as disputed, whose record "
                f"fails no rule they did not list: {target.key}") in output
        assert [(d["task_number"], d["rule_ids"]) for d in plan["disputed"]] == [
            (target.key, [CATEGORY])]
        listed = run("tasks", "list", "--source", "jira", "--site", jsm.url, "--history",
                     str(history), "--state", "closed", "--format", "json")
        assert listed.exit_code == 0, listed.output
        rows = {r["number"]: r for r in json.loads(listed.output)["tasks"]}
        assert [n for n, r in rows.items() if r["disputed"]] == [target.key]
        return
    assert len(jira_tasks(jsm)) == made + 1 and not plan["disputed"]
    (new,) = mine
    assert is_open(new)
    if case == "plain":
        assert text(new).startswith(f"Rules: {CATEGORY}\n")
        assert f"Findings came back after task {target.key} was closed." in text(new)
    else:
        assert text(new).startswith(f"Rules: {CATEGORY}, {DESCRIPTION}\n")
        assert (f"Task {target.key} was closed as disputed ({CATEGORY}); this task lists the "
                f"record's findings again because it now also fails {DESCRIPTION}.") in text(new)
