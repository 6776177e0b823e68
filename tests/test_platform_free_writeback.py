"""The write-back plan knows no platform: it imports nothing of ServiceNow, names none of its
fields, and runs through any TaskPort; ServiceNow renders its drafts, attachments included."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from sms_conformance.connectors.base import TaskDraft, TaskPort, TaskRef
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.model.errors import SourceError
from sms_conformance.model.findings import record_fingerprint
from sms_conformance.model.rows import FindingRow
from sms_conformance.store.history import History
from sms_conformance.writeback.apply import apply_plan, find_fingerprints
from sms_conformance.writeback.corrective import fingerprint_of, group_failures, plan_corrective
from sms_conformance.writeback.plan import Plan, plan_write_back
from sms_conformance.writeback.records import LiveRecord, plan_record_tasks

SRC = Path(__file__).resolve().parents[1] / "src" / "sms_conformance"
PLAN_MODULES = ("writeback.plan", "writeback.records", "writeback.corrective",
                "writeback.examples", "writeback.guard", "writeback.apply", "writeback.policy")
# Field, table and query names of ServiceNow's task tables that a platform-free plan must not use
# (assignment_group is not among them: it is a canonical field too).
SERVICENOW_NAMES = ("short_description", "correlation_id", "correlation_display", "work_notes",
                    "close_notes", "due_date", "incident_task", "problem_task", "change_task",
                    "sysparm_", "_list.do", "sys_created_on")
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
INSTANCE = "https://x.test"
RULES = ("incident.logging.category", "incident.logging.description")
GRP = "b" * 32


def finding(rule_id: str, record: str = "a" * 32, number: str = "INC0012345") -> FindingRow:
    return FindingRow(
        fingerprint=f"fp-{record}-{rule_id}", rule_id=rule_id, clause="8.6.1", severity="low",
        process="incident", table="incident", record_id=record, number=number,
        url=f"{INSTANCE}/record/{record}", message=f"{number} fails {rule_id}", status="fail",
        detail="", observed={"category": ""}, owner="Service Desk", owner_id=GRP,
        first_seen="2026-11-20T02:00:00Z")


def test_the_plan_modules_import_nothing_of_servicenow() -> None:
    imports = "; ".join(f"import sms_conformance.{m}" for m in PLAN_MODULES)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys; {imports}; print(*sorted(m for m in sys.modules "
         "if m.startswith('sms_conformance.connectors.')))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["sms_conformance.connectors.base"]


def test_the_plan_modules_name_no_servicenow_field() -> None:
    for module in PLAN_MODULES:
        tree = ast.parse((SRC / f"{module.replace('.', '/')}.py").read_text())
        texts = [n.value for n in ast.walk(tree)
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        named = {name for name in SERVICENOW_NAMES for text in texts if name in text}
        assert not named, f"{module} names {named}"


def every_text(plan: Plan) -> Iterable[str]:
    for item in plan.create:
        yield from (item.draft.title, item.draft.body)
    for update in plan.update:
        yield from (update.draft.title, update.draft.body, update.note)
    yield from (c.note for c in [*plan.close, *plan.heal])


def test_drafts_and_notes_carry_no_servicenow_field(rules, config) -> None:
    records = plan_record_tasks([LiveRecord("incident", "a" * 32, "f" * 40,
                                            failures=[finding(r) for r in RULES])],
                                set(), rules, config, NOW, complete=True)
    per_finding = plan_write_back([finding(RULES[0])], {}, [], rules, config, NOW, complete=True)
    many = [(finding(RULES[0], f"{i:032x}", f"INC{i:07d}"), "2026-10") for i in range(100)]
    corrective = plan_corrective(group_failures(many), {}, {}, {}, rules, config, "servicenow",
                                 NOW, complete=True)
    texts = [t for p in (records, per_finding, corrective) for t in every_text(p)]
    assert texts and not [n for n in SERVICENOW_NAMES for t in texts if n in t]
    assert corrective.create[0].draft.attachment is not None  # no list URL from this platform


class MemoryPort:
    """A TaskPort of no platform: tasks in a dict, read back exactly as written."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRef] = {}
        self.notes: dict[str, list[str]] = {}

    def find_tasks(self, process: str, fingerprints: Iterable[str]) -> list[TaskRef]:
        wanted = set(fingerprints)
        return [t for t in self.tasks.values() if t.fingerprint in wanted]

    def open_tasks(self, process: str) -> list[TaskRef]:
        return [t for t in self.tasks.values() if t.open]

    def read_task(self, task: TaskRef) -> TaskRef | None:
        return self.tasks.get(task.id)

    def create_tasks(self, drafts: Sequence[TaskDraft]) -> list[TaskRef]:
        made = []
        for draft in drafts:
            number = f"T-{len(self.tasks) + 1}"
            made.append(TaskRef(draft.fingerprint, draft.process, number, number, True,
                                draft.parent_id, draft.title, draft.body, draft.priority,
                                f"2026-11-26 02:00:{len(self.tasks):02d}", draft.owner_id))
            self.tasks[number] = made[-1]
        return made

    def update_task(self, task: TaskRef, draft: TaskDraft, note: str) -> TaskRef:
        self.tasks[task.id] = replace(self.tasks[task.id], title=draft.title, body=draft.body,
                                      priority=draft.priority)
        self.notes.setdefault(task.id, []).append(note)
        return self.tasks[task.id]

    def rekey_task(self, task: TaskRef, fingerprint: str) -> TaskRef:
        self.tasks[task.id] = replace(self.tasks[task.id], fingerprint=fingerprint)
        return self.tasks[task.id]

    def close_task(self, task: TaskRef, note: str) -> None:
        self.tasks[task.id] = replace(self.tasks[task.id], open=False)
        self.notes.setdefault(task.id, []).append(note)

    def list_url(self, process: str, ids: Sequence[str]) -> str:
        return ""


