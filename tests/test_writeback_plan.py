"""Write-back planning: create once, update what changed, close what conforms, never on a partial scan."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sms_conformance.connectors.base import NotRead, TaskDraft, TaskRef
from sms_conformance.model.rows import FindingRow
from sms_conformance.writeback.apply import TooManyNewTasks, check_cap, recheck_unseen
from sms_conformance.writeback.plan import WriteBackSettings, plan_write_back, task_draft

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
REC = "a" * 32  # sys_ids: 32 hexadecimal characters
GRP = "b" * 32
OWNERS = "c" * 32




def finding(fp: str = "f1", owner_id: str = GRP, number: str = "INC0012345", sys_id: str = REC,
            observed: dict[str, str] | None = None) -> FindingRow:
    return FindingRow(
        fingerprint=fp, rule_id="incident.closure.validated", clause="8.6.1", severity="high",
        process="incident", table="incident", record_id=sys_id, number=number,
        url=f"https://x.test/nav_to.do?uri=incident.do?sys_id={sys_id}",
        message=f"{number} was resolved without evidence that restoration was validated",
        status="fail", detail="", observed=observed or {"resolution_notes": "fixed"},
        owner="Service Desk",
        owner_id=owner_id, first_seen="2026-11-20T02:00:00Z",
    )


def task(fp: str, open_: bool, number: str, draft: TaskDraft | None = None,
         created: str = "2026-11-20 02:00:00", title: str = "", body: str = "",
         priority: int = 0) -> TaskRef:
    """A task as read back: what `draft` wrote, or the given title, body and priority."""
    if draft is not None:
        title, body, priority = draft.title, draft.body, draft.priority
    return TaskRef(fp, "incident_task", f"id-{number}", number, open_, REC, title, body,
                   priority, created)


def test_task_content_names_clause_record_rule_and_fix(rules, config) -> None:
    draft = task_draft(finding(), rules["incident.closure.validated"], config, NOW)
    assert draft.title.startswith("[ISO 20000-1 8.6.1] INC0012345: ")
    assert "resolution_notes: fixed" in draft.body
    assert "How to fix:" in draft.body
    assert "nav_to.do" in draft.body
    assert draft.owner_id == GRP and draft.parent_id == REC
    assert draft.priority == 2  # high
    assert draft.due == datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # high: 5 days
    assert (draft.fingerprint, draft.process, draft.kind) == ("f1", "incident", "finding")


def test_servicenow_renders_a_draft_as_a_task_row(rules, config, sn_port) -> None:
    draft = task_draft(finding(), rules["incident.closure.validated"], config, NOW)
    fields = sn_port.render(draft)
    assert sn_port.where("incident") == "incident_task"
    assert fields["short_description"] == draft.title and fields["description"] == draft.body
    assert fields["assignment_group"] == GRP
    assert fields["priority"] == "2"
    assert fields["due_date"] == "2026-12-01 02:00:00"
    assert fields["correlation_id"] == "f1"
    assert fields["correlation_display"] == "sms-conformance"
    assert fields["incident"] == REC


def test_record_without_group_goes_to_process_owner_group(rules, settings) -> None:
    custom = {"write_back": dict(settings["write_back"], owner_groups={"incident": OWNERS})}
    config = WriteBackSettings.from_settings(custom)
    draft = task_draft(finding(owner_id=""), rules["incident.closure.validated"], config, NOW)
    assert draft.owner_id == OWNERS


def test_new_finding_is_created_existing_unchanged_is_left_alone(rules, config) -> None:
    first = plan_write_back([finding()], {}, [], rules, config, NOW, complete=True)
    assert len(first.create) == 1 and not first.update
    same = first.create[0].draft
    second = plan_write_back(
        [finding()], {"f1": [task("f1", True, "ITASK1", same)]}, [], rules, config, NOW, complete=True
    )
    assert (second.create, second.update, second.close) == ([], [], [])


def test_changed_finding_updates_its_open_task(rules, config) -> None:
    stale = task("f1", True, "ITASK1", title="old", body="old", priority=2)
    plan = plan_write_back([finding()], {"f1": [stale]}, [], rules, config, NOW, complete=True)
    assert [u.changed() for u in plan.update] == [["title", "body"]]


def test_finding_back_after_close_gets_new_task_referencing_old(rules, config) -> None:
    closed = task("f1", False, "ITASK7")
    plan = plan_write_back([finding()], {"f1": [closed]}, [], rules, config, NOW, complete=True)
    assert len(plan.create) == 1
    assert "after task ITASK7 was closed" in plan.create[0].draft.body


def test_conforming_task_closes_only_on_complete_scan(rules, config) -> None:
    open_task = task("f2", True, "ITASK2")
    done = plan_write_back([], {}, [open_task], rules, config, NOW, complete=True)
    assert [c.task.number for c in done.close] == ["ITASK2"]
    assert "now conforms" in done.close[0].note
    partial = plan_write_back([], {}, [open_task], rules, config, NOW, complete=False)
    assert partial.close == [] and "incomplete" in partial.notices[0]


def test_cap_aborts_before_writing(rules, config) -> None:
    many = [finding(fp=f"f{i}", number=f"INC{i}") for i in range(3)]
    plan = plan_write_back(many, {}, [], rules, config, NOW, complete=True)
    check_cap(plan, 3)
    with pytest.raises(TooManyNewTasks, match="stopped at the cap: 3 to create, cap 2; nothing written"):
        check_cap(plan, 2)


def test_duplicates_keep_the_oldest_open_task_and_heal_the_rest(rules, config) -> None:
    """fault: three open tasks for one finding; outcome: oldest kept, the others closed naming it"""
    newer = task("f1", True, "ITASK0010009", created="2026-11-20 02:00:05")
    same_second = task("f1", True, "ITASK0010010", created="2026-11-20 02:00:01")
    oldest = task("f1", True, "ITASK0010002", created="2026-11-20 02:00:01")
    plan = plan_write_back([finding()], {"f1": [newer, same_second, oldest]}, [], rules, config,
                           NOW, complete=True)
    assert not plan.create
    assert [u.task.number for u in plan.update] == ["ITASK0010002"]
    assert sorted(h.task.number for h in plan.heal) == ["ITASK0010009", "ITASK0010010"]
    assert all("duplicate of ITASK0010002" in h.note for h in plan.heal)


def test_duplicates_of_a_conforming_finding_all_close(rules, config) -> None:
    """fault: duplicate tasks of a now conforming record; outcome: both close, none stays open"""
    first = task("f2", True, "ITASK0010001", created="2026-11-20 02:00:00")
    second = task("f2", True, "ITASK0010005", created="2026-11-20 02:00:00")
    plan = plan_write_back([], {}, [first, second], rules, config, NOW, complete=True,
                           watched=[first, second])
    assert [c.task.number for c in plan.close] == ["ITASK0010001"]
    assert [h.task.number for h in plan.heal] == ["ITASK0010005"]


def test_incomplete_scan_still_heals_duplicates(rules, config) -> None:
    """fault: duplicates seen by an incomplete scan; outcome: the duplicate closes, nothing else"""
    first = task("f3", True, "ITASK0010001")
    second = task("f3", True, "ITASK0010002")
    plan = plan_write_back([], {}, [], rules, config, NOW, complete=False, watched=[second, first])
    assert [h.task.number for h in plan.heal] == ["ITASK0010002"] and not plan.close


def test_script_values_never_reach_reference_fields(rules, config) -> None:
    """fault: `javascript:...^OR...` as record references; outcome: not copied, the task says so"""
    hostile = "javascript:gs.getUserID()^ORsys_idISNOTEMPTY"
    draft = task_draft(finding(owner_id=hostile, sys_id=hostile),
                       rules["incident.closure.validated"], config, NOW)
    assert draft.parent_id == "" and draft.owner_id == ""
    assert hostile not in draft.title + draft.body
    assert "left unlinked from it" in draft.body
    assert "assignment group is not a valid reference" in draft.body


def test_servicenow_writes_only_sys_ids_to_reference_fields(rules, config, sn_port) -> None:
    """fault: ids that are safe but not sys_ids; outcome: ServiceNow's reference fields stay empty"""
    draft = task_draft(finding(owner_id="group-7", sys_id="10042"),
                       rules["incident.closure.validated"], config, NOW)
    assert (draft.parent_id, draft.owner_id) == ("10042", "group-7")  # a Jira id would do
    fields = sn_port.render(draft)
    assert "incident" not in fields and "assignment_group" not in fields


