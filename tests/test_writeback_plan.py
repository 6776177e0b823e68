"""Write-back planning: create once, update what changed, close what conforms, never on a partial scan."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sms_conformance.connectors.base import TaskRef
from sms_conformance.history import FindingRow
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.writeback import TooManyNewTasks, check_cap
from sms_conformance.writeback_plan import WriteBackSettings, plan_write_back, task_fields

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def rules(fieldmap, settings):
    return {r.id: r for r in load_rules([builtin_pack_dir()], fieldmap, settings)}


@pytest.fixture(scope="module")
def config(settings) -> WriteBackSettings:
    return WriteBackSettings.from_settings(settings)


def finding(fp: str = "f1", owner_id: str = "grp1", number: str = "INC0012345") -> FindingRow:
    return FindingRow(
        fingerprint=fp, rule_id="incident.closure.validated", clause="8.6.1", severity="high",
        process="incident", table="incident", sys_id="rec1", number=number,
        url="https://x.test/nav_to.do?uri=incident.do?sys_id=rec1",
        message=f"{number} was resolved without evidence that restoration was validated",
        status="fail", detail="", observed={"resolution_notes": "fixed"}, owner="Service Desk",
        owner_id=owner_id, first_seen="2026-11-20T02:00:00Z",
    )


def task(fp: str, open_: bool, number: str, fields: dict[str, str] | None = None) -> TaskRef:
    return TaskRef(fp, "incident_task", f"id-{number}", number, open_, "rec1", fields or {})


def test_task_content_names_clause_record_rule_and_fix(rules, config) -> None:
    fields = task_fields(finding(), rules["incident.closure.validated"], config, NOW)
    assert fields["short_description"].startswith("[ISO 20000-1 8.6.1] INC0012345: ")
    assert "resolution_notes: fixed" in fields["description"]
    assert "How to fix:" in fields["description"]
    assert "nav_to.do" in fields["description"]
    assert fields["assignment_group"] == "grp1"
    assert fields["priority"] == "2"  # high
    assert fields["due_date"] == "2026-12-01 02:00:00"  # high: 5 days
    assert fields["correlation_id"] == "f1"
    assert fields["correlation_display"] == "sms-conformance"
    assert fields["incident"] == "rec1"


def test_record_without_group_goes_to_process_owner_group(rules, settings) -> None:
    custom = dict(settings["write_back"], owner_groups={"incident": "owners"})
    config = WriteBackSettings.model_validate(custom)
    fields = task_fields(finding(owner_id=""), rules["incident.closure.validated"], config, NOW)
    assert fields["assignment_group"] == "owners"


def test_new_finding_is_created_existing_unchanged_is_left_alone(rules, config) -> None:
    first = plan_write_back([finding()], {}, [], rules, config, NOW, complete=True)
    assert len(first.create) == 1 and not first.update
    same = dict(first.create[0].fields)
    second = plan_write_back(
        [finding()], {"f1": [task("f1", True, "ITASK1", same)]}, [], rules, config, NOW, complete=True
    )
    assert (second.create, second.update, second.close) == ([], [], [])


def test_changed_finding_updates_its_open_task(rules, config) -> None:
    stale = task("f1", True, "ITASK1", {"short_description": "old", "description": "old",
                                        "priority": "2", "assignment_group": "grp1"})
    plan = plan_write_back([finding()], {"f1": [stale]}, [], rules, config, NOW, complete=True)
    assert [sorted(u.fields) for u in plan.update] == [["description", "short_description"]]


def test_finding_back_after_close_gets_new_task_referencing_old(rules, config) -> None:
    closed = task("f1", False, "ITASK7")
    plan = plan_write_back([finding()], {"f1": [closed]}, [], rules, config, NOW, complete=True)
    assert len(plan.create) == 1
    assert "after task ITASK7 was closed" in plan.create[0].fields["description"]


def test_conforming_task_closes_only_on_complete_scan(rules, config) -> None:
    open_task = task("f2", True, "ITASK2")
    done = plan_write_back([], {}, [open_task], rules, config, NOW, complete=True)
    assert [c.task.number for c in done.close] == ["ITASK2"]
    assert done.close[0].fields["state"] == "3"
    assert "now conforms" in done.close[0].fields["work_notes"]
    partial = plan_write_back([], {}, [open_task], rules, config, NOW, complete=False)
    assert partial.close == [] and "incomplete" in partial.notices[0]


def test_cap_aborts_before_writing(rules, config) -> None:
    many = [finding(fp=f"f{i}", number=f"INC{i}") for i in range(3)]
    plan = plan_write_back(many, {}, [], rules, config, NOW, complete=True)
    check_cap(plan, 3)
    with pytest.raises(TooManyNewTasks, match="create 3 new tasks, more than the cap of 2"):
        check_cap(plan, 2)