def test_the_core_writes_back_through_a_port_of_any_platform(rules, config, tmp_path) -> None:
    memory = MemoryPort()
    port: TaskPort = memory
    history = History(tmp_path / "h.sqlite")
    fp = record_fingerprint("memory", "incident", "a" * 32)

    def run(failures: list[FindingRow], fixed: set[tuple[str, str]]) -> Plan:
        found = find_fingerprints(port, [("incident", fp)])
        record = LiveRecord("incident", "a" * 32, fp, failures=failures,
                            open_tasks=port.open_tasks("incident"), history=found.get(fp, []))
        plan = plan_record_tasks([record], fixed, rules, config, NOW, complete=True)
        apply_plan(plan, port, history, INSTANCE, NOW)
        return plan

    run([finding(r) for r in RULES], set())
    (task,) = memory.tasks.values()
    assert task.open and task.parent == "a" * 32 and task.owner == GRP
    again = run([finding(r) for r in RULES], set())
    assert not again.create and not again.update and len(memory.tasks) == 1
    run([finding(RULES[1])], {("a" * 32, RULES[0])})
    assert f"fixed: {RULES[0]}" in memory.notes[task.id][-1]
    run([], {("a" * 32, r) for r in RULES})
    assert not memory.tasks[task.id].open and "now conforms" in memory.notes[task.id][-1]
    assert [row["state"] for row in history.tasks("closed")] == ["closed"]


@pytest.mark.parametrize("records", [3, 120])
def test_servicenow_links_or_attaches_the_full_list(sandbox, fieldmap, settings, rules, config,
                                                    records) -> None:
    """A short list is an instance list URL; one too long for a URL is an attached CSV."""
    connector = sandbox_connector(sandbox.url, sandbox.password, fieldmap)
    port = connector.task_port(settings)
    box = requests.Session()
    box.auth = ("admin", sandbox.password)
    closed = [(finding(RULES[0], f"{i:032x}", f"INC{i:07d}"), "2026-10") for i in range(records)]
    plan = plan_corrective(group_failures(closed), {}, {}, {}, rules, config, "servicenow",
                           NOW, complete=True, list_url=port.list_url)
    (task,) = port.create_tasks([c.draft for c in plan.create])
    draft = plan.create[0].draft
    assert task.body == draft.body  # read back as planned: the next run changes nothing
    files = box.get(f"{sandbox.url}/api/now/attachment", timeout=30,
                    params={"sysparm_query": f"table_sys_id={task.id}"}).json()["result"]
    if draft.attachment is None:
        assert f"{sandbox.url}/incident_list.do?sysparm_query=sys_idIN" in draft.body
        assert files == []
        return
    name, content = draft.attachment
    assert [f["file_name"] for f in files] == [name] and f"attached as {name}" in draft.body
    body = box.get(f"{sandbox.url}/api/now/attachment/{files[0]['sys_id']}/file", timeout=30)
    assert body.content == content and body.text.count("\r\n") == records + 1


def test_a_failed_upload_is_completed_by_the_next_run_without_a_second_task(
        sandbox, fieldmap, settings, rules, config, tmp_path) -> None:
    """fault: the Attachment API fails after the task was created; outcome: the run ends with
    the error, the rerun attaches the list to that task and creates none"""
    connector = sandbox_connector(sandbox.url, sandbox.password, fieldmap)
    port = connector.task_port(settings)
    history = History(tmp_path / "h.sqlite")
    grouped = group_failures([(finding(RULES[0], f"{i:032x}", f"INC{i:07d}"), "2026-10")
                              for i in range(120)])
    (key,) = grouped
    fp = fingerprint_of(key, "servicenow")

    def run() -> Plan:
        existing = find_fingerprints(port, [("incident", fp)])
        plan = plan_corrective(grouped, existing, {}, {}, rules, config, "servicenow",
                               NOW, complete=True, list_url=port.list_url)
        apply_plan(plan, port, history, sandbox.url, NOW)
        return plan

    sandbox.faults = "500:1@sys_attachment"
    with pytest.raises(SourceError, match="could not be created or completed"):
        run()
    (half,) = port.find_tasks("incident", [fp])
    assert half.body.endswith("the next run attaches it]")
    sandbox.faults = None
    second = run()
    assert not second.create and len(second.update) == 1
    (task,) = port.find_tasks("incident", [fp])
    assert task.id == half.id and task.body == second.update[0].draft.body
    assert port.tables.attached(task.where, task.id) == {second.update[0].draft.attachment[0]}
    third = run()
    assert not third.create and not third.update
