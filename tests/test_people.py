"""Who a Jira task goes to, as planned (writeback/people.py): the record's group or assignee in the
configured order, the fallback person, and a task a person holds kept theirs."""

from __future__ import annotations

from datetime import datetime, timezone

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.records import Ref
from sms_conformance.model.rows import TaskSubject
from sms_conformance.writeback.owner import Fallback
from sms_conformance.writeback.people import People, assign_people
from sms_conformance.writeback.plan import Create, Plan, Update
from tests.conftest import make_record

GROUP, PERSON, OTHER = "a" * 32, "b" * 32, "c" * 32
SUBJECT = TaskSubject("record", "", "r", "8.6.1", "INC0000001")


def draft(parent: str, owner: str = "") -> TaskDraft:
    return TaskDraft("f" * 40, "incident", "record", "t", "b", 3,
                     datetime(2026, 11, 1, tzinfo=timezone.utc), owner_id=owner, parent_id=parent)


def noted(first: str, holds_groups: bool = True) -> People:
    people = People(first, holds_groups)
    people.note(make_record("incident", record_id="with-group", assignment_group=Ref("group", GROUP),
                            assignee=Ref("user", PERSON, "Ann Lee")))
    people.note(make_record("incident", record_id="no-group",
                            assignee=Ref("user", OTHER, "Bo Chen")))
    return people


def owners(plan: Plan) -> list[tuple[str, str]]:
    return [(c.draft.owner_id, c.draft.owner_kind) for c in plan.create]


def test_the_group_first_and_the_assignee_where_there_is_none() -> None:
    plan = Plan(create=[Create(draft("with-group", GROUP), SUBJECT),
                        Create(draft("no-group", "fallback-group"), SUBJECT)])
    assign_people(plan, noted("group"), Fallback(""))
    assert owners(plan) == [(GROUP, "group"), (OTHER, "person")]


def test_owner_first_assignee_and_no_group_field() -> None:
    for people in (noted("assignee"), noted("group", holds_groups=False)):
        plan = Plan(create=[Create(draft("with-group", GROUP), SUBJECT)])
        assign_people(plan, people, Fallback(""))
        assert owners(plan) == [(PERSON, "person")]


def test_a_fallback_person_takes_what_has_no_owner_and_no_group_is_counted_owned() -> None:
    fallback = Fallback("x", "d" * 32, "Dee", kind="person")
    plan = Plan(create=[Create(draft(""), SUBJECT), Create(draft("unread", GROUP), SUBJECT)])
    assign_people(plan, noted("group", holds_groups=False), fallback)
    assert owners(plan) == [("d" * 32, "person"), ("d" * 32, "person")]


def test_a_task_a_person_holds_is_not_handed_to_a_group() -> None:
    """fault: an incremental run did not read the record of a task its assignee holds, and
    plans an update with the fallback group; outcome: the update keeps the person"""
    task = TaskRef("f" * 40, "ITSM", "20001", "ITSM-1", True, owner=PERSON, owner_kind="person")
    plan = Plan(update=[Update(task, SUBJECT, draft("unread", GROUP))])
    assign_people(plan, People("group"), Fallback(""))
    assert (plan.update[0].draft.owner_id, plan.update[0].draft.owner_kind) == (PERSON, "person")