def test_huge_html_value_is_capped_and_escaped(rules, config) -> None:
    """fault: a 100 kB HTML value; outcome: 500 chars of it, HTML-escaped, description <= 4000"""
    html = "<img src=x onerror=alert(1)><b>bold</b> & more " * 2200  # over 100 kB
    draft = task_draft(finding(observed={"resolution_notes": html}),
                       rules["incident.closure.validated"], config, NOW)
    description = draft.body
    assert len(html) > 100_000 and len(description) <= 4000
    assert "<" not in description and ">" not in description
    assert "&lt;img src=x onerror=alert(1)&gt;" in description
    assert f"[{len(html) - 500} more characters cut]" in description
    assert "How to fix:" in description  # the rest of the task survives the cut


class _NoAccess:
    """A connector whose look-ups meet a table it may not read (HTTP 403)."""

    def resolve(self, refs: object) -> dict[object, object]:
        raise NotRead("change_request", "HTTP 403: no read access")


def test_recheck_of_an_unreadable_table_closes_nothing_and_says_so(rules) -> None:
    """fault: re-reading records that left every rule's filter meets a table the user may not
    read (403); outcome: no task closes, a notice names the table, no traceback"""
    rule = next(r for r in rules.values() if r.process.value == "change")
    conforming, notices = recheck_unseen(
        _NoAccess(), [(REC, rule.id)], rules,  # type: ignore[arg-type]
        datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert conforming == set()
    assert len(notices) == 1 and "change_request: HTTP 403" in notices[0]
    assert "stay open" in notices[0]
